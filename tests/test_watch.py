"""``aml-doctor SERVICE --watch`` on scripted timelines: the real ``kubernetes`` client (its list
and watch calls) against the API-server emulator on 127.0.0.1, which the test changes step by
step while the watch runs. Nothing is mocked.

The service is the ``crashloop-init-keyerror`` scenario's ``recsys-ranker``. Its objects come from
the collector tests' realistic v1 cluster, and its crash log is the scenario's real log.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest
from aml_doctor.cli.main import main
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.evidence.store import load
from aml_doctor.findings import Category, Verdict
from aml_doctor.engine.plugins import load_plugins
from emulators.kube_apiserver import KubeApiServer
from aml_doctor.cli.watch import MAX_EVENTS, EvidenceState, watch_service
from test_collect_kubernetes import (
    INIT,
    _event,
    azureml_cluster,
    service_objects,
)

NS = "azureml-personalization-ws"
SERVICE = "recsys-ranker"
POD = "recsys-ranker-tr2ks7vqp-hrxq2"
RS = "recsys-ranker-tr2ks7vqp"
CRASH_LOG = (Path(__file__).parent / "scenarios/crashloop-init-keyerror/logs" / POD / "recsys-ranker.previous.log").read_text()
BOOT_LOG = CRASH_LOG.split("User's init function failed")[0]  # the log while init() still runs
T1 = "2026-11-20T09:14:05Z"
TIMEOUT = 30.0
RULES = load_plugins().rules


def analyze_files(files):
    return analyze(load(files, signals=signals_for(RULES)), RULES)


# ----------------------------------------------------------------------------- the timeline's objects
def objects():
    deployment, rs, pod = copy.deepcopy(service_objects(SERVICE, NS, pod=POD, rs=RS, claim="recsys-ranker9c1e2f-pvc",
                                                         configmap="recsys-ranker9c1e2f-config", crashing=True))
    deployment["status"] = {}
    return deployment, rs, pod


def pending(pod):
    pod = copy.deepcopy(pod)
    del pod["spec"]["nodeName"]
    pod["status"] = {"phase": "Pending", "qosClass": "Guaranteed"}
    return pod


def scheduled(pod):
    """Volumes mounting: kubectl shows Init:0/1, both containers wait in PodInitializing."""
    pod = copy.deepcopy(pod)
    image = pod["spec"]["containers"][0]["image"]
    pod["status"] = {
        "conditions": [
            {"lastTransitionTime": T1, "message": f"containers with incomplete status: [{INIT}]", "reason": "ContainersNotInitialized",
             "status": "False", "type": "Initialized"},
            {"lastTransitionTime": T1, "message": f"containers with unready status: [{SERVICE}]", "reason": "ContainersNotReady",
             "status": "False", "type": "Ready"},
            {"lastTransitionTime": T1, "status": "True", "type": "PodScheduled"},
        ],
        "hostIP": "10.240.0.4", "phase": "Pending", "qosClass": "Guaranteed", "startTime": T1,
        "initContainerStatuses": [{"image": pod["spec"]["initContainers"][0]["image"], "imageID": "", "lastState": {}, "name": INIT,
                                   "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}],
        "containerStatuses": [{"image": image, "imageID": "", "lastState": {}, "name": SERVICE, "ready": False,
                               "restartCount": 0, "started": False, "state": {"waiting": {"reason": "PodInitializing"}}}],
    }
    return pod


def init_running(pod):
    pod = scheduled(pod)
    pod["status"]["initContainerStatuses"][0]["state"] = {"running": {"startedAt": "2026-11-20T09:14:20Z"}}
    return pod


def running_not_ready(pod, crashed_pod=None):
    pod = scheduled(pod)
    pod["status"]["phase"] = "Running"
    pod["status"]["podIP"] = "10.244.1.17"
    pod["status"]["conditions"][0] = {"lastTransitionTime": T1, "status": "True", "type": "Initialized"}
    pod["status"]["initContainerStatuses"][0].update(
        ready=True, state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-20T09:14:20Z",
                                          "finishedAt": "2026-11-20T09:14:30Z"}})
    pod["status"]["containerStatuses"][0].update(started=True, state={"running": {"startedAt": "2026-11-20T09:14:31Z"}})
    return pod


def crashed(pod):
    """The first crash: exit 3 after init() raised, back-off 10s before the restart."""
    pod = running_not_ready(pod)
    pod["status"]["containerStatuses"][0].update(
        restartCount=1, started=False,
        lastState={"terminated": {"exitCode": 3, "reason": "Error", "startedAt": "2026-11-20T09:14:31Z", "finishedAt": "2026-11-20T09:14:39Z"}},
        state={"waiting": {"reason": "CrashLoopBackOff",
                           "message": f"back-off 10s restarting failed container={SERVICE} pod={POD}_{NS}(8e2d1c4b-6f3a-4b9e-a1d7-3c5f9e2b7a10)"}})
    return pod


def ready(pod):
    pod = running_not_ready(pod)
    pod["status"]["conditions"][1] = {"lastTransitionTime": T1, "status": "True", "type": "Ready"}
    pod["status"]["conditions"].append({"lastTransitionTime": T1, "status": "True", "type": "ContainersReady"})
    pod["status"]["containerStatuses"][0]["ready"] = True
    return pod


def cluster() -> KubeApiServer:
    """The namespace before the deployment: the ConfigMap, the PVC, the nodes, another service."""
    others, _ = azureml_cluster(other_services=0)
    api = KubeApiServer([o for o in others if o["kind"] in ("Node", "Namespace")])
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api


class Watcher:
    """Runs watch_service in a thread and lets the test wait for each stage it announces."""

    def __init__(self, api: KubeApiServer, **kwargs):
        from kubernetes import client

        self.messages: list[tuple[float, str]] = []
        self.changed = threading.Condition()
        self.outcome = None
        self.client = client.ApiClient(api.configuration())
        kwargs.setdefault("timeout", TIMEOUT)
        self.thread = threading.Thread(target=self._run, args=(kwargs,), daemon=True)
        self.thread.start()

    def _run(self, kwargs):
        self.outcome = watch_service(SERVICE, NS, self.client, analyze_files, log_lines=500, request_timeout=5.0,
                                     progress=self._say, **kwargs)
        with self.changed:
            self.changed.notify_all()

    def _say(self, message: str) -> None:
        with self.changed:
            self.messages.append((time.monotonic(), message))
            self.changed.notify_all()

    def wait_for(self, prefix: str, timeout: float = 30.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: any(m.startswith(prefix) for _, m in self.messages), timeout), (prefix, self.messages)

    def result(self, timeout: float = TIMEOUT + 5):
        self.thread.join(timeout)
        self.client.close()
        assert self.outcome is not None, self.messages
        return self.outcome


# ----------------------------------------------------------------------------- timelines
def test_crash_timeline_verdict_right_after_the_first_crash():
    deployment, rs, pod = objects()
    with cluster() as api:
        watcher = Watcher(api)
        watcher.wait_for(f"Waiting for Deployment {SERVICE}")
        api.add(deployment)
        watcher.wait_for("Deployment created, no pods yet")
        api.add(rs)
        api.add(pending(pod))
        watcher.wait_for("Pending: scheduling")
        api.add(_event(NS, "Pod", POD, "Scheduled", f"Successfully assigned {NS}/{POD} to aks-agentpool-31415926-vmss000000", "Normal"))
        api.modify(scheduled(pod))
        watcher.wait_for("ContainerCreating: mounting volume")
        api.modify(init_running(pod))
        watcher.wait_for("Init: downloading model and code")
        api.set_log(NS, POD, SERVICE, BOOT_LOG)
        api.modify(running_not_ready(pod))
        watcher.wait_for("Running, not ready: init()")
        assert watcher.thread.is_alive()  # no verdict while init() runs

        api.set_log(NS, POD, SERVICE, CRASH_LOG, previous=True)
        crash_at = time.monotonic()
        api.modify(crashed(pod))
        api.add(_event(NS, "Pod", POD, "BackOff", "Back-off restarting failed container"))
        outcome = watcher.result()
        verdict_at = time.monotonic()
        requests = api.requests

    assert outcome.result == "failing"
    cause = outcome.report.root_cause
    assert (cause.rule, cause.category) == ("AML004", Category.ENTRY_SCRIPT_INIT_ERROR)
    assert cause.title == "init() raised an exception: KeyError: 'MODEL_NAME' in init() at score.py line 17"
    assert outcome.stages == [
        f"Waiting for Deployment {SERVICE} to appear", "Deployment created, no pods yet", "Pending: scheduling",
        "ContainerCreating: mounting volume", "Init: downloading model and code", "Running, not ready: init()",
        "CrashLoopBackOff: 1 restart(s)"]
    # The verdict came from the crash, not from the deadline (generous for a loaded machine).
    assert verdict_at - crash_at < TIMEOUT / 3  # and outcome.result above says the deadline was not reached
    assert {r.method for r in requests} == {"GET"}
    watches = {r.path for r in requests if r.query.get("watch") == "true"}
    assert watches == {f"/apis/apps/v1/namespaces/{NS}/deployments", f"/api/v1/namespaces/{NS}/pods", f"/api/v1/namespaces/{NS}/events"}
    pod_watch = next(r for r in requests if r.query.get("watch") == "true" and r.path.endswith("/pods"))
    assert pod_watch.query["labelSelector"] == f"azuremlappname={SERVICE}" and pod_watch.query["resourceVersion"]
    logs = [r.query for r in requests if r.path == f"/api/v1/namespaces/{NS}/pods/{POD}/log"]
    assert {"container": SERVICE, "previous": "true", "tailLines": "500"} in logs


def test_healthy_timeline_stops_when_every_pod_is_ready():
    deployment, rs, pod = objects()
    with cluster() as api:
        api.add(deployment)
        api.add(rs)
        api.add(pending(pod))
        watcher = Watcher(api)
        watcher.wait_for("Pending: scheduling")
        api.modify(running_not_ready(pod))
        watcher.wait_for("Running, not ready: init()")
        api.set_log(NS, POD, SERVICE, BOOT_LOG + "Users's init has completed successfully\n")
        api.modify(ready(pod))
        outcome = watcher.result()
    assert outcome.result == "healthy" and outcome.stage == "Running, ready (1/1)"
    assert outcome.report.verdict is Verdict.NO_PROBLEM_FOUND
    assert outcome.seconds < TIMEOUT / 3


def test_pending_on_failed_scheduling_is_aml009_and_until_healthy_waits_for_the_timeout():
    deployment, rs, pod = objects()
    unschedulable = pending(pod)  # the scheduler's first attempt: its event, then the pod's condition
    message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    failed = _event(NS, "Pod", POD, "FailedScheduling", message)
    failed.update(source={"component": "default-scheduler"}, reportingComponent="default-scheduler")
    with cluster() as api:
        api.add(deployment)
        api.add(rs)
        api.add(unschedulable)
        watcher = Watcher(api)
        watcher.wait_for("Pending: scheduling")
        api.add(failed)
        outcome = watcher.result()

        patient = Watcher(api, until_healthy=True, timeout=2.0)
        patient.wait_for("root cause so far: AML009")
        waited = patient.result()

    assert outcome.result == "failing" and outcome.report.root_cause.rule == "AML009"
    assert outcome.stage == f"Pending: scheduling (FailedScheduling: {message})"
    assert outcome.report.root_cause.title.startswith("Pods cannot be scheduled: 3 Insufficient cpu")
    assert outcome.report.root_cause.evidence[0].locator.startswith("kubernetes/events.json#")
    assert waited.result == "timeout" and waited.seconds >= 2.0
    assert waited.report.root_cause.rule == "AML009"


def test_a_dropped_watch_resumes_from_the_last_resource_version():
    deployment, rs, pod = objects()
    with cluster() as api:
        api.add(deployment)
        api.add(rs)
        api.set_log(NS, POD, SERVICE, BOOT_LOG)
        api.add(running_not_ready(pod))
        watcher = Watcher(api)
        watcher.wait_for("Running, not ready: init()")
        seen_version = api.get("Pod", POD, NS)["metadata"]["resourceVersion"]
        api.drop_watches()  # an API server restart or an idle cut: every stream ends
        pods_path = f"/api/v1/namespaces/{NS}/pods"
        deadline = time.monotonic() + 5
        while sum(1 for r in api.requests if r.path == pods_path and r.query.get("watch") == "true") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        api.set_log(NS, POD, SERVICE, CRASH_LOG, previous=True)
        api.modify(crashed(pod))  # seen only through the resumed watch
        outcome = watcher.result()
        requests = api.requests
    assert outcome.result == "failing" and outcome.report.root_cause.rule == "AML004"
    pod_watches = [r.query for r in requests if r.path == f"/api/v1/namespaces/{NS}/pods" and r.query.get("watch") == "true"]
    assert len(pod_watches) == 2  # resumed once, and not re-listed
    assert pod_watches[1]["resourceVersion"] == seen_version


def test_410_gone_relists_and_the_watch_goes_on():
    deployment, rs, pod = objects()
    with cluster() as api:
        api.add(deployment)
        api.add(rs)
        api.set_log(NS, POD, SERVICE, BOOT_LOG)
        api.add(running_not_ready(pod))
        watcher = Watcher(api)
        watcher.wait_for("Running, not ready: init()")
        pods_path = f"/api/v1/namespaces/{NS}/pods"
        lists_before = lists(api.requests, pods_path)
        api.fail(pods_path, 410, "too old resource version: 1010 (1450)")
        api.drop_watches()
        deadline = time.monotonic() + 5
        while not sum(1 for r in api.requests if r.path == pods_path and r.query.get("watch") == "true") >= 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        api.clear_faults()
        api.set_log(NS, POD, SERVICE, CRASH_LOG, previous=True)
        api.modify(crashed(pod))
        outcome = watcher.result()
        requests = api.requests
    assert outcome.result == "failing" and outcome.report.root_cause.rule == "AML004"
    assert lists(requests, pods_path) > lists_before  # 410 on the resumed watch: listed again


def lists(requests, path: str) -> int:
    return sum(1 for r in requests if r.path == path and r.query.get("watch") != "true")


# ----------------------------------------------------------------------------- bounded memory
def test_memory_stays_bounded_however_many_events_and_logs():
    state = EvidenceState(SERVICE, max_log_bytes=4096)
    deployment, _, pod = objects()
    state.apply("deployments", "ADDED", deployment)
    for i in range(50):
        name = f"{RS}-{i:05d}"
        state.apply("pods", "ADDED", dict(pod, metadata={**pod["metadata"], "name": name}))
        state.put_log(name, SERVICE, True, CRASH_LOG.encode() * 10)
        state.apply("pods", "DELETED", {"metadata": {"name": name}})
        for n in range(40):
            event = _event(NS, "Pod", name, "BackOff", "Back-off restarting failed container", count=n + 1)
            event["metadata"]["uid"] = f"{name}-{n}"
            state.apply("events", "ADDED", event)
    assert len(state.events) == MAX_EVENTS
    assert state.pods == {} and state.logs == {}  # a deleted pod's logs go with it
    state.put_log(POD, SERVICE, True, CRASH_LOG.encode() * 10)
    assert len(state.logs[f"logs/{POD}/{SERVICE}.previous.log"]) == 4096
    assert state.logs[f"logs/{POD}/{SERVICE}.previous.log"].endswith(b"Exit code 3 is not normal. Killing image.\n")
    other = _event(NS, "Pod", "scorer0000-7b9c5d6f8d-p4t6w", "BackOff", "Back-off restarting failed container")
    assert not state.apply("events", "ADDED", other)  # another service's event is not kept


# ----------------------------------------------------------------------------- the command
@pytest.fixture
def crashing_cluster(tmp_path):
    objs, logs = azureml_cluster(other_services=1)
    with KubeApiServer(objs) as api:
        for (ns, pod, container, previous), text in logs.items():
            api.set_log(ns, pod, container, text, previous=previous)
        yield api, api.write_kubeconfig(str(tmp_path / "kubeconfig"))


def test_cli_watch_exit_codes(crashing_cluster, capsys, tmp_path):
    api, kubeconfig = crashing_cluster
    code = main(["myservice", "--watch", "-n", "azureml-myws", "--kubeconfig", kubeconfig, "--timeout", "20", "-f", "json",
                 "--output-file", str(tmp_path / "report.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert "CrashLoopBackOff: 6 restart(s)" in err and "root cause after" in err and "AML004" in err
    assert '"rule": "AML004"' in (tmp_path / "report.json").read_text()

    pod = api.get("Pod", "scorer0000-7b9c5d6f8d-p4t6w", "azureml-myws")
    pod["status"]["conditions"][1] = {"lastTransitionTime": T1, "status": "True", "type": "Ready"}
    pod["status"]["containerStatuses"][0].update(ready=True, restartCount=0, lastState={})
    api.modify(pod)
    code = main(["scorer0000", "--watch", "-w", "MyWS", "--kubeconfig", kubeconfig, "--timeout", "20", "-q", "-f", "json",
                 "--output-file", str(tmp_path / "healthy.json")])
    assert code == 0 and capsys.readouterr().err == ""

    code = main(["not-there-yet", "--watch", "--kubeconfig", kubeconfig, "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "--watch needs --namespace or --workspace-name" in err and len(err.splitlines()) == 1


def test_cli_watch_times_out_with_exit_1(crashing_cluster, capsys):
    _, kubeconfig = crashing_cluster
    started = time.monotonic()
    code = main(["late-service", "--watch", "-n", "azureml-myws", "--kubeconfig", kubeconfig, "--timeout", "1"])
    captured = capsys.readouterr()
    assert code == 1 and time.monotonic() - started < 60  # --timeout 1, generous for a loaded machine
    assert "Waiting for Deployment late-service to appear" in captured.err
    assert "no verdict within --timeout 1 s" in captured.err
