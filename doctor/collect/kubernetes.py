"""Collect one v1 AzureML web service's Kubernetes evidence, read-only, in a constant number of calls.

Every request is a GET with a timeout. Objects are selected with label selectors and names, never
by listing a whole namespace and fetching each object, so a namespace with a thousand other
services costs the same number of calls as one with none (the events list is the one exception in
size, not in count). Secrets are never read. Anything that fails (401, 403, 404, a timeout, an
unreachable server) becomes a :class:`Gap` with a one-line reason and the rest is still collected.

Each answer is read within ``request_timeout`` as a whole, body included, not only per socket
read: a server that sends one byte a second never trips a read timeout, so the body is read in
pieces against a deadline. Bodies are capped (:data:`MAX_OBJECT_BYTES`, :data:`MAX_LOG_BYTES`): a
log answer over the cap is cut there and the cut recorded as a gap; a list over it is not kept.

Responses are read raw (``_preload_content=False``) and stored as the server sent them: that keeps
the JSON exactly what ``kubectl get -o json`` prints (camelCase, ``...Z`` timestamps, quantities
as strings), where a round trip through the client's models would rewrite timestamps and could
reject objects its models do not expect. Logs are read raw too, so JSON-looking log lines stay
as written.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aml_doctor.views.kube import config_blob_paths, config_document, scoring_container_in
from aml_doctor.common.termsafe import safe_progress
from aml_doctor.common.text import first_line
from aml_doctor.collect.core import (
    SERVICE_LABEL,
    ServiceObjects,
    claims_of,
    event_field_selectors,
    every_log,
    log_path,
    owned_replicasets,
    service_events,
    service_selector,
    template_spec,
    workspace_namespace,
)
from aml_doctor.collect.kubeapi import AppsCalls, CoreCalls
from aml_doctor.collect.part import Gap, Part

NO_DETAIL = "no detail"  # an error without a message, in a gap or error line

RESOURCES = (
    "deployments", "replicasets", "pods", "configmaps", "persistentvolumeclaims", "persistentvolumes",
    "services", "endpoints", "events", "nodes",
)
FRONTEND_PODS = "frontend-pods"  # kubernetes/frontend-pods.json: the azureml-fe pods of the cluster
FRONTEND_NAMESPACES = ("default", "azureml")  # v1 installs azureml-fe in default, the v2 extension in azureml
PREVIOUS_MISSING = re.compile(r"previous terminated container .* not found")
_RBAC = re.compile(r'User "([^"]*)" cannot (\w+) resource "([^"]+)" in API group "[^"]*" '
                   r'(at the cluster scope|in the namespace "([^"]+)")')
_TYPE_META = {  # what kubectl puts back on every List item
    "deployments": ("apps/v1", "Deployment"), "replicasets": ("apps/v1", "ReplicaSet"), "pods": ("v1", "Pod"),
    "configmaps": ("v1", "ConfigMap"), "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
    "persistentvolumes": ("v1", "PersistentVolume"), "services": ("v1", "Service"),
    "endpoints": ("v1", "Endpoints"), "events": ("v1", "Event"), "nodes": ("v1", "Node"), FRONTEND_PODS: ("v1", "Pod"),
}


# The largest answer kept: a List of objects (a namespace's events can reach this), and one log.
MAX_OBJECT_BYTES = 32 * 1024 * 1024
MAX_LOG_BYTES = 8 * 1024 * 1024
_PIECE = 64 * 1024


class ServiceNotFound(Exception):
    """No Deployment named after the service; ``available`` lists the ones that exist."""

    def __init__(self, service: str, namespace: str | None, available: list[str]):
        self.service, self.namespace, self.available = service, namespace, available
        where = f"namespace {namespace}" if namespace else "any azureml-* namespace"
        found = ", ".join(available) if available else "none"
        super().__init__(f"no Deployment named {service!r} in {where}; AzureML services there: {found}")


class CallFailed(Exception):
    def __init__(self, line: str, status: int | None):
        super().__init__(line)
        self.line, self.status = line, status


class Reader:
    """Runs each GET with the timeout and turns any failure into one line.

    Once the server proves unreachable, later calls fail at once with the same line instead of
    each waiting for its own timeout."""

    def __init__(self, api_client: Any, timeout: float, part: Part, deadline: float | None = None):
        self.core = CoreCalls(api_client)
        self.apps = AppsCalls(api_client)
        self.host = api_client.configuration.host
        self.timeout = timeout
        self.part = part
        self.unreachable: str | None = None
        self.deadline = deadline  # time.monotonic() of the whole run's end, or None
        self.cut: str | None = None  # set by raw(limit=..., cut_ok=True) when the answer was cut

    def raw(self, method: Callable, *args: Any, limit: int = MAX_OBJECT_BYTES, cut_ok: bool = False, **kwargs: Any) -> bytes:
        """The answer's body, read whole within the request timeout and at most ``limit`` bytes.
        Over ``limit``: with ``cut_ok`` the first ``limit`` bytes (and ``self.cut`` says so), else
        :class:`CallFailed`."""
        if self.unreachable:
            raise CallFailed(self.unreachable, None)
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        self.cut = None
        ends = time.monotonic() + self.timeout
        if self.deadline is not None:
            ends = min(ends, self.deadline)
        try:
            response = method(*args, _preload_content=False, _request_timeout=self._left(ends), **kwargs)
            try:
                body = self._body(response, ends, limit, cut_ok)
            except BaseException:
                response.close()  # a half-read answer must never go back to the connection pool
                raise
            if hasattr(response, "release_conn"):
                response.release_conn()
            return body
        except ApiException as exc:
            if not exc.status:  # the client's wrapper for TLS failures
                self.unreachable = f"TLS error talking to the API server at {self.host}: {first_line(exc.reason, NO_DETAIL)}"
                raise CallFailed(self.unreachable, None) from None
            raise CallFailed(_http_line(exc.status, exc.body), exc.status) from None
        except (HTTPError, OSError) as exc:  # urllib3 and socket errors: the request never got an answer
            line, unreachable = self._transport_line(exc)
            if unreachable:
                self.unreachable = line
            raise CallFailed(line, None) from None

    def _left(self, ends: float) -> float:
        left = ends - time.monotonic()
        if left <= 0:
            raise CallFailed(f"timed out after {self.timeout:g} s waiting for the API server at {self.host}", None)
        return left

    def _body(self, response: Any, ends: float, limit: int, cut_ok: bool) -> bytes:
        pieces: list[bytes] = []
        size = 0
        sock = _socket_of(response)
        while True:
            left = self._left(ends)
            if sock is not None:
                sock.settimeout(max(0.05, left))  # no single read may outlast the deadline
            piece = response.read1(_PIECE) if hasattr(response, "read1") else response.read(_PIECE)
            if not piece:
                return b"".join(pieces)
            size += len(piece)
            if size > limit:
                if not cut_ok:
                    raise CallFailed(
                        f"the answer from {self.host} is larger than {limit // 2**20} MiB; not read (the cap on one answer)", None)
                pieces.append(piece[: len(piece) - (size - limit)])
                self.cut = f"the answer was larger than {limit // 2**20} MiB; only its first {limit // 2**20} MiB were read"
                response.close()
                return b"".join(pieces)
            pieces.append(piece)

    def json(self, method: Callable, *args: Any, **kwargs: Any) -> dict:
        data = self.raw(method, *args, **kwargs)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):  # a proxy's HTML page, say, where the API server should be
            text = data.decode("utf-8", errors="replace")
            raise CallFailed(f"the answer from {self.host} is not a Kubernetes object: {first_line(text, NO_DETAIL)[:120]}", None)
        for obj in [parsed] + [i for i in parsed.get("items") or [] if isinstance(i, dict)]:
            # The server-side apply bookkeeping, often the largest part of an object: kubectl get
            # leaves it out unless --show-managed-fields (https://kubernetes.io/docs/reference/using-api/server-side-apply/),
            # no rule reads it, and a scan holds every object of a namespace.
            if isinstance(obj.get("metadata"), dict):
                obj["metadata"].pop("managedFields", None)
        return parsed

    def try_json(self, what: str, method: Callable, *args: Any, **kwargs: Any) -> dict | None:
        try:
            return self.json(method, *args, **kwargs)
        except CallFailed as failed:
            self.part.gaps.append(Gap(what, failed.line))
            return None

    def _transport_line(self, exc: Exception) -> tuple[str, bool]:
        """One line for a request that got no answer, and whether the server is unreachable."""
        import urllib3.exceptions as ux

        reason = exc.reason if isinstance(exc, ux.MaxRetryError) else exc
        if isinstance(reason, (ux.NewConnectionError, ConnectionRefusedError)):
            text = str(reason).split("Failed to establish a new connection: ", 1)[-1]
            return f"cannot reach the API server at {self.host}: {first_line(text, NO_DETAIL)}", True
        if isinstance(reason, ux.ConnectTimeoutError):
            return f"cannot reach the API server at {self.host}: connection timed out after {self.timeout:g} s", True
        if isinstance(reason, (ux.ReadTimeoutError, TimeoutError)):
            return f"timed out after {self.timeout:g} s waiting for the API server at {self.host}", False
        return f"no answer from the API server at {self.host}: {first_line(reason, NO_DETAIL)}", False


def _socket_of(response: Any) -> Any:
    """The socket under a urllib3 response, to bound each read by the call's deadline."""
    connection = getattr(response, "_connection", None) or getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if hasattr(sock, "settimeout") else None


