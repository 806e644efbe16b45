"""A single-service live diagnosis (``aml-doctor SERVICE -n NS -o json``) on the API-server emulator
(127.0.0.1), with 0 and 5,000 other web services in the namespace, against baselines measured in
the same run:

* raw: the same HTTP requests the diagnosis made, replayed one after the other on one keep-alive
  connection with ``http.client`` (the physical cost of the round trips and of reading the bytes);
* ``python -c pass``: the interpreter's own start.

It prints, as min/median/max over the repeats: the command's wall time, the collector's wall
time in-process (the kubernetes client already imported), and the raw replay's; their ratios
(median over median); the number of calls; and the bytes read against the bytes kept in the
bundle. Targets (issue 12 §4): wall <= 0.4 s, <= 18 calls, bytes read <= 2x bytes kept at 5,000.

    python bench/bench_live.py [--repeat 5]
"""

from __future__ import annotations

import argparse
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

import kubernetes.config  # noqa: F401 - imported before timing the in-process collector
from aml_doctor.collect.kubernetes import collect_kubernetes
from test_collect_kubernetes import NS, SERVICE, emulator
from spread import slashes

COMMAND = "import sys; from aml_doctor.cli.main import main; sys.exit(main())"


def replay(api, requests) -> tuple[float, int]:
    """The recorded GETs again, on one connection: (seconds, body bytes read)."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    size = 0
    started = time.perf_counter()
    for r in requests:
        connection.request("GET", r.path + ("?" + urlencode(r.query) if r.query else ""),
                           headers={"Accept": getattr(r, "accept", "") or "application/json"})
        size += len(connection.getresponse().read())
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, size


def kept_bytes(part) -> int:
    total = 0
    for path, value in part.files.items():
        total += len(value) if isinstance(value, (bytes, str)) else len(json.dumps(value, separators=(",", ":")))
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    pass_times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        pass_times.append(time.perf_counter() - started)
    print(f"python -c pass: {slashes(pass_times)} s (min/median/max)")
    print(f"{'others':>6}  {'command s':>17}  {'collector s':>17}  {'raw s':>17}  {'cmd/raw':>7}  {'coll/raw':>8}  "
          f"{'cmd/pass':>8}  {'calls':>5}  {'read KB':>8}  {'kept KB':>8}  {'read/kept':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for others in (0, 5000):
            with emulator(other_services=others) as api:
                kubeconfig = api.write_kubeconfig(os.path.join(tmp, f"kc-{others}"))
                command, collector, raw = [], [], []
                calls, read, kept = 0, 0, 0
                for _ in range(repeat):
                    api.reset_requests()
                    started = time.perf_counter()
                    done = subprocess.run([sys.executable, "-c", COMMAND, SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-q", "-o", "json"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    command.append(time.perf_counter() - started)
                    if done.returncode not in (0, 1):  # 1: findings, as expected of this crash-looping service
                        sys.exit(f"aml-doctor exited {done.returncode}: {done.stderr[-500:]}")
                    requests = api.requests
                    calls = len(requests)
                    seconds, read = replay(api, requests)
                    raw.append(seconds)
                    started = time.perf_counter()
                    part = collect_kubernetes(SERVICE, namespace=NS, kubeconfig=kubeconfig, log_lines=5000, request_timeout=30.0)
                    collector.append(time.perf_counter() - started)
                    kept = kept_bytes(part)
            med = statistics.median
            print(f"{others:>6}  {slashes(command):>17}  {slashes(collector):>17}  {slashes(raw):>17}  "
                  f"{med(command) / med(raw):>7.0f}  {med(collector) / med(raw):>8.1f}  {med(command) / med(pass_times):>8.1f}  "
                  f"{calls:>5}  {read / 1000:>8.1f}  {kept / 1000:>8.1f}  {read / kept:>9.2f}")


if __name__ == "__main__":
    main()
