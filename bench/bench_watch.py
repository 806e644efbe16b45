"""Time to verdict of ``--watch`` after the first decisive event, on the API-server emulator.

The timeline is the watch tests' own (tests/test_watch.py): the Deployment appears, the pod goes
Pending, ContainerCreating, Init, Running not ready, then crashes with an init() traceback (or a
FailedScheduling event arrives). The clock starts at the change that decides and stops when
watch_service returns. One run per timeline; it prints numbers, nothing more.

    python bench/bench_watch.py
"""

from __future__ import annotations

import os
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


def main() -> None:
    print(f"{'timeline':<34}  {'verdict':>7}  {'s after decisive event':>22}  {'s watched in all':>16}")
    for label, run in (("crash in init() (previous log)", crash_timeline), ("FailedScheduling event", scheduling_timeline)):
        after, total, rule = run()
        print(f"{label:<34}  {rule:>7}  {after:>22.3f}  {total:>16.3f}")
    print("AzureML's own verdict for the same failures: DeploymentTimedOut after pollTimeout 00:20:00 (1200 s)")


if __name__ == "__main__":
    main()
