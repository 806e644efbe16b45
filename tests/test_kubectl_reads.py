"""Real ``kubectl`` reads every scenario back from the API-server emulator.

This is the emulator's fidelity check from the other side: not the Python ``kubernetes`` client the
collector uses, but the Go client in ``kubectl``, with its discovery, its ``Table`` printing, its
``describe`` and its ``logs``. Each scenario is served the way the live tests serve it
(``KubeApiServer().load_bundle(scenario)``), and what kubectl prints must be the scenario's own
objects: names, specs and statuses, the status column a real cluster shows, event reasons and
messages, and log lines byte for byte.

kubectl reaches the emulator through a kubeconfig in a temporary directory with no credentials:
authentication (AAD on AKS) is not emulated, and the emulator asks for none. Each test has its own
HOME, so kubectl's discovery cache starts empty and nothing is read from the user's ~/.kube.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from emulators.kube_apiserver import RESOURCE_TYPES, KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.access("/usr/bin/kubectl", os.X_OK) else None)
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)")

_KIND = {t.kind: t for t in RESOURCE_TYPES.values()}


def _scenario_objects(scenario: Path) -> tuple[str, dict[tuple[str, str, str], dict]]:
    """The scenario's namespace and its objects by (kind, namespace, name), read from its files."""
    namespace = json.loads((scenario / "manifest.json").read_text()).get("namespace") or "default"
    objects: dict[tuple[str, str, str], dict] = {}
    for path in sorted((scenario / "kubernetes").glob("*.json")):
        data = json.loads(path.read_text())
        file_type = RESOURCE_TYPES.get(path.stem)
        for item in data.get("items", [data]) if isinstance(data, dict) else data:
            kind = item.get("kind") or (file_type.kind if file_type else None)
            if kind not in _KIND:
                continue
            meta = item.get("metadata") or {}
            ns = (meta.get("namespace") or namespace) if _KIND[kind].namespaced else ""
            objects.setdefault((kind, ns, meta["name"]), item)
    return namespace, objects


KUBE_SCENARIOS = sorted(p.name for p in SCENARIOS.iterdir() if (p / "kubernetes").is_dir() and _scenario_objects(p)[1])


class Kubectl:
    def __init__(self, api: KubeApiServer, home: Path, namespace: str):
        home.mkdir(parents=True, exist_ok=True)
        self.api = api
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "KUBECONFIG": api.write_kubeconfig(str(home / "kubeconfig"), namespace=namespace)}

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([KUBECTL, "--request-timeout=30s", *args], capture_output=True, text=True, env=self.env,
                              timeout=120)
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
            # No discovery or decoding complaints: stderr is empty, or kubectl's note that a list is empty.
            assert proc.stderr == "" or args[0] == "logs" or proc.stderr.startswith("No resources found"), proc.stderr
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture
def serve(tmp_path):
    started: list[KubeApiServer] = []

    def start(name: str) -> tuple[Kubectl, str, dict]:
        scenario = SCENARIOS / name
        api = KubeApiServer().load_bundle(str(scenario)).start()
        started.append(api)
        namespace, objects = _scenario_objects(scenario)
        return Kubectl(api, tmp_path / "home", namespace), namespace, objects

    yield start
    for api in started:
        api.stop()


@pytest.mark.parametrize("name", KUBE_SCENARIOS)
def test_kubectl_reads_every_object_back(serve, name):
    kubectl, namespace, objects = serve(name)
    kinds = sorted({_KIND[kind].qualified for kind, _, _ in objects})
    listed = kubectl.json("get", ",".join(kinds), "--all-namespaces")
    assert listed["kind"] == "List"
    got = {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in listed["items"]}
    # Namespaces the emulator made for the namespaced objects (as the API server holds them) are extra.
    extra = {k for k in set(got) - set(objects) if k[0] != "Namespace"}
    assert (set(objects) - set(got), extra) == (set(), set())
    for key, expected in objects.items():
        item = got[key]
        assert item["apiVersion"] == _KIND[key[0]].group_version
        for field in ("spec", "status", "data", "involvedObject", "reason", "message", "subsets", "type"):
            if field in expected:
                assert item[field] == expected[field], (key, field)
        assert (item["metadata"].get("labels"), item["metadata"].get("ownerReferences")) == (
            (expected.get("metadata") or {}).get("labels"), (expected.get("metadata") or {}).get("ownerReferences")), key

    names = kubectl.run("get", "namespaces", "-o", "name").stdout.split()
    assert f"namespace/{namespace}" in names


