"""A Kubernetes API server emulator for tests: the real REST paths, served from loaded objects.

It lets the real ``kubernetes`` client (and so the live collector) run against a cluster that
exists only in memory, on 127.0.0.1 and a free port, with the standard library alone. It answers
GET on the core and ``apps/v1`` paths the collector and the rules care about, the pod log
subresource, ``/version`` and ``watch=true`` streams, with label and field selectors, ``limit`` and
``continue`` paging, and errors shaped as real ``Status`` objects. It serves discovery (``/api``,
``/apis``, ``/api/v1``, ``/apis/<group>/<version>``, and the aggregated ``APIGroupDiscoveryList``
when asked for it) and ``Table`` answers (emulators.kube_tables), so real ``kubectl`` reads it too. Faults (RBAC 403s, 404s, hangs) are configured per path, and
every request is recorded so a test can count API calls and check that only GETs arrived.

Usage::

    with KubeApiServer().load_bundle("examples/crashloop") as api:
        config = api.configuration()          # a kubernetes.client.Configuration
        api.forbid("persistentvolumes")       # cluster-scoped RBAC missing
        ...
        assert {r.method for r in api.requests} == {"GET"}
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from typing_extensions import Self

from emulators.kube_tables import table

DEFAULT_USER = "system:serviceaccount:default:aml-doctor"
SERVER_VERSION = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.7",
    "gitCommit": "4e4a18878f4d3bdcbd2e9a3fa5f1e8f2b1b6a4cd",
    "gitTreeState": "clean",
    "buildDate": "2024-07-17T13:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class ResourceType:
    plural: str
    kind: str
    group_version: str  # "v1" or "apps/v1"
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """How the API server names the resource in messages: ``pods``, ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCE_TYPES: dict[str, ResourceType] = {
    t.plural: t
    for t in (
        ResourceType("namespaces", "Namespace", "v1", False),
        ResourceType("nodes", "Node", "v1", False),
        ResourceType("persistentvolumes", "PersistentVolume", "v1", False),
        ResourceType("pods", "Pod", "v1", True),
        ResourceType("services", "Service", "v1", True),
        ResourceType("endpoints", "Endpoints", "v1", True),
        ResourceType("configmaps", "ConfigMap", "v1", True),
        ResourceType("events", "Event", "v1", True),
        ResourceType("persistentvolumeclaims", "PersistentVolumeClaim", "v1", True),
        ResourceType("secrets", "Secret", "v1", True),
        ResourceType("deployments", "Deployment", "apps/v1", True),
        ResourceType("replicasets", "ReplicaSet", "apps/v1", True),
        ResourceType("networkpolicies", "NetworkPolicy", "networking.k8s.io/v1", True),
        # The AzureML extension's custom resources (CRDs *.amlarc.azureml.com). The InstanceType
        # version is the public dump's; the other two are assumed to share it (docs/v2.md).
        ResourceType("onlineendpoints", "OnlineEndpoint", "amlarc.azureml.com/v1alpha1", True),
        ResourceType("onlinedeployments", "OnlineDeployment", "amlarc.azureml.com/v1alpha1", True),
        ResourceType("instancetypes", "InstanceType", "amlarc.azureml.com/v1alpha1", False),
    )
}
_TYPE_BY_KIND = {t.kind: t for t in RESOURCE_TYPES.values()}

# Discovery (`GET /api/v1`, `/apis/<group>/<version>`): what the real server lists for each type. Short
# names as in https://kubernetes.io/docs/reference/kubectl/#resource-types; the verbs are the real ones
# (the emulator still refuses every write with 405).
_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_DISCOVERY: dict[str, dict[str, Any]] = {
    "namespaces": {"shortNames": ["ns"], "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
    "nodes": {"shortNames": ["no"]},
    "persistentvolumes": {"shortNames": ["pv"]},
    "pods": {"shortNames": ["po"], "categories": ["all"]},
    "services": {"shortNames": ["svc"], "categories": ["all"]},
    "endpoints": {"shortNames": ["ep"]},
    "configmaps": {"shortNames": ["cm"]},
    "events": {"shortNames": ["ev"]},
    "persistentvolumeclaims": {"shortNames": ["pvc"]},
    "secrets": {},
    "deployments": {"shortNames": ["deploy"], "categories": ["all"]},
    "replicasets": {"shortNames": ["rs"], "categories": ["all"]},
    "networkpolicies": {"shortNames": ["netpol"]},
    "onlineendpoints": {},
    "onlinedeployments": {},
    "instancetypes": {},
}
# Groups served only once their CRDs are installed (an object of the group added, or install_crds()):
# a cluster without the extension answers 404 on their paths and leaves them out of /apis.
CUSTOM_GROUPS = frozenset({"amlarc.azureml.com"})

# Field selectors the real API server accepts; any other field is a 400, as there.
_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
_EXTRA_FIELDS = {
    "events": {
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
        "reason", "reportingComponent", "source", "type",
    },
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "status.phase", "status.podIP", "status.nominatedNodeName"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets": {"status.replicas"},
}

# Waiting reasons for which the kubelet says "trying and failing to pull image" instead of the reason.
_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "ImageInspectError", "ErrImageNeverPull", "RegistryUnavailable",
                 "InvalidImageName"}


