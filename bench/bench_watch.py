"""Time to verdict of ``--watch`` after the first decisive event, on the API-server emulator.

The timeline is the watch tests' own (tests/test_watch.py): the Deployment appears, the pod goes
Pending, ContainerCreating, Init, Running not ready, then crashes with an init() traceback (or a
FailedScheduling event arrives). The clock starts at the change that decides and stops when
watch_service returns. Each timeline runs ``--repeat`` times (min/median/max); the baseline is
the emulator's own round trip for the decisive change measured in the same run (one GET of the
pod), and AzureML's own verdict time for the same failures, ``pollTimeout`` 00:20:00.

    python bench/bench_watch.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from test_collect_kubernetes import _event
from test_watch import (
    BOOT_LOG,
    CRASH_LOG,
    NS,
    POD,
    SERVICE,
    Watcher,
    cluster,
    crashed,
    init_running,
    objects,
    pending,
    running_not_ready,
    scheduled,
)
from spread import slashes


def crash_timeline() -> tuple[float, float, str]:
    deployment, rs, pod = objects()
    with cluster() as api:
        watcher = Watcher(api)
        watcher.wait_for("Waiting for Deployment")
        api.add(deployment)
        api.add(rs)
        api.add(pending(pod))
        watcher.wait_for("Pending: scheduling")
        api.modify(scheduled(pod))
        watcher.wait_for("ContainerCreating")
        api.modify(init_running(pod))
        watcher.wait_for("Init:")
        api.set_log(NS, POD, SERVICE, BOOT_LOG)
        api.modify(running_not_ready(pod))
        watcher.wait_for("Running, not ready")
        api.set_log(NS, POD, SERVICE, CRASH_LOG, previous=True)
        decided = time.perf_counter()
        api.modify(crashed(pod))
        outcome = watcher.result()
        return time.perf_counter() - decided, outcome.seconds, outcome.report.root_cause.rule


def scheduling_timeline() -> tuple[float, float, str]:
    deployment, rs, pod = objects()
    message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    with cluster() as api:
        api.add(deployment)
        api.add(rs)
        api.add(pending(pod))
        watcher = Watcher(api)
        watcher.wait_for("Pending: scheduling")
        decided = time.perf_counter()
        api.add(_event(NS, "Pod", POD, "FailedScheduling", message))
        outcome = watcher.result()
        return time.perf_counter() - decided, outcome.seconds, outcome.report.root_cause.rule


AZUREML_VERDICT_S = 1200.0  # DeploymentTimedOut after the SDK's default pollTimeout 00:20:00


def round_trip() -> float:
    """One GET of the watched pod on the same emulator: the least a watcher can take to see it."""
    _, _, pod = objects()
    with cluster() as api:
        api.add(pending(pod))
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        started = time.perf_counter()
        connection.request("GET", f"/api/v1/namespaces/{NS}/pods/{POD}")
        connection.getresponse().read()
        seconds = time.perf_counter() - started
        connection.close()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    trip = statistics.median(round_trip() for _ in range(repeat))
    print(f"one GET of the pod (baseline): {trip * 1000:.2f} ms median of {repeat}")
    print(f"{'timeline':<34}  {'verdict':>7}  {'s after decisive event':>22}  {'s watched in all':>17}  "
          f"{'after/GET':>9}  {'AzureML/after':>13}")
    for label, run in (("crash in init() (previous log)", crash_timeline), ("FailedScheduling event", scheduling_timeline)):
        results = [run() for _ in range(repeat)]
        after = [r[0] for r in results]
        total = [r[1] for r in results]
        rules = sorted({r[2] for r in results})
        median = statistics.median(after)
        print(f"{label:<34}  {'/'.join(rules):>7}  {slashes(after):>22}  {slashes(total):>17}  "
              f"{median / trip:>9.0f}  {AZUREML_VERDICT_S / median:>13.0f}")
    print(f"AzureML's own verdict for the same failures: DeploymentTimedOut after pollTimeout 00:20:00 ({AZUREML_VERDICT_S:.0f} s)")


if __name__ == "__main__":
    main()
