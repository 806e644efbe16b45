"""Analysis time per scenario bundle, and the CLI's cold start. One run each; prints the numbers.

    python bench/bench_analyze.py
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from aml_doctor.evidence import store as evidence
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.engine.plugins import load_plugins

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
EXAMPLE = ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz"


def main() -> None:
    t0 = time.perf_counter()
    rules = load_plugins().rules
    signals = signals_for(rules)
    print(f"plugin load: {1000 * (time.perf_counter() - t0):.1f} ms for {len(rules)} rules")
    times = []
    for path in sorted(p for p in SCENARIOS.iterdir() if (p / "manifest.json").is_file()):
        t0 = time.perf_counter()
        report = analyze(evidence.load(str(path), signals), rules)
        ms = 1000 * (time.perf_counter() - t0)
        times.append(ms)
        print(f"{path.name:<48} {ms:7.1f} ms  {len(report.findings)} finding(s)")
    times.sort()
    print(f"scenarios: {len(times)}  median {times[len(times) // 2]:.1f} ms  max {times[-1]:.1f} ms  (read + analyse)")

    env = {**os.environ, "NO_COLOR": "1"}
    for label, args in (
        ("aml-doctor --help", ["--help"]),
        ("aml-doctor analyze <example>", ["analyze", str(EXAMPLE)]),
        ("aml-doctor analyze <example> --format html", ["analyze", str(EXAMPLE), "--format", "html"]),
    ):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "aml_doctor", *args], capture_output=True, env=env)
        print(f"cold start, {label:<44} {1000 * (time.perf_counter() - t0):7.1f} ms")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], capture_output=True)
    print(f"(python -c pass alone:                                   {1000 * (time.perf_counter() - t0):7.1f} ms)")


if __name__ == "__main__":
    main()