class SelectorError(ValueError):
    """A label or field selector the real API server would reject with 400."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    accept: str = ""  # the Accept header: kubectl asks for Table and aggregated discovery through it


@dataclass(frozen=True)
class _Target:
    """What one request path addresses."""

    rtype: ResourceType
    namespace: str  # "" for cluster-scoped resources and all-namespace lists
    name: str  # "" for a list
    subresource: str  # "" or "log"

    def verb(self, watch: bool) -> str:
        return "watch" if watch else ("get" if self.name else "list")

    @property
    def rbac_resource(self) -> str:
        return f"{self.rtype.plural}/{self.subresource}" if self.subresource else self.rtype.plural


@dataclass
class _Forbid:
    resource: str
    namespace: str | None
    verbs: frozenset[str] | None


@dataclass
class _PathFault:
    pattern: str  # fnmatch glob on the path, query excluded
    status: int  # 0 for a hang
    message: str
    seconds: float
    body: bytes | None = None  # sent as is instead of a Status
    size: int = 0  # > 0: a 200 answer of this many bytes (see KubeApiServer.oversize)
    dribble: float = 0.0  # > 0: a 200 answer sent one byte per this many seconds, never ending


@dataclass(frozen=True)
class _WatchEvent:
    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    plural: str
    obj: dict


class _HttpError(Exception):
    def __init__(self, code: int, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


# ----------------------------------------------------------------------------- selectors
def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``in (a,b)`` parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_REQ = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^)]*)\)$")
_EQ_REQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$")
_EXISTS_REQ = re.compile(rf"^(!?)\s*({_KEY})$")


def parse_label_selector(text: str) -> Callable[[dict], bool]:
    """Equality (``a=b``, ``a==b``, ``a!=b``), set (``a in (x,y)``, ``a notin (x)``) and existence
    (``a``, ``!a``) requirements, comma-separated, all of which must hold."""
    checks: list[Callable[[dict], bool]] = []
    for req in _split_top_level(text):
        if m := _SET_REQ.match(req):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m := _EQ_REQ.match(req):
            key, op, value = m.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif m := _EXISTS_REQ.match(req):
            negate, key = m.group(1) == "!", m.group(2)
            checks.append(lambda labels, k=key, n=negate: (k in labels) != n)
        else:
            raise SelectorError(f"unable to parse requirement: {req!r}")
    return lambda obj: all(check((obj.get("metadata") or {}).get("labels") or {}) for check in checks)


def _field_value(obj: dict, field_path: str) -> str:
    if field_path == "source":  # the Event field selector "source" is source.component
        field_path = "source.component"
    value: Any = obj
    for part in field_path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_field_selector(text: str, plural: str) -> Callable[[dict], bool]:
    allowed = _COMMON_FIELDS | _EXTRA_FIELDS.get(plural, set())
    checks: list[Callable[[dict], bool]] = []
    for req in (r.strip() for r in text.split(",") if r.strip()):
        m = re.match(r"^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$", req)
        if not m:
            raise SelectorError(f"invalid selector: '{req}'; can't understand '{req}'")
        field_path, op, value = m.groups()
        if field_path not in allowed:
            raise SelectorError(f"field label not supported: {field_path}")
        if op == "!=":
            checks.append(lambda obj, f=field_path, v=value: _field_value(obj, f) != v)
        else:
            checks.append(lambda obj, f=field_path, v=value: _field_value(obj, f) == v)
    return lambda obj: all(check(obj) for check in checks)


# ----------------------------------------------------------------------------- the server
class KubeApiServer:
    """An in-memory Kubernetes API server on 127.0.0.1. Objects may be loaded before or after start."""

    def __init__(self, objects: Iterable[dict] = (), *, user: str = DEFAULT_USER):
        self.user = user  # who RBAC messages say was refused
        self._lock = threading.Condition()
        self._objects: dict[tuple[str, str, str], dict] = {}  # (plural, namespace, name) -> object
        self._logs: dict[tuple[str, str, str, bool], str] = {}  # (namespace, pod, container, previous) -> text
        self._events: list[_WatchEvent] = []
        self._resource_version = 1000
        self._watch_generation = 0
        self._forbids: list[_Forbid] = []
        self._faults: list[_PathFault] = []
        self._requests: list[RecordedRequest] = []
        self._bytes_sent = 0  # response bodies, as the client reads them (headers not counted)
        self._installed_groups: set[str] = set()  # of CUSTOM_GROUPS
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for obj in objects:
            self.add(obj)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> KubeApiServer:
        server = self

        class Handler(_Handler):
            emulator = server

        self._stopping.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True  # a hung or watching handler must not keep stop() waiting
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-apiserver-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ client configuration
    def write_kubeconfig(self, path: str, *, namespace: str | None = None, context: str = "emulator") -> str:
        """Write a kubeconfig whose current context points at this server; returns ``path``.

        JSON is valid YAML, so the standard library is enough to write one kubectl and the client read."""
        ctx: dict[str, Any] = {"cluster": "emulator", "user": "emulator-user"}
        if namespace:
            ctx["namespace"] = namespace
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator-user", "user": {}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        return path

    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for this server (the client is imported only here)."""
        from kubernetes import client

        config = client.Configuration()
        config.host = self.url
        # No retries, as the collector's own clients: a retried GET would be counted twice.
        config.retries = False
        return config

    # ------------------------------------------------------------------ objects
    def load_bundle(self, path: str) -> KubeApiServer:
        """Serve a bundle directory: ``kubernetes/*.json`` Lists and ``logs/<pod>/<container>[.previous].log``."""
        default_ns = "default"
        manifest = os.path.join(path, "manifest.json")
        if os.path.exists(manifest):
            with open(manifest, encoding="utf-8") as fh:
                default_ns = json.load(fh).get("namespace") or default_ns
        kube_dir = os.path.join(path, "kubernetes")
        for fname in sorted(os.listdir(kube_dir)) if os.path.isdir(kube_dir) else ():
            if not fname.endswith(".json"):
                continue
            with open(os.path.join(kube_dir, fname), encoding="utf-8") as fh:
                data = json.load(fh)
            items = data.get("items", [data]) if isinstance(data, dict) else data
            file_type = RESOURCE_TYPES.get(fname[: -len(".json")])
            for item in items:
                kind = item.get("kind") or (file_type.kind if file_type else None)
                if kind in _TYPE_BY_KIND:
                    item = dict(item, kind=kind)
                    if _TYPE_BY_KIND[kind].namespaced:
                        item.setdefault("metadata", {}).setdefault("namespace", default_ns)
                    rtype = _TYPE_BY_KIND[kind]
                    meta = item.get("metadata") or {}
                    if (rtype.plural, meta.get("namespace", "") if rtype.namespaced else "", meta.get("name")) in self._objects:
                        continue  # one pod in both pods.json and frontend-pods.json is one object
                    self.add(item)
        logs_dir = os.path.join(path, "logs")
        for pod in sorted(os.listdir(logs_dir)) if os.path.isdir(logs_dir) else ():
            namespace = self._namespace_of_pod(pod) or default_ns
            for fname in sorted(os.listdir(os.path.join(logs_dir, pod))):
                if not fname.endswith(".log"):
                    continue
                stem = fname[: -len(".log")]
                previous = stem.endswith(".previous")
                container = stem[: -len(".previous")] if previous else stem
                with open(os.path.join(logs_dir, pod, fname), encoding="utf-8", errors="replace") as fh:
                    self.set_log(namespace, pod, container, fh.read(), previous=previous)
        self._ensure_namespace(default_ns)
        return self

    def install_crds(self, group: str = "amlarc.azureml.com") -> KubeApiServer:
        """Serve a custom resource group (its paths and its /apis entry), as installing its CRDs does."""
        with self._lock:
            self._installed_groups.add(group)
        return self

    def add(self, obj: dict) -> dict:
        """Create an object (``kind`` says which resource); returns the stored copy. Watchers see ADDED."""
        rtype = self._type_of(obj)
        with self._lock:
            if rtype.group in CUSTOM_GROUPS:
                self._installed_groups.add(rtype.group)
            stored = self._stamp(rtype, obj)
            key = self._key(rtype, stored)
            if key in self._objects:
                raise ValueError(f"{rtype.plural} {key[1]}/{key[2]} already exists")
            if rtype.namespaced:
                self._ensure_namespace(key[1])
            self._objects[key] = stored
            self._emit("ADDED", rtype, stored)
            return copy.deepcopy(stored)

    def modify(self, obj: dict) -> dict:
        """Replace an existing object (matched by kind, namespace and name). Watchers see MODIFIED."""
        rtype = self._type_of(obj)
        with self._lock:
            stored = self._stamp(rtype, obj)
            key = self._key(rtype, stored)
            if key not in self._objects:
                raise KeyError(f"{rtype.plural} {key[1]}/{key[2]} does not exist")
            old_meta = self._objects[key]["metadata"]
            stored["metadata"]["uid"] = old_meta["uid"]
            stored["metadata"]["creationTimestamp"] = old_meta["creationTimestamp"]
            self._objects[key] = stored
            self._emit("MODIFIED", rtype, stored)
            return copy.deepcopy(stored)

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        """Remove an object. Watchers see DELETED with its last state."""
        rtype = _TYPE_BY_KIND[kind]
        with self._lock:
            key = (rtype.plural, namespace if rtype.namespaced else "", name)
            obj = self._objects.pop(key)
            self._resource_version += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._resource_version)
            self._emit("DELETED", rtype, obj)

    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        rtype = _TYPE_BY_KIND[kind]
        with self._lock:
            return copy.deepcopy(self._objects[(rtype.plural, namespace if rtype.namespaced else "", name)])

    def set_log(self, namespace: str, pod: str, container: str, text: str, *, previous: bool = False) -> None:
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = text

    def append_log(self, namespace: str, pod: str, container: str, text: str, *, previous: bool = False) -> None:
        """Add lines to a container's log while the server runs (a scripted timeline's next step)."""
        with self._lock:
            key = (namespace, pod, container, previous)
            self._logs[key] = self._logs.get(key, "") + text

    def remove_log(self, namespace: str, pod: str, container: str, *, previous: bool = False) -> None:
        with self._lock:
            self._logs.pop((namespace, pod, container, previous), None)

    def drop_watches(self) -> None:
        """End every open watch stream, as an API server restart or a load balancer's idle cut does."""
        with self._lock:
            self._watch_generation += 1
            self._lock.notify_all()

    # ------------------------------------------------------------------ faults
    def forbid(self, resource: str, *, namespace: str | None = None, verbs: Iterable[str] | None = None) -> None:
        """Refuse ``resource`` (``persistentvolumes``, ``pods/log``...) with RBAC's 403, in ``namespace``
        only, at the cluster scope only (``namespace=""``: a Role but no ClusterRole), or everywhere
        (None), for the given verbs (get, list, watch) or all of them."""
        with self._lock:
            self._forbids.append(_Forbid(resource, namespace, frozenset(verbs) if verbs else None))

    def fail(self, path_pattern: str, status: int, message: str | None = None, *, body: bytes | None = None) -> None:
        """Answer requests whose path matches the glob with a ``Status`` of that code, or with
        ``body`` as ``text/html`` (what a proxy in front of the API server sends)."""
        with self._lock:
            self._faults.append(_PathFault(path_pattern, status, message or HTTPStatus(status).phrase, 0.0, body))

    def hang(self, path_pattern: str, seconds: float) -> None:
        """Hold requests whose path matches the glob for ``seconds`` before answering (longer than a client's timeout)."""
        with self._lock:
            self._faults.append(_PathFault(path_pattern, 0, "", seconds))

    def oversize(self, path_pattern: str, size: int) -> None:
        """Answer requests whose path matches the glob with ``size`` bytes: a valid JSON List of
        padded Events for an object path, plain log lines for ``.../log``. What a namespace with
        years of events, or a container that logs a request body per line, sends back."""
        with self._lock:
            self._faults.append(_PathFault(path_pattern, 200, "", 0.0, size=size))

    def dribble(self, path_pattern: str, seconds_per_byte: float = 0.2) -> None:
        """Answer requests whose path matches the glob with headers at once, then one body byte
        every ``seconds_per_byte``, without end: each read returns before any read timeout, so
        only a deadline on the whole answer stops it (a slowloris server, or a dying proxy)."""
        with self._lock:
            self._faults.append(_PathFault(path_pattern, 200, "", 0.0, dribble=seconds_per_byte))

    def clear_faults(self) -> None:
        with self._lock:
            self._forbids.clear()
            self._faults.clear()

    # ------------------------------------------------------------------ recording
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def bytes_sent(self) -> int:
        """Bytes of response bodies sent since the start or the last :meth:`reset_requests`."""
        with self._lock:
            return self._bytes_sent

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._bytes_sent = 0

    def _count_sent(self, size: int) -> None:
        with self._lock:
            self._bytes_sent += size

    # ------------------------------------------------------------------ internals (lock held unless said)
    @staticmethod
    def _type_of(obj: dict) -> ResourceType:
        kind = obj.get("kind")
        if kind not in _TYPE_BY_KIND:
            raise ValueError(f"the emulator does not serve kind {kind!r}")
        return _TYPE_BY_KIND[kind]

    @staticmethod
    def _key(rtype: ResourceType, obj: dict) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return (rtype.plural, meta.get("namespace", "") if rtype.namespaced else "", meta["name"])

    def _stamp(self, rtype: ResourceType, obj: dict) -> dict:
        """Copy ``obj`` and fill what the API server owns: apiVersion, uid, resourceVersion, creationTimestamp."""
        stored = copy.deepcopy(obj)
        stored["apiVersion"] = rtype.group_version
        meta = stored.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError(f"a {rtype.kind} needs metadata.name")
        if rtype.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rtype.plural}/{meta.get('namespace', '')}/{meta['name']}")))
        meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        self._resource_version += 1
        meta["resourceVersion"] = str(self._resource_version)
        return stored

    def _emit(self, event_type: str, rtype: ResourceType, obj: dict) -> None:
        self._events.append(_WatchEvent(int(obj["metadata"]["resourceVersion"]), event_type, rtype.plural, copy.deepcopy(obj)))
        self._lock.notify_all()

    def _ensure_namespace(self, namespace: str) -> None:
        with self._lock:
            if ("namespaces", "", namespace) not in self._objects:
                ns = {
                    "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
                stored = self._stamp(RESOURCE_TYPES["namespaces"], ns)
                self._objects[("namespaces", "", namespace)] = stored
                self._emit("ADDED", RESOURCE_TYPES["namespaces"], stored)

    def _aggregated_discovery(self, root: str) -> dict:
        """``GET /api`` or ``/apis`` as an ``APIGroupDiscoveryList``: every group, version and resource in
        one answer, so kubectl needs no ``/api/v1``, ``/apis/<group>/<version>`` requests."""
        by_group: dict[str, list[str]] = {}
        for rtype in RESOURCE_TYPES.values():
            if (root == "api") == (rtype.group == "") and self._served(rtype.group):
                by_group.setdefault(rtype.group, [])
                if rtype.group_version not in by_group[rtype.group]:
                    by_group[rtype.group].append(rtype.group_version)
        items = []
        for group, group_versions in sorted(by_group.items()):
            versions = []
            for gv in group_versions:
                resources = []
                for entry in self._resource_list(gv)["resources"]:
                    if "/" in entry["name"]:
                        continue
                    resource: dict[str, Any] = {
                        "resource": entry["name"],
                        "responseKind": {"group": group, "version": gv.rpartition("/")[2], "kind": entry["kind"]},
                        "scope": "Namespaced" if entry["namespaced"] else "Cluster",
                        "singularResource": entry["singularName"], "verbs": entry["verbs"]}
                    for key in ("shortNames", "categories"):
                        if key in entry:
                            resource[key] = entry[key]
                    if entry["name"] == "pods":
                        resource["subresources"] = [{"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
                                                     "verbs": ["get"]}]
                    resources.append(resource)
                versions.append({"version": gv.rpartition("/")[2], "resources": resources, "freshness": "Current"})
            items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2beta1", "metadata": {}, "items": items}

    def _discovery(self, parts: list[str]) -> dict:
        if parts == ["api"]:
            return self._api_versions()
        if parts == ["apis"]:
            return self._api_groups()
        if parts[0] == "api":
            return self._resource_list(parts[1])
        if len(parts) == 2:
            return self._api_group(parts[1])
        return self._resource_list(f"{parts[1]}/{parts[2]}")

    def _api_groups(self) -> dict:
        """``GET /apis``: the APIGroupList of every named group served (built-in, and installed CRDs)."""
        versions: dict[str, list[str]] = {}
        for rtype in RESOURCE_TYPES.values():
            if rtype.group and (rtype.group not in CUSTOM_GROUPS or rtype.group in self._installed_groups):
                versions.setdefault(rtype.group, [])
                if rtype.group_version not in versions[rtype.group]:
                    versions[rtype.group].append(rtype.group_version)
        groups = [{"name": name, "versions": [{"groupVersion": gv, "version": gv.rpartition("/")[2]} for gv in gvs],
                   "preferredVersion": {"groupVersion": gvs[0], "version": gvs[0].rpartition("/")[2]}}
                  for name, gvs in sorted(versions.items())]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _served(self, group: str) -> bool:
        return group not in CUSTOM_GROUPS or group in self._installed_groups

    def _api_versions(self) -> dict:
        """``GET /api``: the core group's versions, and the address clients reach it at."""
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]}

    def _api_group(self, group: str) -> dict:
        """``GET /apis/<group>``: one APIGroup, as listed in ``GET /apis``."""
        for entry in self._api_groups()["groups"]:
            if entry["name"] == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **entry}
        raise _HttpError(404, "the server could not find the requested resource", {})

    def _resource_list(self, group_version: str) -> dict:
        """``GET /api/v1`` or ``/apis/<group>/<version>``: the APIResourceList kubectl maps names with
        (``ns``, ``pv``, ``deploy``...). The pod log subresource is listed as ``pods/log``, as there."""
        rtypes = [t for t in RESOURCE_TYPES.values() if t.group_version == group_version and self._served(t.group)]
        if not rtypes:
            raise _HttpError(404, "the server could not find the requested resource", {})
        resources = []
        for rtype in rtypes:
            extra = _DISCOVERY.get(rtype.plural, {})
            entry: dict[str, Any] = {"name": rtype.plural, "singularName": rtype.kind.lower(), "namespaced": rtype.namespaced,
                                     "kind": rtype.kind, "verbs": extra.get("verbs", _ALL_VERBS)}
            for key in ("shortNames", "categories"):
                if extra.get(key):
                    entry[key] = extra[key]
            resources.append(entry)
            if rtype.plural == "pods":
                resources.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}

    def _namespace_of_pod(self, pod: str) -> str | None:
        with self._lock:
            return next((ns for (plural, ns, name) in self._objects if plural == "pods" and name == pod), None)

    def _record(self, method: str, path: str, query: dict[str, str], accept: str = "") -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, accept))

    def _path_fault(self, path: str) -> _PathFault | None:
        with self._lock:
            return next((f for f in self._faults if fnmatch.fnmatchcase(path, f.pattern)), None)

    def _forbidden(self, target: _Target, verb: str) -> _HttpError | None:
        with self._lock:
            hit = next(
                (f for f in self._forbids
                 if f.resource == target.rbac_resource
                 and (f.namespace is None or f.namespace == (target.namespace or ""))
                 and (f.verbs is None or verb in f.verbs)),
                None,
            )
        if hit is None:
            return None
        rtype = target.rtype
        subject = f'{rtype.qualified} "{target.name}"' if target.name else rtype.qualified
        scope = f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
        message = (f'{subject} is forbidden: User "{self.user}" cannot {verb} resource "{target.rbac_resource}" '
                   f'in API group "{rtype.group}" {scope}')
        details = {"kind": rtype.plural}
        if target.name:
            details = {"name": target.name, **({"group": rtype.group} if rtype.group else {}), "kind": rtype.plural}
        elif rtype.group:
            details = {"group": rtype.group, "kind": rtype.plural}
        return _HttpError(403, message, details)

    def _list(self, target: _Target, match: Callable[[dict], bool], query: dict[str, str] | None = None) -> dict:
        """A List, in pages when the request sets ``limit`` (kubectl asks for 500 at a time): each page's
        ``metadata.continue`` is the token for the next and ``remainingItemCount`` counts what is left."""
        query = query or {}
        with self._lock:
            items = [
                _without_type_meta(obj)
                for (plural, ns, _name), obj in sorted(self._objects.items())
                if plural == target.rtype.plural and (not target.namespace or ns == target.namespace) and match(obj)
            ]
            rv = str(self._resource_version)
        meta: dict[str, Any] = {"resourceVersion": rv}
        start = _continue_offset(query.get("continue", ""))
        limit = int(query["limit"]) if query.get("limit", "").isdigit() and int(query["limit"]) > 0 else 0
        if start or limit:
            end = start + limit if limit else len(items)
            if end < len(items):
                meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": end}).encode()).decode()
                meta["remainingItemCount"] = len(items) - end
            items = items[start:end]
        return {"kind": f"{target.rtype.kind}List", "apiVersion": target.rtype.group_version,
                "metadata": meta, "items": items}

    def _get(self, target: _Target) -> dict:
        with self._lock:
            obj = self._objects.get((target.rtype.plural, target.namespace, target.name))
            if obj is None:
                raise _not_found(target.rtype, target.name)
            return copy.deepcopy(obj)

    def _log(self, target: _Target, query: dict[str, str]) -> bytes:
        pod = self._get(_Target(target.rtype, target.namespace, target.name, ""))
        spec = pod.get("spec") or {}
        containers = [c["name"] for c in spec.get("containers") or []]
        init_containers = [c["name"] for c in spec.get("initContainers") or []]
        container = query.get("container", "")
        if not container:
            if len(containers) != 1:
                message = f"a container name must be specified for pod {target.name}, choose one of: [{' '.join(containers)}]"
                if init_containers:
                    message += f" or one of the init containers: [{' '.join(init_containers)}]"
                raise _HttpError(400, message)
            container = containers[0]
        elif container not in containers + init_containers:
            raise _HttpError(400, f"container {container} is not valid for pod {target.name}")
        previous = query.get("previous") == "true"
        with self._lock:
            text = self._logs.get((target.namespace, target.name, container, previous))
            earlier = self._logs.get((target.namespace, target.name, container, True))
        if previous and text is None:
            raise _HttpError(400, f'previous terminated container "{container}" in pod "{target.name}" not found')
        if text is None:
            waiting = _waiting_reason(pod, container)
            if waiting and earlier is not None:
                text = earlier  # the kubelet serves the last terminated instance of a waiting container
            elif waiting:
                why = "trying and failing to pull image" if waiting in _PULL_REASONS else waiting
                raise _HttpError(400, f'container "{container}" in pod "{target.name}" is waiting to start: {why}')
            else:
                text = ""
        if query.get("tailLines"):
            text = "".join(text.splitlines(keepends=True)[-int(query["tailLines"]):])
        data = text.encode()
        if query.get("limitBytes"):
            data = data[: int(query["limitBytes"])]
        return data


