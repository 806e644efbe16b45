"""A fleet scan (``aml-doctor --all -n NS``) of 10, 100 and 1,000 services on the API-server emulator:
API calls (lists and logs apart), wall time and the process's peak RSS (getrusage; the emulator
runs in the same process, so its objects count too; tracemalloc would slow the scan fivefold).

The namespace mixes the researched scenario services (tests/test_fleet.py) with generated ones:
one in three crash-loops with an init() traceback, the others run Ready. One run per size; it
prints numbers, nothing more.

    python bench/bench_fleet.py
"""

from __future__ import annotations

import copy
import io
import os
import resource
import sys
import tempfile
import time
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import kubernetes.client  # noqa: F401 - imported before timing: the first row would carry its import time
from aml_doctor.cli.main import main as aml_doctor
from emulators.kube_apiserver import KubeApiServer
from test_collect_kubernetes import PREVIOUS_LOG, service_objects
from test_fleet import MIXED, NS, load_scenario

HEALTHY_LOG = "".join(PREVIOUS_LOG.splitlines(keepends=True)[:11]) + "Users's init has completed successfully\n"


def cluster(services: int) -> KubeApiServer:
    api = KubeApiServer()
    scenarios = list(MIXED)[: min(len(MIXED), services // 10)]
    for scenario in scenarios:
        load_scenario(api, scenario)
    for i in range(services - len(scenarios)):
        name, crashing = f"svc{i:04d}", i % 3 == 0
        pod = f"{name}-6d8f7b9c5d-x7k2p"
        objects = service_objects(name, NS, pod=pod, rs=f"{name}-6d8f7b9c5d", claim=f"{name}1a2b3c-pvc",
                                  configmap=f"{name}1a2b3c-config", crashing=crashing)
        if not crashing:
            objects = copy.deepcopy(objects)
            status = objects[2]["status"]
            status["conditions"][1] = {"lastTransitionTime": "2026-11-20T09:14:40Z", "status": "True", "type": "Ready"}
            status["containerStatuses"][0].update(ready=True, restartCount=0, lastState={}, started=True)
        for obj in objects:
            api.add(obj)
        api.set_log(NS, pod, name, PREVIOUS_LOG if crashing else HEALTHY_LOG, previous=crashing)
    return api


def main() -> None:
    print(f"{'services':>8}  {'list calls':>10}  {'log calls':>9}  {'wall s':>7}  {'peak RSS MiB':>12}  verdicts")
    with tempfile.TemporaryDirectory() as tmp:
        for services in (10, 100, 1000):
            with cluster(services) as api:
                kubeconfig = api.write_kubeconfig(os.path.join(tmp, f"kc-{services}"))
                started = time.perf_counter()
                with redirect_stdout(io.StringIO()) as out:
                    aml_doctor(["--all", "-n", NS, "--kubeconfig", kubeconfig, "-q", "--timeout", "300"])
                wall = time.perf_counter() - started
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                calls = api.requests
            logs = sum(1 for r in calls if r.path.endswith("/log"))
            verdicts = out.getvalue().strip().splitlines()[-1]
            print(f"{services:>8}  {len(calls) - logs:>10}  {logs:>9}  {wall:>7.2f}  {peak:>12.1f}  {verdicts}")


if __name__ == "__main__":
    main()
