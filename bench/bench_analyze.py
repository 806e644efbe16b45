"""Analysis time per scenario bundle, and the CLI's cold start, each against a baseline measured
in the same run.

    python bench/bench_analyze.py [--repeat 5]

Per scenario: ``evidence.load`` + ``analyze`` in this process (rules loaded once), against
reading the scenario's files (their bytes, decoded as UTF-8); the table gives each scenario's
median and ratio, then min/median/max over all scenarios. Cold start: ``aml-doctor --help`` and
``analyze`` of the example bundle in a fresh interpreter, against ``python -c pass``, min/median/
max of ``--repeat`` runs of each, interleaved. Analysis times are CPU time
(``time.process_time``), steadier than wall time on a shared machine; cold starts are wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from aml_doctor.engine.plugins import load_plugins
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.evidence import redact, store as evidence
from spread import ms

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
EXAMPLE = ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz"


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _wall(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    rules = load_plugins().rules
    signals = signals_for(rules)
    print(f"plugin load: {1000 * (time.perf_counter() - start):.1f} ms for {len(rules)} rules")

    medians, ratios = [], []
    for path in sorted(p for p in SCENARIOS.iterdir() if (p / "manifest.json").is_file()):
        files = [f for f in path.rglob("*") if f.is_file()]

        def read() -> None:
            for f in files:
                f.read_bytes().decode("utf-8", "replace")

        def analysis() -> None:
            redact.reset()
            analyze(evidence.load(str(path), signals), rules)

        analysis()  # warm
        took = [_cpu(analysis) for _ in range(args.repeat)]
        base = [_cpu(read) for _ in range(args.repeat)]
        med = statistics.median(took)
        ratio = med / max(statistics.median(base), 1e-6)
        medians.append(med)
        ratios.append(ratio)
        print(f"{path.name:<48} {med * 1000:7.1f} ms  {ratio:6.0f}x reading its files")
    print(f"scenarios: {len(medians)}  analysis {ms(medians, 8)}")
    print(f"           ratio to reading the files: min {min(ratios):.0f}x  median {statistics.median(ratios):.0f}x  "
          f"max {max(ratios):.0f}x")

    env = {**os.environ, "NO_COLOR": "1"}
    runs: dict[str, list[float]] = {"python -c pass": [], "aml-doctor --help": [], "aml-doctor analyze <example>": []}
    for _ in range(args.repeat):  # interleaved, so that load on the machine hits all three alike
        runs["python -c pass"].append(_wall([sys.executable, "-c", "pass"], env))
        runs["aml-doctor --help"].append(_wall([sys.executable, "-m", "aml_doctor", "--help"], env))
        runs["aml-doctor analyze <example>"].append(_wall([sys.executable, "-m", "aml_doctor", "analyze", str(EXAMPLE)], env))
    base = statistics.median(runs["python -c pass"])
    for label, xs in runs.items():
        print(f"cold start, {label:<30} {ms(xs, 8)}  {statistics.median(xs) / base:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
