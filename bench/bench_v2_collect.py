"""API calls and wall time of the v2 cluster collector for one Kubernetes online deployment in a
namespace that also holds 1, 100 and 1000 other endpoints' deployments (each an OnlineDeployment
CR, a Deployment, a ReplicaSet, a pod and an event), served by the API-server emulator on
127.0.0.1. One run per size; it prints numbers, nothing more.

    python bench/bench_v2_collect.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# The cluster is the collector tests' own (tests/test_v2_kubernetes.py), so the benchmark measures what they check.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import kubernetes.client  # noqa: F401 - imported before timing: the first row would carry its import time
from aml_doctor.collect.v2kubernetes import collect_v2_kubernetes
from test_v2_kubernetes import emulator


def main() -> None:
    print(f"{'other deployments':>17}  {'API calls':>9}  {'of which logs':>13}  {'events kept':>11}  {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for others in (1, 100, 1000):
            where = Path(tmp) / str(others)
            where.mkdir()
            with emulator(where, other_deployments=others) as api:
                kubeconfig = api.write_kubeconfig(str(where / "kubeconfig"))
                api.reset_requests()
                started = time.perf_counter()
                part = collect_v2_kubernetes("credit-ep", "blue", kubeconfig=kubeconfig, log_lines=5000, request_timeout=30.0)
                wall = time.perf_counter() - started
                calls = api.requests
            logs = sum(1 for r in calls if r.path.endswith("/log"))
            events = len(part.files.get("kubernetes/events.json", {}).get("items", []))
            gaps = f"  gaps: {[g.what for g in part.gaps]}" if part.gaps else ""
            print(f"{others:>17}  {len(calls):>9}  {logs:>13}  {events:>11}  {wall:>7.3f}{gaps}")


if __name__ == "__main__":
    main()