def _http_line(status: int, body: str | None) -> str:
    """``403 Forbidden: User "u" cannot list persistentvolumes at the cluster scope (needs ...)``."""
    message = ""
    try:
        message = json.loads(body or "").get("message", "")
    except (ValueError, AttributeError):
        message = first_line(body or "", NO_DETAIL)
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 401:
        return "401 Unauthorized: the API server rejected the kubeconfig's credentials (expired token or certificate?)"
    if status == 403 and (m := _RBAC.search(message)):
        user, verb, resource, scope, namespace = m.groups()
        needs = (f"needs a ClusterRole with get/list on {resource}" if namespace is None
                 else f"needs a Role in {namespace} with get/list on {resource}")
        return f'403 Forbidden: User "{user}" cannot {verb} {resource} {scope} ({needs})'
    return f"{status} {phrase}: {message or 'no detail'}"


def client_from_kubeconfig(kubeconfig: str | None, context: str | None) -> Any:
    """An ApiClient from a kubeconfig (the default one when None) that never retries a request:
    a retried GET to a hung server would multiply the timeout."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                            persist_config=False)
    configuration.retries = False
    return client.ApiClient(configuration)


def api_client_for(kubeconfig: str | None, context: str | None) -> Any:
    """In a pod (a CronJob, say) with no ``--kubeconfig`` and no ~/.kube/config: the pod's
    ServiceAccount, through the in-cluster config. Anywhere else: :func:`client_from_kubeconfig`."""
    import os

    from kubernetes import client, config

    default = os.path.expanduser(config.KUBE_CONFIG_DEFAULT_LOCATION)
    if kubeconfig or context or os.environ.get("KUBECONFIG") or os.path.exists(default) or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return client_from_kubeconfig(kubeconfig, context)
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)
    configuration.retries = False
    return client.ApiClient(configuration)


def collect_kubernetes(
    service: str,
    *,
    namespace: str | None = None,
    workspace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    log_lines: int = 5000,
    request_timeout: float = 30.0,
    api_client: Any = None,
    progress: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> Part:
    """Read the service's Deployment, ReplicaSets, pods, events, ConfigMap, PVCs/PVs, Service,
    Endpoints, the cluster's nodes and azureml-fe pods, and every container's logs.

    Raises :class:`ServiceNotFound` when no Deployment is named after the service."""
    part = Part()
    # Object names and messages come from the cluster: escaped before they reach a terminal.
    say = safe_progress(progress) or (lambda message: None)
    own_client = api_client is None
    if own_client:
        try:
            api_client = api_client_for(kubeconfig, context)
        except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
            where = kubeconfig or "the default kubeconfig"
            return _nothing_collected(part, f"cannot use {where}: {first_line(exc, NO_DETAIL)}")
    try:
        reader = Reader(api_client, request_timeout, part, deadline)
        deployment = None
        if namespace is None and workspace:
            namespace = workspace_namespace(workspace)
        if namespace is None:
            say(f"searching the azureml-* namespaces for Deployment {service}")
            try:
                namespace, deployment = find_namespace(reader, service)
            except CallFailed as failed:
                return _nothing_collected(
                    part, f"cannot find the namespace of {service}: {failed.line}; pass the namespace or the workspace")
        part.learn("cluster", namespace=namespace)
        _Collection(reader, service, namespace, log_lines, say).run(deployment)
        return part
    finally:
        if own_client:
            api_client.close()


def _nothing_collected(part: Part, line: str, already: tuple[str, ...] = ()) -> Part:
    for what in RESOURCES + (FRONTEND_PODS, "container_logs"):
        if what not in already:
            part.gaps.append(Gap(what, line))
    return part


def find_namespace(reader: Reader, service: str) -> tuple[str, dict]:
    namespaces = reader.json(reader.core.list_namespace)
    names = sorted(n["metadata"]["name"] for n in namespaces.get("items", []) if n["metadata"]["name"].startswith("azureml-"))
    for ns in names:
        try:
            return ns, reader.json(reader.apps.read_namespaced_deployment, service, ns)
        except CallFailed as failed:
            if failed.status not in (403, 404):
                raise
    try:
        found = reader.json(reader.apps.list_deployment_for_all_namespaces, label_selector=SERVICE_LABEL)
        available = sorted(f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in found.get("items", [])
                           if d["metadata"].get("namespace", "").startswith("azureml-"))
    except CallFailed:
        available = []
    raise ServiceNotFound(service, None, available)


class _Collection:
    """One service's collection; each method adds files, facts or gaps to the reader's Part."""

    def __init__(self, reader: Reader, service: str, namespace: str, log_lines: int, say: Callable[[str], None]):
        self.r, self.service, self.ns, self.log_lines, self.say = reader, service, namespace, log_lines, say
        self.part = reader.part
        self.selector = service_selector(service)

    def run(self, deployment: dict | None) -> None:
        """``deployment`` is given when the namespace search has already read it."""
        if deployment is None:
            deployment = self._deployment()
        else:
            self._store("deployments", [deployment])
        if self.r.unreachable:
            _nothing_collected(self.part, self.r.unreachable, already=("deployments",))
            return
        replicasets = self._replicasets(deployment)
        pods = self._pods()
        spec = template_spec(deployment, pods)
        if spec:
            self._configmap(spec)
            claims = self._claims(spec, pods)
        else:
            # Their names are in the pod spec, so the reason they are missing is why the pods are.
            claims = []
            why = next((g.error for g in self.part.gaps if g.what == "pods"), "no pod spec names them")
            for what in ("configmaps", "persistentvolumeclaims", "persistentvolumes"):
                self.part.gaps.append(Gap(what, why))
        self._named("services", self.r.core.read_namespaced_service)
        self._named("endpoints", self.r.core.read_namespaced_endpoints)
        self._events(deployment, replicasets, pods, claims)
        self._nodes()
        self._frontend_pods()
        self._logs(pods)

    # ------------------------------------------------------------------ objects
    def _store(self, resource: str, items: list[dict]) -> None:
        self.part.files[f"kubernetes/{resource}.json"] = kubectl_list(resource, items)
        self.part.collected.append(resource)

    def _deployment(self) -> dict | None:
        self.say(f"reading Deployment {self.service} in {self.ns}")
        try:
            deployment = self.r.json(self.r.apps.read_namespaced_deployment, self.service, self.ns)
        except CallFailed as failed:
            if failed.status == 404:
                raise ServiceNotFound(self.service, self.ns, self._available()) from None
            self.part.gaps.append(Gap("deployments", failed.line))
            return None
        self._store("deployments", [deployment])
        return deployment

    def _available(self) -> list[str]:
        try:
            items = self.r.json(self.r.apps.list_namespaced_deployment, self.ns).get("items", [])
        except CallFailed:
            return []
        labelled = [d for d in items if SERVICE_LABEL in (d["metadata"].get("labels") or {})]
        return sorted(d["metadata"]["name"] for d in (labelled or items))

    def _replicasets(self, deployment: dict | None) -> list[dict]:
        data = self.r.try_json("replicasets", self.r.apps.list_namespaced_replica_set, self.ns, label_selector=self.selector)
        if data is None:
            return []
        items = owned_replicasets(deployment, data.get("items", []))
        self._store("replicasets", items)
        return items

    def _pods(self) -> list[dict]:
        self.say(f"listing pods labelled {self.selector}")
        data = self.r.try_json("pods", self.r.core.list_namespaced_pod, self.ns, label_selector=self.selector)
        if data is None:
            return []
        items = data.get("items", [])
        self._store("pods", items)
        self.part.learn("cluster", pods=tuple(p["metadata"]["name"] for p in items))
        return items

    def _configmap(self, spec: dict) -> None:
        scoring = scoring_container_in(spec)
        if scoring is None:
            self.part.gaps.append(Gap("configmaps", "no scoring container found (no InitContainerConfig env var and no azureml/azureml_<id> image)"))
            return
        self.part.learn("cluster", scoring_image=scoring.get("image", ""))
        name = next((e.get("value") for e in scoring.get("env") or [] if e.get("name") == "InitContainerConfig"), None)
        if not name:
            self.part.gaps.append(Gap("configmaps", f"container {scoring.get('name')} has no InitContainerConfig env var"))
            return
        self.say(f"reading ConfigMap {name}")
        configmap = self.r.try_json("configmaps", self.r.core.read_namespaced_config_map, name, self.ns)
        if configmap is None:
            return
        self._store("configmaps", [configmap])
        record_configmap(self.part, name, configmap)

    def _claims(self, spec: dict, pods: list[dict]) -> list[str]:
        claims = claims_of([spec] + [p.get("spec") or {} for p in pods])
        pvcs = []
        for claim in claims:
            self.say(f"reading PersistentVolumeClaim {claim}")
            pvc = self.r.try_json("persistentvolumeclaims", self.r.core.read_namespaced_persistent_volume_claim, claim, self.ns)
            if pvc is not None:
                pvcs.append(pvc)
        if len(pvcs) == len(claims):
            self._store("persistentvolumeclaims", pvcs)
        volumes = [pvc["spec"]["volumeName"] for pvc in pvcs if (pvc.get("spec") or {}).get("volumeName")]
        pvs = []
        for volume in volumes:
            pv = self.r.try_json("persistentvolumes", self.r.core.read_persistent_volume, volume)
            if pv is not None:
                pvs.append(pv)
        if len(pvcs) == len(claims) and len(pvs) == len(volumes):
            self._store("persistentvolumes", pvs)
        return claims

    def _named(self, resource: str, method: Callable) -> None:
        obj = self.r.try_json(resource, method, self.service, self.ns)
        if obj is not None:
            self._store(resource, [obj])

    def _events(self, deployment: dict | None, replicasets: list[dict], pods: list[dict], claims: list[str]) -> None:
        objects = ServiceObjects(self.service, deployment, tuple(replicasets), tuple(pods), tuple(claims))
        events = service_event_list(self.r, self.ns, objects, self.say)
        if events is not None:
            self._store("events", events)

    def _nodes(self) -> None:
        self.say("listing nodes")
        data = self.r.try_json("nodes", self.r.core.list_node)
        if data is not None:
            self._store("nodes", [node_summary(n) for n in data.get("items", [])])

    def _frontend_pods(self) -> None:
        # One cluster-wide call finds them wherever they run (default for v1, azureml for the v2
        # extension); it needs the same cluster-scoped permission as the two namespaced calls would.
        data = self.r.try_json(FRONTEND_PODS, self.r.core.list_pod_for_all_namespaces, label_selector=f"{SERVICE_LABEL}=azureml-fe")
        if data is not None:
            self._store(FRONTEND_PODS, [p for p in data.get("items", []) if p.get("metadata", {}).get("namespace") in FRONTEND_NAMESPACES])

    # ------------------------------------------------------------------ logs
    def _logs(self, pods: list[dict]) -> None:
        failures: dict[str, list[str]] = {}  # one line -> the logs it cost
        for pod in pods:
            name = pod["metadata"]["name"]
            wanted = every_log(pod)
            self.say(f"reading logs of {name} ({', '.join(dict.fromkeys(c for c, _ in wanted))})")
            for container, previous in wanted:
                if not read_log(self.r, self.part, failures, name, self.ns, container, previous, self.log_lines):
                    log_gaps(self.part, failures)
                    return
        log_gaps(self.part, failures)


def read_log(reader: Reader, part: Part, failures: dict[str, list[str]], pod: str, namespace: str, container: str,
             previous: bool, log_lines: int, nothing_yet: tuple[str, ...] = ()) -> bool:
    """One container's log into ``part.files``, cut at ``MAX_LOG_BYTES``; a failure's line goes to
    ``failures`` (line -> the logs it cost). A missing previous log, or a 400 answer holding one
    of ``nothing_yet``, is no failure. False when the server is lost: the other logs would wait too."""
    path = log_path(pod, container, previous)
    try:
        part.files[path] = reader.raw(reader.core.read_namespaced_pod_log, pod, namespace, container=container,
                                      tail_lines=log_lines or None, previous=previous or None,
                                      limit=MAX_LOG_BYTES, cut_ok=True)
        if reader.cut:
            failures.setdefault(reader.cut, []).append(path)
    except CallFailed as failed:
        if previous and failed.status == 400 and PREVIOUS_MISSING.search(failed.line):
            return True  # the container never restarted: there is no previous log
        if failed.status == 400 and any(phrase in failed.line for phrase in nothing_yet):
            return True
        failures.setdefault(failed.line, []).append(path)
        return failed.status is not None  # None: a timeout or a lost server
    return True


def log_gaps(part: Part, failures: dict[str, list[str]]) -> None:
    """The logs read count as collected; each failure is one gap naming the logs it cost."""
    if any(path.startswith("logs/") for path in part.files):
        part.collected.append("container_logs")
    for line, paths in failures.items():
        more = f" and {len(paths) - 1} more" if len(paths) > 1 else ""
        part.gaps.append(Gap("container_logs", f"{paths[0]}{more}: {line}"))


def service_event_list(reader: Reader, namespace: str, objects: ServiceObjects, say: Callable[[str], None]) -> list[dict] | None:
    """The events of the service's own objects: field-selected by involved name when that takes a
    few calls (the bytes read then do not grow with the namespace), else one list of the
    namespace's events; either way kept by the one event filter. None, with the gap recorded,
    when a list fails."""
    selectors = event_field_selectors(objects)
    if selectors is None:
        say(f"listing events in {namespace}")
        data = reader.try_json("events", reader.core.list_namespaced_event, namespace)
        return None if data is None else service_events(data.get("items", []), objects)
    say(f"listing the events of {len(selectors)} object name(s) in {namespace}")
    items, seen = [], set()
    for selector in selectors:
        data = reader.try_json("events", reader.core.list_namespaced_event, namespace, field_selector=selector)
        if data is None:
            return None
        for event in data.get("items", []):
            key = (event.get("metadata") or {}).get("uid") or id(event)
            if key not in seen:
                seen.add(key)
                items.append(event)
    return service_events(items, objects)


def kubectl_list(resource: str, items: list[dict]) -> dict:
    """The List ``kubectl get <resource> -o json`` prints: apiVersion and kind put back on every item."""
    api_version, kind = _TYPE_META[resource]
    typed = [{"apiVersion": api_version, "kind": kind, **{k: v for k, v in i.items() if k not in ("apiVersion", "kind")}}
             for i in items]
    return {"apiVersion": "v1", "items": typed, "kind": "List", "metadata": {"resourceVersion": ""}}


def record_configmap(part: Part, name: str, configmap: dict) -> None:
    """The facts the storage collector needs from the InitContainerConfig ConfigMap."""
    part.learn("cluster", configmap=name)
    found = config_document(configmap)
    if found is not None:
        part.learn("cluster", init_container_config=found[1], blob_paths=tuple(path for _, _, path in config_blob_paths(found[1])))


def node_summary(node: dict) -> dict:
    """What the rules need of a node (capacity, taints, conditions), without images and volumes."""
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    summary: dict[str, Any] = {"metadata": {"name": meta.get("name"), "labels": meta.get("labels") or {}}}
    if (node.get("spec") or {}).get("taints"):
        summary["spec"] = {"taints": node["spec"]["taints"]}
    summary["status"] = {k: status[k] for k in ("allocatable", "capacity", "conditions", "nodeInfo") if k in status}
    return summary
