"""Cold start: ``aml-doctor analyze <example> -f json`` as a fresh process, against ``python -c pass``
measured in the same run, with bytecode cached. Prints min/median/max of each and the ratio.

    python bench/bench_cold_start.py            # the installed command (editable or not)
    python bench/bench_cold_start.py --wheel    # also from a wheel built now, in a temp venv
    python bench/bench_cold_start.py -n 15      # runs of each (default 11)

Bytecode is cached for the measured runs whatever ``PYTHONDONTWRITEBYTECODE`` says: the runs write
and read it under one ``PYTHONPYCACHEPREFIX`` directory, filled by a warm-up run first
(https://docs.python.org/3/using/cmdline.html#envvar-PYTHONPYCACHEPREFIX). The target
(issue 12, "Cold start") is a ratio of 3 or less.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz"
TARGET = 3.0


def _times(argv: list[str], env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tempfile.gettempdir())
        out.append(time.perf_counter() - t0)
        # analyze exits 1 when it finds a problem, as it does on the example.
        if proc.returncode not in (0, 1):
            sys.exit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-400:]}")
    return out


def _line(label: str, times: list[float]) -> str:
    ms = [1000 * t for t in times]
    return f"{label:<34} min {min(ms):7.1f}  median {statistics.median(ms):7.1f}  max {max(ms):7.1f} ms"


def measure(python: str, command: list[str], runs: int, label: str) -> float:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        analyze = [*command, "analyze", str(EXAMPLE), "-f", "json"]
        baseline = [python, "-c", "pass"]
        _times(analyze, env, 1)  # fills the bytecode cache
        _times(baseline, env, 1)
        base, run = [], []
        for _ in range(runs):  # interleaved, so that the machine's load falls on both alike
            base += _times(baseline, env, 1)
            run += _times(analyze, env, 1)
    print(f"-- {label}")
    print(_line("python -c pass", base))
    print(_line("aml-doctor analyze <example> -f json", run))
    ratio = statistics.median(run) / statistics.median(base)
    print(f"ratio (median/median) {ratio:.2f}x   min/min {min(run) / min(base):.2f}x   max/max {max(run) / max(base):.2f}x"
          f"   target <= {TARGET:g}x: {'met' if ratio <= TARGET else 'missed'}")
    return ratio


def _installed_command() -> list[str]:
    script = Path(sys.executable).with_name("aml-doctor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aml_doctor"]


def _quiet(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(argv[:4])} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _wheel_venv(tmp: Path) -> tuple[str, list[str]]:
    """A venv holding the wheel built from this checkout, with the dependencies of a bare install."""
    _quiet([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(ROOT)])
    wheel = next((tmp / "dist").glob("aml_doctor-*.whl"))
    _quiet([sys.executable, "-m", "venv", str(tmp / "venv")])
    python = str(tmp / "venv" / "bin" / "python")
    _quiet([python, "-m", "pip", "install", "-q", str(wheel)])
    return python, [str(tmp / "venv" / "bin" / "aml-doctor")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=11, help="runs of each command")
    parser.add_argument("--wheel", action="store_true", help="also measure a wheel installed in a temp venv")
    args = parser.parse_args()
    measure(sys.executable, _installed_command(), args.n, f"installed here ({sys.executable})")
    if args.wheel:
        tmp = Path(tempfile.mkdtemp(prefix="aml-doctor-wheel-"))
        try:
            python, command = _wheel_venv(tmp)
            measure(python, command, args.n, "from a wheel in a fresh venv")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