@pytest.mark.parametrize("name", KUBE_SCENARIOS)
def test_kubectl_logs_are_the_scenarios_log_lines(serve, name):
    kubectl, namespace, objects = serve(name)
    logs = SCENARIOS / name / "logs"
    files = sorted(logs.glob("*/*.log")) if logs.is_dir() else []
    if not files:
        pytest.skip(f"{name} has no container logs")
    pods = {n for kind, _, n in objects if kind == "Pod"}
    for path in files:
        pod, stem = path.parent.name, path.name[: -len(".log")]
        previous = stem.endswith(".previous")
        container = stem[: -len(".previous")] if previous else stem
        assert pod in pods
        ns = next(ns for kind, ns, n in objects if kind == "Pod" and n == pod)
        out = kubectl.run("logs", pod, "-n", ns, "-c", container, *(["--previous"] if previous else [])).stdout
        assert out == path.read_text(encoding="utf-8", errors="replace"), path


# The status column a real cluster shows for these pods (kubectl's documented pod status: the waiting
# reason of a crash-looping container, Init:<reason> or Init:<done>/<all> while init containers run,
# the phase of an unscheduled pod), written out by hand from each scenario's pod status.
STATUS_COLUMN = {
    "crashloop-init-keyerror": ("recsys-ranker-tr2ks7vqp-hrxq2", "0/1", "CrashLoopBackOff", "7"),
    "healthy": ("credit-risk-svc-8xdcwlhnl-stc77", "1/1", "Running", "0"),
    "mixed-pull-failure-behind-timeout": ("route-optimizer-vq684kkkb-22x8h", "0/1", "Init:ImagePullBackOff", "0"),
    "mount-blobfuse-403": ("sentiment-api-fx982hwgbw-ps582", "0/1", "Init:0/1", "0"),
    "r1-unschedulable-cpu": ("churn-svc-lf9l4l7hk8-jm85f", "0/1", "Pending", "0"),
    "restarted-once-now-ready": ("price-elasticity-xrnbg8gz7-sqlz5", "1/1", "Running", "1"),
    "v2-storage-token-failed": ("credit-ep-blue-d6a2161e7-6de49", "0/2", "Init:CrashLoopBackOff", "6"),  # init restarts count
    "v2-init-keyerror-first-failure": ("credit-ep-blue-d6a2161e7-6de49", "1/2", "CrashLoopBackOff", "5"),
}


