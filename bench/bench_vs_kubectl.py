"""The seed's manual method beside aml-doctor: wall time, API requests and bytes, on the same emulated cluster.

The seed's notes diagnose a deployment by hand with kubectl. This bench runs that walk with the real
``kubectl`` against the API-server emulator serving a scenario, and ``aml-doctor SERVICE`` (the live
single-service diagnosis, cluster only, as tests/test_live_roundtrip.py runs it without a workspace)
against the same state:

    kubectl get namespaces
    kubectl get pod POD -o yaml
    kubectl get pv CLAIM -o yaml
    kubectl get deployment SERVICE -o yaml
    kubectl describe configmap CONFIGMAP
    kubectl get events
    kubectl logs POD
    kubectl logs POD --previous

The names are those a person reads off the earlier outputs (the pod's claim, the InitContainerConfig
variable). The seed's ``kubectl config set-context --current --namespace=...`` sends no request and
is not timed: the kubeconfig already names the namespace. Requests and response bytes are counted on the emulator's side. The walk runs twice per
round: with an empty discovery cache (a fresh HOME, as on a machine that has not talked to the
cluster in the last ten minutes) and with the cache the previous walk left. Each round runs every
row in turn, after one warm-up round that is not counted; the figures are min/median/max over the
rounds, and the ratios are aml-doctor's median over the walk's median, both measured in this run.
The floor rows are the process starts alone: eight ``kubectl version --client`` and one
``python -c pass``.

Both sides are checked each round: the walk's output must show the scenario's root cause
(crashloop-init-keyerror: ``KeyError: 'MODEL_NAME'``, in the previous log), and aml-doctor must exit
with findings and name it on its root-cause line; the bench stops otherwise.

    python bench/bench_vs_kubectl.py [--rounds 9] [--others 0,300]

``--others`` pads the namespace with that many other web services (a Deployment, ReplicaSet, pod
and event each), to show how each side's requests and time grow with the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from emulators.kube_apiserver import KubeApiServer  # noqa: E402
from test_collect_kubernetes import service_objects  # noqa: E402

SCENARIO = TESTS / "scenarios" / "crashloop-init-keyerror"
ROOT_CAUSE = "KeyError: 'MODEL_NAME'"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def cluster(others: int) -> tuple[KubeApiServer, dict]:
    """The scenario served, padded with ``others`` services; and the names the walk uses."""
    api = KubeApiServer().load_bundle(str(SCENARIO))
    manifest = json.loads((SCENARIO / "manifest.json").read_text())
    service, namespace = manifest["service"], manifest["namespace"]
    for i in range(others):
        name = f"other{i:04d}"
        pod = f"{name}-6d8f7b9c5d-x7k2p"
        for obj in service_objects(name, namespace, pod=pod, rs=f"{name}-6d8f7b9c5d", claim=f"{name}1a2b3c-pvc",
                                   configmap=f"{name}1a2b3c-config", crashing=i % 3 == 0):
            api.add(obj)
        api.add({"kind": "Event", "metadata": {"name": f"{pod}.17f3a2b4c5d6e7f8", "namespace": namespace},
                 "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace}, "reason": "Pulled", "type": "Normal",
                 "message": f'Container image "acr.azurecr.io/azureml/azureml_{i:032x}" already present on machine',
                 "source": {"component": "kubelet", "host": "aks-nodepool1-0"}, "count": 1,
                 "firstTimestamp": "2026-11-20T09:10:00Z", "lastTimestamp": "2026-11-20T09:10:00Z"})
    pods = json.loads((SCENARIO / "kubernetes" / "pods.json").read_text())["items"]
    pod = next(p for p in pods if (p["metadata"].get("labels") or {}).get("azuremlappname") == service)
    claim = next(v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v)
    deployment = json.loads((SCENARIO / "kubernetes" / "deployments.json").read_text())["items"][0]
    env = {e["name"]: e.get("value") for c in deployment["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    names = {"service": service, "namespace": namespace, "pod": pod["metadata"]["name"], "claim": claim,
             "configmap": env["InitContainerConfig"]}
    return api, names


def walk_commands(n: dict) -> list[list[str]]:
    return [
        ["get", "namespaces"],
        ["get", "pod", n["pod"], "-o", "yaml"],
        ["get", "pv", n["claim"], "-o", "yaml"],
        ["get", "deployment", n["service"], "-o", "yaml"],
        ["describe", "configmap", n["configmap"]],
        ["get", "events"],
        ["logs", n["pod"]],
        ["logs", n["pod"], "--previous"],
    ]


def run_walk(kubeconfig: str, home: str, names: dict) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "KUBECONFIG": kubeconfig}
    outputs = []
    for args in walk_commands(names):
        proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        outputs.append(proc.stdout)
    return "".join(outputs)


def run_doctor(kubeconfig: str, cwd: str, names: dict) -> str:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("AML_DOCTOR_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "aml_doctor", names["service"], "-n", names["namespace"],
                           "--kubeconfig", kubeconfig, "-q"], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    root = next((line for line in proc.stdout.splitlines() if line.startswith("Root cause")), "")
    if proc.returncode != 1 or ROOT_CAUSE not in root:  # 1: findings
        raise SystemExit(f"aml-doctor exited {proc.returncode} without naming {ROOT_CAUSE!r} as the root cause:\n"
                         f"{proc.stdout[:2000]}{proc.stderr[-2000:]}")
    return proc.stdout


def floor_kubectl(kubeconfig: str, home: str, names: dict) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "KUBECONFIG": kubeconfig}
    for _ in walk_commands(names):
        subprocess.run([KUBECTL, "version", "--client"], capture_output=True, env=env, check=True, timeout=60)
    return ""


def floor_python(kubeconfig: str, cwd: str, names: dict) -> str:
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
    return ""


def _stats(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def bench(others: int, rounds: int) -> None:
    api, names = cluster(others)
    with api, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = api.write_kubeconfig(os.path.join(tmp, "kubeconfig"), namespace=names["namespace"])
        warm_home = os.path.join(tmp, "warm-home")
        cwd = os.path.join(tmp, "cwd")  # empty: no config.json to pick up, so the run is cluster only
        os.makedirs(cwd)
        fresh = iter(range(10**6))

        def cold(kc: str, _home: str, n: dict) -> str:
            return run_walk(kc, os.path.join(tmp, f"cold-home-{next(fresh)}"), n)

        sides: dict[str, tuple[Callable[[str, str, dict], str], str, bool]] = {
            "kubectl walk, cold cache": (cold, "", True),
            "kubectl walk, warm cache": (run_walk, warm_home, True),
            "aml-doctor SERVICE": (run_doctor, cwd, True),
            "floor: 8 x kubectl start": (floor_kubectl, warm_home, False),
            "floor: python -c pass": (floor_python, cwd, False),
        }
        walls: dict[str, list[float]] = {k: [] for k in sides}
        calls: dict[str, list[int]] = {k: [] for k in sides}
        sent: dict[str, list[int]] = {k: [] for k in sides}
        for round_ in range(rounds + 1):  # round 0 warms caches (bytecode, discovery) and is not counted
            for label, (fn, where, checked) in sides.items():
                api.reset_requests()
                started = time.perf_counter()
                out = fn(kubeconfig, where, names)
                wall = time.perf_counter() - started
                if checked and ROOT_CAUSE not in out:
                    raise SystemExit(f"{label}: the output does not show {ROOT_CAUSE!r}")
                if round_:
                    walls[label].append(wall)
                    calls[label].append(len(api.requests))
                    sent[label].append(api.bytes_sent)
                    if {r.method for r in api.requests} - {"GET"}:
                        raise SystemExit(f"{label}: sent {sorted({r.method for r in api.requests})}")

    print(f"\nnamespace {names['namespace']}: the scenario's service and {others} other services; {rounds} rounds")
    print(f"{'':26}  {'wall s min / median / max':>27}  {'API requests min / med / max':>29}  {'KiB sent (median)':>17}")
    for label in sides:
        lo, mid, hi = _stats(walls[label])
        clo, cmid, chi = _stats([float(c) for c in calls[label]])
        print(f"{label:26}  {lo:7.3f} / {mid:7.3f} / {hi:7.3f}  {clo:7.0f} / {cmid:7.0f} / {chi:7.0f}  "
              f"{statistics.median(sent[label]) / 1024:17.1f}")
    doctor = "aml-doctor SERVICE"
    for baseline in ("kubectl walk, cold cache", "kubectl walk, warm cache"):
        wall_ratio = statistics.median(walls[doctor]) / statistics.median(walls[baseline])
        call_ratio = statistics.median(calls[doctor]) / statistics.median(calls[baseline])
        byte_ratio = statistics.median(sent[doctor]) / statistics.median(sent[baseline])
        print(f"aml-doctor / {baseline}: wall {wall_ratio:.2f}x, API requests {call_ratio:.2f}x, bytes {byte_ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--others", default="0,300", help="comma-separated counts of other services in the namespace")
    args = parser.parse_args()
    if not os.access(KUBECTL, os.X_OK):
        raise SystemExit("kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)")
    for others in (int(x) for x in args.others.split(",")):
        bench(others, args.rounds)


if __name__ == "__main__":
    main()