def _continue_offset(token: str) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
    except (ValueError, KeyError, TypeError):
        raise _HttpError(400, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


def _table_version(accept: str) -> str | None:
    """The Table version the Accept header asks for first (``v1`` or ``v1beta1``), or None for plain JSON."""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return params["v"]
        if media.split(";")[0].strip() in ("application/json", "*/*") and "as" not in params:
            return None
    return None


def _wants_aggregated_discovery(accept: str) -> bool:
    """True when the Accept header asks for ``apidiscovery.k8s.io/v2beta1`` before plain JSON; a v1.29
    server serves that version (v2 is served from v1.30), https://kubernetes.io/docs/concepts/overview/kubernetes-api/#aggregated-discovery"""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" and params.get("v") == "v2beta1":
            return True
        if media.split(";")[0].strip() in ("application/json", "*/*") and "as" not in params:
            return False
    return False


_AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _waiting_reason(pod: dict, container: str) -> str | None:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            return (waiting.get("reason") or "ContainerCreating") if waiting is not None else None
    return "ContainerCreating"  # no status yet: the container was never created


def _without_type_meta(obj: dict) -> dict:
    """List items carry no kind/apiVersion on the wire; kubectl adds them back when it prints."""
    item = copy.deepcopy(obj)
    item.pop("kind", None)
    item.pop("apiVersion", None)
    return item


def _not_found(rtype: ResourceType, name: str) -> _HttpError:
    details = {"name": name, **({"group": rtype.group} if rtype.group else {}), "kind": rtype.plural}
    return _HttpError(404, f'{rtype.qualified} "{name}" not found', details)


def status_object(code: int, message: str, details: dict | None = None) -> dict:
    """The body of every error the real API server returns."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
               409: "AlreadyExists", 410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
               503: "ServiceUnavailable", 504: "Timeout"}
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reasons.get(code, HTTPStatus(code).phrase.replace(" ", ""))}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _discovery_path(path: str) -> list[str] | None:
    """The parts of a discovery path (``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>``, ``/apis/<g>/<v>``), else None."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[0] == "api" and len(parts) <= 2 or parts[0] == "apis" and len(parts) <= 3:
        return parts
    return None


def _route(path: str) -> _Target:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if len(parts) >= 2 and parts[:2] == ["api", "v1"]:
        group_version, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        raise _HttpError(404, "the server could not find the requested resource", {})
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    rtype = RESOURCE_TYPES.get(rest[0]) if rest else None
    if rtype is None or rtype.group_version != group_version or (namespace and not rtype.namespaced) or len(rest) > 3:
        raise _HttpError(404, "the server could not find the requested resource", {})
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) == 3 else ""
    if subresource and (rtype.plural, subresource) != ("pods", "log"):
        raise _HttpError(404, "the server could not find the requested resource", {})
    if rtype.namespaced and name and not namespace:
        raise _HttpError(404, "the server could not find the requested resource", {})
    return _Target(rtype, namespace, name, subresource)


