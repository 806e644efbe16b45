"""API calls, bytes and wall time of the v2 cluster collector for one Kubernetes online deployment
in a namespace that also holds 1, 100 and 1000 other endpoints' deployments (each an
OnlineDeployment CR, a Deployment, a ReplicaSet, a pod and an event), served by the API-server
emulator on 127.0.0.1, against a baseline measured in the same run: the same requests replayed on
one keep-alive connection (bench_live.replay). Wall times are min/median/max over ``--repeat``
runs; the ratio is median over median.

    python bench/bench_v2_collect.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
import time

# The cluster is the collector tests' own (tests/test_v2_kubernetes.py), so the benchmark measures what they check.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubernetes.client  # noqa: F401 - imported before timing: the first row would carry its import time
from aml_doctor.collect.v2kubernetes import collect_v2_kubernetes
from bench_live import kept_bytes, replay, spread
from test_v2_kubernetes import emulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print(f"{'other deployments':>17}  {'API calls':>9}  {'of which logs':>13}  {'events kept':>11}  {'collector s':>17}  "
          f"{'raw s':>17}  {'coll/raw':>8}  {'read/kept':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for others in (1, 100, 1000):
            where = Path(tmp) / str(others)
            where.mkdir()
            with emulator(where, other_deployments=others) as api:
                kubeconfig = api.write_kubeconfig(str(where / "kubeconfig"))
                walls, raws = [], []
                for _ in range(repeat):
                    api.reset_requests()
                    started = time.perf_counter()
                    part = collect_v2_kubernetes("credit-ep", "blue", kubeconfig=kubeconfig, log_lines=5000, request_timeout=30.0)
                    walls.append(time.perf_counter() - started)
                    calls = api.requests
                    seconds, read = replay(api, calls)
                    raws.append(seconds)
            logs = sum(1 for r in calls if r.path.endswith("/log"))
            events = len(part.files.get("kubernetes/events.json", {}).get("items", []))
            gaps = f"  gaps: {[g.what for g in part.gaps]}" if part.gaps else ""
            print(f"{others:>17}  {len(calls):>9}  {logs:>13}  {events:>11}  {spread(walls):>17}  {spread(raws):>17}  "
                  f"{statistics.median(walls) / statistics.median(raws):>8.1f}  {read / kept_bytes(part):>9.2f}{gaps}")


if __name__ == "__main__":
    main()
