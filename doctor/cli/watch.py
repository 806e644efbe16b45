"""``aml-doctor SERVICE --watch``: follow a deployment while it happens and stop at the first verdict.

Three Kubernetes watches (the Deployment by name, the pods by ``azuremlappname``, the namespace's
events) feed one loop. The loop keeps only the latest version of each object, a bounded ring of
events and bounded log tails, so its memory stays flat however long it runs. Each change re-runs
the rules over that evidence, and the loop stops when

* every pod is Ready (healthy), or
* the rules name a root cause (a cause, not a symptom) with confidence >= 0.7 at a stage the pods
  have not got past (failing; a FailedMount the pod has since recovered from decides nothing), or
* ``--timeout`` passes.

A restart seen in a pod's status fetches the crashed container's previous log, which is where the
``init()`` traceback is. A watch that ends (the server's own timeout, a dropped connection)
resumes from the last resourceVersion it saw; a 410 Gone (that version is too old) re-lists.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aml_doctor.common.text import error_line
from aml_doctor.collect.core import ServiceObjects, claims_of, event_filter, involved, owned_name, template_spec, workspace_namespace
from aml_doctor.findings import Report
from aml_doctor.views.podstage import DeploymentStage, PodStage, deployment_stage  # noqa: F401 - PodStage is part of watch's API

DECISIVE_CONFIDENCE = 0.7
MAX_EVENTS = 200  # the service's most recent events; older ones add nothing a rule needs
MAX_LOG_BYTES = 512 * 1024  # per log, on top of --log-lines
WATCH_SECONDS = 300  # each watch request's server-side timeout; the loop resumes after it

def decisive_cause(report: Report, where: DeploymentStage):
    """The report's root cause when it is enough to stop on, else None.

    A cause at a stage the pods have already got past is history (a transient FailedMount, say),
    not the reason the deployment is stuck."""
    cause = report.root_cause
    if cause is None or cause.confidence < DECISIVE_CONFIDENCE:
        return None
    if where.stage is not None and cause.stage < where.stage:
        return None
    return cause


# ----------------------------------------------------------------------------- the evidence held
class EvidenceState:
    """The latest version of each watched object, a bounded ring of events and bounded log tails."""

    def __init__(self, service: str, *, max_events: int = MAX_EVENTS, max_log_bytes: int = MAX_LOG_BYTES):
        self.service = service
        self.deployment: dict | None = None
        self.pods: dict[str, dict] = {}
        self.events: OrderedDict[str, dict] = OrderedDict()  # event uid -> latest version, oldest first
        self.logs: dict[str, bytes] = {}  # bundle path -> tail
        self.max_events, self.max_log_bytes = max_events, max_log_bytes
        self._seen_runs: dict[tuple[str, str], tuple] = {}  # (pod, container) -> (restarts, finishedAt)
        self._owned = owned_name(service)  # events of pods not yet seen are kept too

    def apply(self, resource: str, kind: str, obj: Any) -> bool:
        """One watch event (``ADDED``/``MODIFIED``/``DELETED``) or a re-list (``RESET`` with the items)."""
        if kind == "RESET":
            changed = False
            if resource == "pods":
                for name in set(self.pods) - {p["metadata"]["name"] for p in obj}:
                    self._forget_pod(name)
                    changed = True
            elif resource == "deployments" and not obj and self.deployment is not None:
                self.deployment, changed = None, True
            for item in obj:
                changed |= self.apply(resource, "ADDED", item)
            return changed
        deleted = kind == "DELETED"
        if resource == "deployments":
            if obj["metadata"].get("name") != self.service:
                return False
            self.deployment = None if deleted else obj
        elif resource == "pods":
            name = obj["metadata"]["name"]
            if deleted:
                self._forget_pod(name)
            else:
                self.pods[name] = obj
        elif resource == "events":
            if not self.involves(obj):
                return False
            key = obj["metadata"].get("uid") or obj["metadata"]["name"]
            self.events.pop(key, None)
            if not deleted:
                self.events[key] = obj
                while len(self.events) > self.max_events:
                    self.events.popitem(last=False)
        return True

    def involves(self, event: dict) -> bool:
        """The service's event, by the collectors' one filter, or one of a ReplicaSet or pod of
        the service that the watch has not seen yet."""
        objects = ServiceObjects(self.service, self.deployment, (), tuple(self.pods.values()), tuple(self._claims()))
        if event_filter(objects)(event):
            return True
        kind, name, _ = involved(event)
        return kind in ("ReplicaSet", "Pod") and bool(self._owned.match(name or ""))

    def events_of(self, kind: str, name: str) -> list[dict]:
        """Events of one object, oldest first; ``name=""`` for every object of that kind."""
        return [e for e in self.events.values()
                if (e.get("involvedObject") or {}).get("kind") == kind and (not name or e["involvedObject"].get("name") == name)]

    def stage(self) -> DeploymentStage:
        return deployment_stage(self.service, self.deployment, list(self.pods.values()), self.events_of)

    def put_log(self, pod: str, container: str, previous: bool, data: bytes) -> None:
        self.logs[f"logs/{pod}/{container}{'.previous' if previous else ''}.log"] = data[-self.max_log_bytes:]

    def crashed_containers(self) -> list[tuple[str, str, bool]]:
        """(pod, container, previous) of logs worth reading since the last call: a restart (the
        previous instance's log) or a container that has just ended (its current log)."""
        wanted = []
        for name, pod in self.pods.items():
            status = pod.get("status") or {}
            for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                restarts = cs.get("restartCount") or 0
                ended = (cs.get("state") or {}).get("terminated")
                last = (cs.get("lastState") or {}).get("terminated") or {}
                run = (restarts, last.get("finishedAt"), (ended or {}).get("finishedAt"))
                key = (name, cs.get("name", ""))
                if self._seen_runs.get(key) == run:
                    continue
                self._seen_runs[key] = run
                if restarts and last:
                    wanted.append((name, key[1], True))
                if ended and ended.get("exitCode") != 0:
                    wanted.append((name, key[1], False))
        return wanted

    def files(self) -> dict[str, Any]:
        from aml_doctor.collect.kubernetes import kubectl_list

        files: dict[str, Any] = {
            "kubernetes/deployments.json": kubectl_list("deployments", [self.deployment] if self.deployment else []),
            "kubernetes/pods.json": kubectl_list("pods", list(self.pods.values())),
            "kubernetes/events.json": kubectl_list("events", list(self.events.values())),
        }
        files.update(self.logs)
        return files

    def _claims(self) -> list[str]:
        specs = [template_spec(self.deployment, [])] + [p.get("spec") or {} for p in self.pods.values()]
        return claims_of(specs)

    def _forget_pod(self, name: str) -> None:
        self.pods.pop(name, None)
        for path in [p for p in self.logs if p.startswith(f"logs/{name}/")]:
            del self.logs[path]
        for key in [k for k in self._seen_runs if k[0] == name]:
            del self._seen_runs[key]


# ----------------------------------------------------------------------------- the watches
class Follower(threading.Thread):
    """List once, then watch from the list's resourceVersion; resume after a drop, re-list after 410.

    Everything it sees goes to ``out`` as ``(resource, kind, object)``; a failure goes as
    ``(resource, "FAILED", line)`` and is retried with a growing pause."""

    def __init__(self, resource: str, method: Callable, args: tuple, kwargs: dict, out: queue.Queue,
                 stop: threading.Event, request_timeout: float):
        super().__init__(name=f"watch-{resource}", daemon=True)
        self.resource, self.method, self.args, self.kwargs = resource, method, args, kwargs
        self.out, self.stop_event, self.request_timeout = out, stop, request_timeout
        self.resumes = self.relists = 0
        self._response = None

    def run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        from aml_doctor.collect.kubeapi import watch_lines

        version: str | None = None
        failures = 0
        while not self.stop_event.is_set():
            try:
                if version is None:
                    listed = json.loads(self.method(*self.args, _preload_content=False, _request_timeout=self.request_timeout,
                                                    **self.kwargs).data)
                    version = listed["metadata"]["resourceVersion"]
                    self.out.put((self.resource, "RESET", listed.get("items") or []))
                self._response = self.method(
                    *self.args, watch=True, resource_version=version, timeout_seconds=WATCH_SECONDS,
                    allow_watch_bookmarks=True, _request_timeout=(self.request_timeout, WATCH_SECONDS + self.request_timeout),
                    **self.kwargs)
                for line in watch_lines(self._response, self.stop_event):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":  # a Status in the stream: 410 Gone when the version is too old
                        raise ApiException(status=obj.get("code"), reason=obj.get("reason") or obj.get("message"))
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") != "BOOKMARK":
                        self.out.put((self.resource, event.get("type"), obj))
                if not self.stop_event.is_set():
                    self.resumes += 1  # the stream ended: go on from the last version seen
                failures = 0
            except ApiException as exc:
                if exc.status == 410 and version is not None:
                    version = None  # that version is gone from the server's window: list again
                    self.relists += 1
                    continue
                failures = self._failed(f"{exc.status} {exc.reason}", failures)
            except Exception as exc:  # noqa: BLE001 - transport errors of many types; the loop retries
                if self.stop_event.is_set():
                    break
                failures = self._failed(error_line(exc), failures)

    def _failed(self, line: str, failures: int) -> int:
        self.out.put((self.resource, "FAILED", line))
        self.stop_event.wait(min(5.0, 0.2 * 2 ** failures))
        return failures + 1

    def close(self) -> None:
        """Unblock the thread's read: shut the socket down (closing the response from here would
        wait for the lock the blocked read holds); the thread closes the response as it ends."""
        import socket

        sock = getattr(getattr(self._response, "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ----------------------------------------------------------------------------- the loop
@dataclass
class WatchOutcome:
    result: str  # "healthy", "failing" or "timeout"
    report: Report
    stage: str
    stages: list[str] = field(default_factory=list)
    seconds: float = 0.0


def watch_service(
    service: str,
    namespace: str,
    api_client: Any,
    analyze_files: Callable[[dict[str, bytes]], Report],
    *,
    timeout: float,
    until_healthy: bool = False,
    log_lines: int = 2000,
    request_timeout: float = 20.0,
    workspace: str = "",
    progress: Callable[[str], None] = lambda message: None,
) -> WatchOutcome:
    """Follow ``service`` in ``namespace`` until it is healthy, a root cause is decisive (unless
    ``until_healthy``) or ``timeout`` seconds pass. ``analyze_files`` turns bundle files into a Report."""
    from aml_doctor.collect.core import service_selector
    from aml_doctor.collect.kubeapi import AppsCalls, CoreCalls

    started = time.monotonic()
    deadline = started + timeout
    core, apps = CoreCalls(api_client), AppsCalls(api_client)
    changes: queue.Queue = queue.Queue()
    stop = threading.Event()
    followers = [
        Follower("deployments", apps.list_namespaced_deployment, (namespace,), {"field_selector": f"metadata.name={service}"},
                 changes, stop, request_timeout),
        Follower("pods", core.list_namespaced_pod, (namespace,), {"label_selector": service_selector(service)},
                 changes, stop, request_timeout),
        Follower("events", core.list_namespaced_event, (namespace,), {}, changes, stop, request_timeout),
    ]
    run = _Run(service, namespace, workspace, api_client, core, analyze_files, log_lines, request_timeout, progress)
    for follower in followers:
        follower.start()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return run.finish("timeout", started, until_healthy)
            try:
                item = changes.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if not run.take([item] + _drain(changes)):
                continue
            outcome = run.judge(until_healthy, started)
            if outcome is not None:
                return outcome
    finally:
        stop.set()
        for follower in followers:
            follower.close()


def _drain(changes: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(changes.get_nowait())
        except queue.Empty:
            return items


class _Run:
    """The loop's state: the evidence, the snapshot of what is not watched, the stages seen."""

    def __init__(self, service, namespace, workspace, api_client, core, analyze_files, log_lines, request_timeout, progress):
        self.service, self.namespace, self.workspace = service, namespace, workspace
        self.api_client, self.core, self.analyze_files = api_client, core, analyze_files
        self.log_lines, self.request_timeout, self.progress = log_lines, request_timeout, progress
        self.state = EvidenceState(service)
        self.snapshot = None  # Part: ConfigMap, PVC/PV, Service, Endpoints, nodes, azureml-fe pods
        self.failures: dict[str, str] = {}  # resource -> why its watch fails
        self.stages: list[str] = []
        self.announced_cause = ""

    def take(self, items: list) -> bool:
        changed = False
        for resource, kind, obj in items:
            if kind == "FAILED":
                if self.failures.get(resource) != obj:
                    self.progress(f"watching {resource}: {obj}; retrying")
                self.failures[resource] = obj
                continue
            self.failures.pop(resource, None)
            # A (re-)list always counts: the first one is when the stage is first known.
            changed |= self.state.apply(resource, kind, obj) or kind == "RESET"
        return changed

    def judge(self, until_healthy: bool, started: float) -> WatchOutcome | None:
        if self.state.deployment is not None and self.snapshot is None:
            self._take_snapshot()
        where = self.state.stage()
        self._announce(where.text)
        if self.state.deployment is None:
            return None
        for pod, container, previous in self.state.crashed_containers():
            self._read_log(pod, container, previous)
        report = self.analyze()
        if where.healthy:
            return WatchOutcome("healthy", report, where.text, self.stages, time.monotonic() - started)
        cause = decisive_cause(report, where)
        if cause is not None and not until_healthy:
            return WatchOutcome("failing", report, where.text, self.stages, time.monotonic() - started)
        if cause is not None and cause.title != self.announced_cause:
            self.announced_cause = cause.title
            self.progress(f"root cause so far: {cause.rule} {cause.title}; waiting for healthy (--until-healthy)")
        return None

    def finish(self, result: str, started: float, until_healthy: bool) -> WatchOutcome:
        """At the deadline: read the current logs once, so the last report has them, and report."""
        where = self.state.stage()
        for name, pod in list(self.state.pods.items()):
            spec = pod.get("spec") or {}
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                self._read_log(name, c["name"], False)
        self.progress(f"--timeout reached at stage: {where.text}")
        report = self.analyze()
        if self.state.deployment is None:
            # Nothing to judge is not health: the report must not read "no problem found".
            result = "not_seen"
        return WatchOutcome("healthy" if where.healthy else result, report, where.text, self.stages, time.monotonic() - started)

    def analyze(self) -> Report:
        from aml_doctor.collect.part import Gap, Part, manifest, render_files

        part = Part()
        watched = ("deployments", "pods", "events", "container_logs")
        if self.snapshot is not None:
            part.files.update({p: v for p, v in self.snapshot.files.items()
                               if not p.startswith("logs/") and p not in self.state.files()})
            part.collected += [c for c in self.snapshot.collected if c not in watched]
            part.gaps += [g for g in self.snapshot.gaps if g.what not in watched]
        part.files.update(self.state.files())
        part.collected += [r for r in ("deployments", "pods", "events") if r not in self.failures]
        if self.state.logs:
            part.collected.append("container_logs")
        part.gaps += [Gap(resource, line) for resource, line in self.failures.items()]
        if self.state.deployment is None and "deployments" not in self.failures:
            never = f"no Deployment named {self.service} appeared in {self.namespace} while watching"
            part.collected = [c for c in part.collected if c not in ("deployments", "pods")]
            part.gaps += [Gap("deployments", never), Gap("pods", never)]
        for what in ("azureml_service", "azureml_logs", "azureml_init_logs", "storage_index", "build_log"):
            part.gaps.append(Gap(what, "--watch follows the cluster only"))
        return self.analyze_files(render_files(manifest(self.service, self.namespace, self.workspace, part), part))

    def _announce(self, text: str) -> None:
        if not self.stages or self.stages[-1] != text:
            self.stages.append(text)
            self.progress(text)

    def _take_snapshot(self) -> None:
        """What the watches do not follow, read once when the Deployment appears; the logs of pods
        that already exist come with it, so a watch started after the crash sees the crash."""
        from aml_doctor.collect.kubernetes import ServiceNotFound, collect_kubernetes

        try:
            self.snapshot = collect_kubernetes(self.service, namespace=self.namespace, api_client=self.api_client,
                                               log_lines=self.log_lines, request_timeout=self.request_timeout)
        except ServiceNotFound:
            return  # deleted again in between: the next change retries
        for path, data in self.snapshot.files.items():
            if path.startswith("logs/") and path.count("/") == 2:
                pod, name = path.split("/")[1:]
                previous = name.endswith(".previous.log")
                container = name[: -len(".previous.log")] if previous else name[: -len(".log")]
                if pod in self.state.pods:
                    self.state.put_log(pod, container, previous, data)

    def _read_log(self, pod: str, container: str, previous: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        self.progress(f"reading the {'previous ' if previous else ''}log of {pod}/{container}")
        try:
            data = self.core.read_namespaced_pod_log(
                pod, self.namespace, container=container, previous=previous or None, tail_lines=self.log_lines or None,
                _preload_content=False, _request_timeout=self.request_timeout).data
        except ApiException as exc:
            if exc.status != 400:  # 400: not there (yet), the container is waiting or never restarted
                self.failures["container_logs"] = f"logs/{pod}/{container}: {exc.status} {exc.reason}"
            return
        except Exception as exc:  # noqa: BLE001 - a timeout or a lost connection: the report says so
            self.failures["container_logs"] = f"logs/{pod}/{container}: {type(exc).__name__}"
            return
        self.state.put_log(pod, container, previous, data)


# ----------------------------------------------------------------------------- the command
def run_watch(args, progress: Callable[[str], None], analyze_files: Callable[[dict[str, bytes], str], Report]) -> int:
    """``aml-doctor SERVICE --watch``: exit 0 when healthy, 1 on a root cause or at --timeout."""
    import sys

    from aml_doctor.cli.errors import UsageError
    from aml_doctor.cli.output import emit
    from aml_doctor.collect.kubernetes import (
        ServiceNotFound,
        CallFailed,
        find_namespace,
        Reader,
    )
    from aml_doctor.cli.liverun import kube_client
    from aml_doctor.collect.part import Part
    from aml_doctor.cli.config import load_config
    from aml_doctor.common.exitcodes import ExitCode

    service = args.service[0]
    from aml_doctor.common.termsafe import safe_progress

    progress = safe_progress(progress)  # pod, event and stage texts come from the cluster
    try:
        api_client = kube_client(args)  # the run's one client, closed when the run ends
    except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
        print(f"aml-doctor: error: cannot use {args.kubeconfig or 'the default kubeconfig'}: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    namespace = args.namespace or (workspace_namespace(args.workspace_name) if args.workspace_name else None)
    if namespace is None and not args.all_namespaces:
        namespace = getattr(args, "context_namespace", None)  # kubectl's default: the context's namespace
    if namespace is None:
        try:
            namespace, _ = find_namespace(Reader(api_client, args.request_timeout, Part()), service)
        except (ServiceNotFound, CallFailed) as exc:
            raise UsageError(f"{exc}; --watch needs --namespace or --workspace-name while the Deployment does not exist yet") from None
    progress(f"watching {service} in {namespace} (up to {args.timeout:g} s)")
    outcome = watch_service(
        service, namespace, api_client, lambda files: analyze_files(files, f"watch: {service}"),
        timeout=args.timeout, until_healthy=args.until_healthy, log_lines=args.log_lines,
        request_timeout=args.request_timeout, workspace=args.workspace_name or "", progress=progress)
    cause = outcome.report.root_cause
    if outcome.result == "healthy":
        progress(f"healthy after {outcome.seconds:.1f} s: {outcome.stage}")
    elif outcome.result == "failing":
        progress(f"root cause after {outcome.seconds:.1f} s: {cause.rule} {cause.title}")
    elif outcome.result == "not_seen":
        progress(f"no verdict within --timeout {args.timeout:g} s: Deployment {service} never appeared in {namespace}; "
                 "check that Model.deploy() was started, and its namespace")
    else:
        progress(f"no verdict within --timeout {args.timeout:g} s; the report shows the evidence so far")
    getattr(progress, "close", lambda: None)()  # a terminal's progress display goes before the report
    emit(outcome.report, args, load_config(getattr(args, "config", None)))
    return ExitCode.OK if outcome.result == "healthy" else ExitCode.FINDINGS
