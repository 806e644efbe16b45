"""A fleet scan (``aml-doctor --all -n NS -o json``) on the API-server emulator (127.0.0.1): 300 and
3,000 web services with none failing, and 3,000 with 5 % crash-looping (init() cannot find the
model), against baselines measured in the same run:

* raw lists: the scan's list requests replayed one after the other on one keep-alive connection
  with ``http.client`` (what the lists alone cost to fetch);
* needed calls: the lists plus one log per failing pod (its crashed container's last instance),
  the least a scan can read and still show each failure's traceback.

Each size runs ``--repeat`` times; wall times print as min/median/max. The command runs in a child
process, which reports its own peak RSS (VmHWM), so the emulator's memory is not counted.
Targets (issue 12 §3): 0 % failing in <= 15 calls and <= 5 s; 5 % within 2x the needed calls;
peak RSS flat in the number of healthy services.

    python bench/bench_fleet.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from emulators.kube_apiserver import KubeApiServer
from test_collect_kubernetes import PREVIOUS_LOG, service_objects
from spread import slashes

NS = "azureml-fleet-ws"
HEALTHY_LOG = "".join(PREVIOUS_LOG.splitlines(keepends=True)[:11]) + "Users's init has completed successfully\n"
# The child prints its peak RSS (kB) on stderr's last line, whatever the scan's exit code.
COMMAND = """import sys
from aml_doctor.cli.main import main
try:
    code = main()
finally:
    peak = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print("VmHWM", peak, file=sys.stderr)
sys.exit(code)
"""


def cluster(services: int, failing_every: int | None) -> tuple[KubeApiServer, int]:
    """The namespace, and how many of its pods fail."""
    api = KubeApiServer()
    failing = 0
    for i in range(services):
        name, crashing = f"svc{i:04d}", bool(failing_every) and i % failing_every == 0
        failing += crashing
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
    return api, failing


def replay(api: KubeApiServer, requests) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
    started = time.perf_counter()
    for r in requests:
        connection.request("GET", r.path + ("?" + urlencode(r.query) if r.query else ""), headers={"Accept": "application/json"})
        connection.getresponse().read()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="300:0,3000:0,3000:20", help="services:failing-every (0 = none failing)")
    options = parser.parse_args()
    print(f"{'services':>8}  {'failing':>7}  {'lists':>5}  {'logs':>5}  {'needed':>6}  {'calls/needed':>12}  "
          f"{'wall s':>17}  {'raw lists s':>17}  {'wall/raw':>8}  {'peak RSS MiB':>12}  verdicts")
    with tempfile.TemporaryDirectory() as tmp:
        for size in options.sizes.split(","):
            services, every = (int(x) for x in size.split(":"))
            api, failing = cluster(services, every or None)
            with api:
                kubeconfig = api.write_kubeconfig(os.path.join(tmp, f"kc-{services}-{every}"))
                walls, raws, peaks = [], [], []
                for _ in range(options.repeat):
                    api.reset_requests()
                    started = time.perf_counter()
                    done = subprocess.run([sys.executable, "-c", COMMAND, "--all", "-n", NS, "--kubeconfig", kubeconfig, "-q",
                                           "--timeout", "600", "-o", "json"], capture_output=True, text=True)
                    walls.append(time.perf_counter() - started)
                    if done.returncode not in (0, 1):
                        sys.exit(f"aml-doctor exited {done.returncode}: {done.stderr[-800:]}")
                    peaks.append(int(done.stderr.strip().splitlines()[-1].split()[1]) / 1024)
                    requests = api.requests
                    lists = [r for r in requests if not r.path.endswith("/log")]
                    raws.append(replay(api, lists))
            logs = len(requests) - len(lists)
            needed = len(lists) + failing
            counts = json.loads(done.stdout)["counts"]
            print(f"{services:>8}  {failing:>7}  {len(lists):>5}  {logs:>5}  {needed:>6}  {len(requests) / needed:>12.2f}  "
                  f"{slashes(walls, 2):>17}  {slashes(raws, 2):>17}  {statistics.median(walls) / statistics.median(raws):>8.1f}  "
                  f"{statistics.median(peaks):>12.1f}  {counts}")


if __name__ == "__main__":
    main()
