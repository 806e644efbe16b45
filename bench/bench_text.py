"""Analysing large text against one plain read of it: a 20 MiB log, a 200 MiB log, 500 small files.

    python bench/bench_text.py [--repeat 5] [--skip-200]

Each bundle is a real scenario (``tests/scenarios/crashloop-init-keyerror``) whose container log
is replaced by access-log and scoring-log lines, with the real crash at the end; the third holds
500 pasted texts of 2 to 6 KB (get_logs() excerpts, a few with a traceback). "Analysis" is
``evidence.load`` and ``analyze`` in this process, the rules loaded once before. The baselines, in
the same run: reading the same files' bytes (``read``), and reading and decoding them as UTF-8
(``read+decode``, what any analysis of text must do at least). Prints min/median/max of each and
the ratio of the medians (CPU time), then the peak RSS of one ``aml-doctor analyze`` of each bundle in a
child process. Targets (issue 12): at most 5 times one plain read; memory bounded as before.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aml_doctor.engine.plugins import load_plugins
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.evidence import redact, store as evidence
from spread import ms

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "scenarios" / "crashloop-init-keyerror"


def _filler_block(rnd: random.Random) -> bytes:
    lines = []
    for i in range(2000):
        t = f"2020-09-17 15:{i // 60 % 60:02d}:{i % 60:02d},{rnd.randrange(1000):03d}"
        lines.append(f'127.0.0.1 - - [17/Sep/2020:15:{i // 60 % 60:02d}:{i % 60:02d} +0000] "POST /score HTTP/1.0" '
                     f'200 {rnd.randrange(20, 900)} "-" "python-requests/2.24.0"\n')
        lines.append(f"{t} | root | INFO | 200\n")
        lines.append(f"{t} | root | INFO | Scoring request {rnd.getrandbits(64):016x} took {rnd.randrange(3, 90)} ms\n")
    return "".join(lines).encode()


def big_log_bundle(target: Path, mib: int) -> list[Path]:
    shutil.copytree(SCENARIO, target)
    log = next((target / "logs").glob("*/recsys-ranker.log"))
    crash = log.read_bytes()
    block = _filler_block(random.Random(1))
    with open(log, "wb") as f:
        for _ in range(mib * 2**20 // len(block)):
            f.write(block)
        f.write(crash)
    return [log]


def small_files_bundle(target: Path, count: int = 500) -> list[Path]:
    shutil.copytree(SCENARIO, target)
    rnd = random.Random(2)
    crash = next((SCENARIO / "logs").glob("*/recsys-ranker.log")).read_text()
    block = _filler_block(rnd).decode()
    (target / "text").mkdir()
    files = []
    for i in range(count):
        start = rnd.randrange(0, len(block) - 8000)
        body = block[start:start + rnd.randrange(2000, 6000)]
        body = body[body.index("\n") + 1:]
        if i % 50 == 0:
            body += crash
        path = target / "text" / f"pasted-{i:03d}.txt"
        path.write_text(body)
        files.append(path)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["collected"].append("text")
    (target / "manifest.json").write_text(json.dumps(manifest))
    return files


def _time(fn, repeat: int) -> list[float]:
    """CPU time of this process (all its threads): on a machine shared with other work, wall
    time swings more than the ratios being measured."""
    out = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        out.append(time.process_time() - start)
    return out


def _peak_rss_mib(bundle: Path) -> float:
    """The child's own VmHWM: its ru_maxrss would carry this large process's peak across exec."""
    code = ("import sys\nfrom aml_doctor.cli.main import main\n"
            "try:\n    main(['analyze', sys.argv[1], '-f', 'json', '--output-file', sys.argv[2]])\n"
            "except SystemExit:\n    pass\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code, str(bundle), str(Path(tmp) / "r.json")],
                             capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    try:
        return int(out.stdout.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-200", action="store_true", help="leave out the 200 MiB log")
    args = parser.parse_args()
    rules = load_plugins().rules
    signals = signals_for(rules)
    cases = [("20 MiB log", lambda d: big_log_bundle(d, 20), args.repeat)]
    if not args.skip_200:
        cases.append(("200 MiB log", lambda d: big_log_bundle(d, 200), max(1, args.repeat // 2)))
    cases.append(("500 small text files", small_files_bundle, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, repeat in cases:
            bundle = Path(tmp) / label.replace(" ", "-")
            files = make(bundle)
            size = sum(f.stat().st_size for f in files)

            def read() -> None:
                for f in files:
                    with open(f, "rb") as fh:
                        fh.read()

            def read_decode() -> None:
                for f in files:
                    with open(f, "rb") as fh:
                        fh.read().decode("utf-8", "replace")

            def analysis() -> None:
                redact.reset()  # a fresh run: new salt, nothing remembered from the run before
                analyze(evidence.load(str(bundle), signals), rules)

            analysis()  # warm: the rules' patterns compiled, the literal automaton built
            plain, decoded, analysed = [], [], []
            for _ in range(repeat):  # interleaved, so that load on the machine hits all three alike
                plain += _time(read, 1)
                decoded += _time(read_decode, 1)
                analysed += _time(analysis, 1)
            med = statistics.median(analysed)
            print(f"{label} ({size / 2**20:.1f} MiB of text, {len(files)} file(s)), {repeat} runs")
            print(f"  read          {ms(plain, 8)}")
            print(f"  read+decode   {ms(decoded, 8)}")
            print(f"  analysis      {ms(analysed, 8)}")
            print(f"  ratio (medians): {med / statistics.median(decoded):.1f}x read+decode, "
                  f"{med / statistics.median(plain):.1f}x read   (target: <= 5x)")
            print(f"  peak RSS of one aml-doctor analyze: {_peak_rss_mib(bundle):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