class _Handler(BaseHTTPRequestHandler):
    emulator: KubeApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
        # delayed ACK add 40 ms to every response (Go's server, like the real one, sets it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; tests read ``requests`` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        em = self.emulator
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        em._record(self.command, url.path, query, self.headers.get("Accept") or "")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        try:
            fault = em._path_fault(url.path)
            if fault and fault.size:
                self._send_large(fault.size, url.path.endswith("/log"))
                return
            if fault and fault.dribble:
                self._dribble(fault.dribble)
                return
            if fault and fault.status == 0:
                if em._stopping.wait(fault.seconds):
                    return
            elif fault and fault.body is not None:
                self._send(fault.status, fault.body, "text/html")
                return
            elif fault:
                raise _HttpError(fault.status, fault.message)
            if self.command != "GET":
                raise _HttpError(405, f"the emulator is read-only: {self.command} is not served")
            if url.path.rstrip("/") == "/version":
                self._send_json(200, SERVER_VERSION)
                return
            discovery = _discovery_path(url.path)
            if discovery is not None:
                if discovery in (["api"], ["apis"]) and _wants_aggregated_discovery(self.headers.get("Accept") or ""):
                    self._send_json(200, em._aggregated_discovery(discovery[0]), _AGGREGATED_TYPE)
                else:
                    self._send_json(200, em._discovery(discovery))
                return
            target = _route(url.path)
            if target.rtype.group in CUSTOM_GROUPS and target.rtype.group not in em._installed_groups:
                raise _HttpError(404, "the server could not find the requested resource", {})
            watch = query.get("watch") in ("true", "1")
            verb = target.verb(watch)
            denied = em._forbidden(target, verb)
            if denied:
                raise denied
            as_table = _table_version(self.headers.get("Accept") or "")
            rtype = target.rtype
            if target.subresource == "log":
                self._send(200, em._log(target, query), "text/plain")
            elif target.name:
                obj = em._get(target)
                if as_table:
                    obj = table(rtype.plural, [obj], kind=rtype.kind, group_version=rtype.group_version, table_version=as_table,
                                include_object=query.get("includeObject") or "Metadata",
                                list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})
                self._send_json(200, obj)
            else:
                match = _matcher(rtype.plural, query)
                if watch:
                    self._watch(target, match, query, as_table)
                else:
                    listed = em._list(target, match, query)
                    if as_table:
                        listed = table(rtype.plural, listed["items"], kind=rtype.kind, group_version=rtype.group_version,
                                       table_version=as_table, include_object=query.get("includeObject") or "Metadata",
                                       list_meta=listed["metadata"])
                    self._send_json(200, listed)
        except _HttpError as err:
            self._send_json(err.code, status_object(err.code, err.message, err.details))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout); nothing to answer

    def _send_large(self, size: int, log: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if log else "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        line = b"2024-01-01T00:00:00Z INFO " + b"x" * 98 + b"\n"  # 125 bytes
        head = b"" if log else b'{"apiVersion":"v1","kind":"List","metadata":{},"items":['
        tail = b"" if log else b"]}"
        item = line if log else b'{"metadata":{"name":"e"},"reason":"Padding","message":"' + b"x" * 200 + b'"},'
        sent = 0
        try:
            self.wfile.write(head)
            sent = len(head)
            block = item * max(1, 65536 // len(item))
            while sent + len(block) + len(tail) + len(item) <= size:
                self.wfile.write(block)
                sent += len(block)
            if not log:
                last = b'{"metadata":{"name":"last"},"message":"' 
                pad = size - sent - len(last) - len(b'"}') - len(tail)
                self.wfile.write(last + b"x" * max(0, pad) + b'"}' + tail)
            else:
                self.wfile.write(b"y" * (size - sent))
            sent = size
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.emulator._count_sent(sent)
        self.close_connection = True

    def _dribble(self, seconds_per_byte: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(2**40))
        self.end_headers()
        self.wfile.flush()
        try:
            while not self.emulator._stopping.wait(seconds_per_byte):
                self.wfile.write(b" ")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _send_json(self, code: int, body: dict, content_type: str = "application/json") -> None:
        self._send(code, json.dumps(body).encode(), content_type)

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.emulator._count_sent(len(data))  # before the write: a client that has read it sees it counted
        self.wfile.write(data)

    def _watch(self, target: _Target, match: Callable[[dict], bool], query: dict[str, str], as_table: str | None = None) -> None:
        """Stream events as newline-delimited JSON over chunked encoding, as the API server does.

        Asked for a Table (``kubectl get -w``), each event's object is a Table of one row; only the
        first carries the column definitions, as the real server sends them.

        Without ``resourceVersion`` (or with "0") the stream starts with an ADDED event for every
        matching object; with one, it replays the changes after it. It ends at ``timeoutSeconds``,
        on :meth:`KubeApiServer.drop_watches` or when the server stops."""
        em = self.emulator
        timeout = float(query.get("timeoutSeconds") or 1800)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        plural = target.rtype.plural

        def wanted(event: _WatchEvent) -> bool:
            ns = event.obj["metadata"].get("namespace", "")
            return event.plural == plural and (not target.namespace or ns == target.namespace) and match(event.obj)

        with em._lock:
            generation = em._watch_generation
            since = query.get("resourceVersion") or "0"
            if since == "0":
                cursor = em._resource_version
                pending = [_WatchEvent(cursor, "ADDED", plural, copy.deepcopy(obj))
                           for (p, _ns, _n), obj in sorted(em._objects.items()) if p == plural]
            else:
                cursor = int(since)
                pending = []
        headers_sent = False
        deadline = threading.Event()
        timer = threading.Timer(timeout, lambda: (deadline.set(), _notify(em)))
        timer.daemon = True
        timer.start()
        try:
            while True:
                for event in pending:
                    if wanted(event):
                        obj = event.obj
                        if as_table:
                            rtype = target.rtype
                            obj = table(plural, [obj], kind=rtype.kind, group_version=rtype.group_version, table_version=as_table,
                                        include_object=query.get("includeObject") or "Metadata",
                                        list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})
                            if headers_sent:
                                obj["columnDefinitions"] = None
                            headers_sent = True
                        self._chunk(json.dumps({"type": event.type, "object": obj}).encode() + b"\n")
                with em._lock:
                    while True:
                        pending = [e for e in em._events if e.resource_version > cursor]
                        ended = deadline.is_set() or em._stopping.is_set() or em._watch_generation != generation
                        if pending or ended:
                            break
                        em._lock.wait()
                    if pending:
                        cursor = pending[-1].resource_version
                if ended and not pending:
                    break
            self.wfile.write(b"0\r\n\r\n")
        finally:
            timer.cancel()
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.emulator._count_sent(len(data))
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _notify(em: KubeApiServer) -> None:
    with em._lock:
        em._lock.notify_all()


def _matcher(plural: str, query: dict[str, str]) -> Callable[[dict], bool]:
    try:
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""), plural)
    except SelectorError as exc:
        raise _HttpError(400, str(exc)) from None
    return lambda obj: labels(obj) and fields(obj)