@pytest.mark.parametrize("name", sorted(STATUS_COLUMN))
def test_kubectl_get_pods_shows_the_status_a_cluster_shows(serve, name):
    kubectl, namespace, _ = serve(name)
    lines = kubectl.run("get", "pods", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    pod, ready, status, restarts = STATUS_COLUMN[name]
    assert rows[pod][1:4] == [ready, status, restarts]


@pytest.mark.parametrize("name", [n for n in KUBE_SCENARIOS if (SCENARIOS / n / "kubernetes" / "events.json").is_file()])
def test_kubectl_get_events_lists_each_event(serve, name):
    kubectl, namespace, objects = serve(name)
    events = [o for (kind, ns, _), o in objects.items() if kind == "Event" and ns == namespace]
    proc = kubectl.run("get", "events", "-n", namespace)
    lines = proc.stdout.splitlines()
    if not events:
        assert (lines, proc.stderr) == ([], f"No resources found in {namespace} namespace.\n")
        return
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    body = lines[1:]
    assert len(body) == len(events)
    for event in events:
        involved = event["involvedObject"]
        target = f"{involved['kind'].lower()}/{involved['name']}"
        message = " ".join((event.get("message") or "").split())
        assert any(event["reason"] in line.split() and target in line.split() and message in " ".join(line.split())
                   for line in body), (event["reason"], target)


def test_the_seeds_manual_walk_shows_what_the_seed_says(serve):
    """The walk in the seed's notes, command by command, on the crash-looping scenario: the pod's volume
    claim, the blobfuse volume behind it, the InitContainerConfig variable, the config map with the
    model and code paths, the events and the logs."""
    kubectl, namespace, objects = serve("crashloop-init-keyerror")
    service = "recsys-ranker"
    assert f"namespace/{namespace}" in kubectl.run("get", "namespaces", "-o", "name").stdout.split()
    pod_name = next(n for kind, _, n in objects if kind == "Pod")
    pod = yaml.safe_load(kubectl.run("get", "pod", pod_name, "-o", "yaml").stdout)
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["recsys-ranker372d737d-pvc"]
    pv = yaml.safe_load(kubectl.run("get", "pv", claims[0], "-o", "yaml").stdout)
    assert (pv["spec"]["flexVolume"]["driver"], pv["spec"]["flexVolume"]["options"]["container"]) == ("azure/blobfuse", "azureml")
    table = kubectl.run("get", "pv").stdout.splitlines()
    assert table[0].split()[:2] == ["NAME", "CAPACITY"] and table[1].split()[:5] == [claims[0], "10Gi", "ROX", "Retain", "Bound"]
    deployment = yaml.safe_load(kubectl.run("get", "deployment", service, "-o", "yaml").stdout)
    env = {e["name"]: e.get("value") for c in deployment["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    configmap = env["InitContainerConfig"]
    described = kubectl.run("describe", "configmaps", configmap).stdout
    assert f"Name:         {configmap}" in described
    for line in ('"Path": "ExperimentRun/dcid.recsys-train_1600098086_52321794/outputs/model.pkl"', '"MountPath": "/var/azureml-app"'):
        assert line in described
    described = kubectl.run("describe", "pod", pod_name).stdout
    assert "Reason:       CrashLoopBackOff" in described and "Restart Count:  7" in described
    assert "Back-off restarting failed container" in described  # the pod's events, found by its uid
    previous = kubectl.run("logs", pod_name, "--previous").stdout
    assert "KeyError: 'MODEL_NAME'" in previous
    logs = kubectl.run("logs", pod_name, "-c", service)
    assert logs.stdout == (SCENARIOS / "crashloop-init-keyerror" / "logs" / pod_name / f"{service}.log").read_text()
    # kubectl only read: every request was a GET.
    assert {r.method for r in kubectl.api.requests} == {"GET"}


def test_kubectl_reports_what_the_cluster_refuses(serve):
    """RBAC's 403 and a missing object reach kubectl as the Status messages a real server sends."""
    kubectl, namespace, _ = serve("crashloop-init-keyerror")
    kubectl.api.forbid("persistentvolumes")
    refused = kubectl.run("get", "pv", ok=False)
    assert refused.returncode == 1
    assert 'cannot list resource "persistentvolumes" in API group "" at the cluster scope' in refused.stderr
    missing = kubectl.run("get", "deployment", "no-such-service", ok=False)
    assert missing.returncode == 1 and 'deployments.apps "no-such-service" not found' in missing.stderr


def test_kubectl_pages_a_large_namespace(serve):
    """kubectl asks for 500 objects at a time; a namespace with more comes back whole over several pages."""
    kubectl, namespace, _ = serve("healthy")
    for i in range(1203):
        kubectl.api.add({"kind": "ConfigMap", "metadata": {"name": f"filler-{i:04d}", "namespace": namespace}, "data": {"k": "v"}})
    kubectl.api.reset_requests()
    names = kubectl.run("get", "configmaps", "-n", namespace, "-o", "name").stdout.split()
    assert len([n for n in names if n.startswith("configmap/filler-")]) == 1203
    pages = [r for r in kubectl.api.requests if r.path.endswith("/configmaps")]
    assert len(pages) == 3 and all(r.query.get("limit") == "500" for r in pages)


def test_kubectl_get_watch_prints_each_change(serve):
    """``kubectl get pods -w``: the list, then one row per change, from Table watch events."""
    kubectl, namespace, objects = serve("crashloop-init-keyerror")
    pod_name = next(n for kind, _, n in objects if kind == "Pod")
    proc = subprocess.Popen([KUBECTL, "get", "pods", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=kubectl.env)
    try:
        deadline = time.monotonic() + 60  # a bound for a stuck kubectl, not a timing the test checks
        while (not any(r.query.get("watch") == "true" for r in kubectl.api.requests) and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.05)  # until the watch request has arrived (the list came before it)
        pod = kubectl.api.get("Pod", pod_name, namespace)
        status = pod["status"]["containerStatuses"][0]
        status.update(state={"running": {"startedAt": "2020-09-17T16:03:00Z"}}, ready=True, restartCount=8)
        kubectl.api.modify(pod)  # kubectl watches from the list's resourceVersion: this change is replayed
        kubectl.api.drop_watches()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], err
    assert [r[:4] for r in rows[1:]] == [[pod_name, "0/1", "CrashLoopBackOff", "7"], [pod_name, "1/1", "Running", "8"]]
