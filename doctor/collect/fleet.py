"""Many services from one shared collection: ``aml-doctor --all`` and ``aml-doctor svc1 svc2 ...``.

Each namespace's Deployments, ReplicaSets, pods, events, ConfigMaps, Services, Endpoints and PVCs
are listed once, and the cluster's nodes, PersistentVolumes and azureml-fe pods once per scan.
Each service's share is cut out of those lists (by :mod:`aml_doctor.collect.core`'s rules, the
same the single-service collector keeps), so the list calls grow with the namespaces, not with
the services.

Logs are the only per-pod reads, and only for pods whose state needs them (not ready, restarted,
or named in a Warning event): a healthy service costs no call of its own. Of such a pod, each
container that has run is read once; the previous instance's log only when the current one does
not already show the failure. The reads run on a bounded thread pool.

A service's bundle files are built only when it is analysed (:meth:`ServiceEvidence.take_part`),
one at a time, so memory does not grow with the number of healthy services beyond the lists.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aml_doctor.collect.core import (
    FRONTEND_SERVICE,
    SERVICE_LABEL,
    ServiceObjects,
    claims_of,
    event_filter,
    log_path,
    owned_replicasets,
    pod_needs_logs,
    scan_logs,
    template_spec,
    warned_pods,
)
from aml_doctor.collect.kubernetes import (
    FRONTEND_NAMESPACES,
    FRONTEND_PODS,
    PREVIOUS_MISSING,
    CallFailed,
    Reader,
    kubectl_list,
    node_summary,
    record_configmap,
)
from aml_doctor.collect.part import Gap, Part
from aml_doctor.views.kube import scoring_container_in
from aml_doctor.views.podstage import log_shows_failure

# resource -> (API group, list method, label selector); each is one call per namespace.
NAMESPACE_LISTS = {
    "deployments": ("apps", "list_namespaced_deployment", None),
    "replicasets": ("apps", "list_namespaced_replica_set", SERVICE_LABEL),
    "pods": ("core", "list_namespaced_pod", SERVICE_LABEL),
    "events": ("core", "list_namespaced_event", None),
    "configmaps": ("core", "list_namespaced_config_map", None),
    "services": ("core", "list_namespaced_service", None),
    "endpoints": ("core", "list_namespaced_endpoints", None),
    "persistentvolumeclaims": ("core", "list_namespaced_persistent_volume_claim", None),
}
# Without these, and without a root cause found anyway, a service's verdict would be a guess.
ESSENTIAL = ("deployments", "pods", "events", "container_logs")
NOT_IN_A_SCAN = ("azureml_service", "azureml_logs", "azureml_init_logs", "storage_index", "build_log")


@dataclass
class Listing:
    """One list call's items, or the one line saying why it failed."""

    items: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass
class ServiceEvidence:
    """One service of a scan. ``part`` is given when it was built already (the v2 rows); a v1
    service builds its Part on demand (``build``), so that only the one being analysed is held."""

    service: str
    namespace: str
    part: Part | None  # None with no ``build``: the service could not be collected at all
    deployment: dict | None = None
    pods: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    error: str = ""  # why the service is unknown before any analysis
    build: Callable[[], Part] | None = None
    logs: dict[str, bytes] = field(default_factory=dict)  # bundle path -> log, for pods that needed them
    log_gaps: list[str] = field(default_factory=list)

    def take_part(self) -> Part | None:
        """The service's Part with its logs; built anew on each call when built on demand."""
        if self.part is not None or self.build is None:
            return self.part
        part = self.build()
        part.files.update(self.logs)
        part.gaps += [Gap("container_logs", line) for line in self.log_gaps]
        if self.logs or (self.pods and not self.log_gaps):  # read, or none needed: every pod ready and quiet
            part.collected.append("container_logs")
        return part


class ScanFailed(Exception):
    """Nothing could be listed at all: no namespace, or the API server unreachable."""


# ----------------------------------------------------------------------------- lists
class _Lister:
    def __init__(self, reader: Reader, pool: concurrent.futures.Executor):
        self.reader, self.pool = reader, pool

    def submit(self, method: Callable, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return self.pool.submit(self._list, method, *args, **kwargs)

    def _list(self, method: Callable, *args: Any, **kwargs: Any) -> Listing:
        try:
            return Listing(self.reader.json(method, *args, **kwargs).get("items") or [])
        except CallFailed as failed:
            return Listing(error=failed.line)


def _result(future: concurrent.futures.Future, done: set) -> Listing:
    return future.result() if future in done else Listing(error="timed out (--timeout)")


def find_namespaces(reader: Reader) -> list[str]:
    """The azureml-* namespaces, where v1 puts each workspace's services."""
    try:
        data = reader.json(reader.core.list_namespace)
    except CallFailed as failed:
        raise ScanFailed(f"cannot list the namespaces: {failed.line}; pass --namespace or --workspace-name") from None
    return sorted(n["metadata"]["name"] for n in data.get("items", []) if n["metadata"]["name"].startswith("azureml-"))


def collect_fleet(
    reader: Reader,
    namespaces: list[str],
    services: list[str] | None,
    *,
    log_lines: int,
    workers: int = 8,
    deadline: float | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> list[ServiceEvidence]:
    """Every service's evidence: all labelled Deployments (``services=None``) or the named ones."""
    deadline = deadline if deadline is not None else time.monotonic() + 3600
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet")
    try:
        lister = _Lister(reader, pool)
        say(f"listing {', '.join(NAMESPACE_LISTS)} in {', '.join(namespaces)}; nodes, persistentvolumes and azureml-fe pods")
        cluster_futures = {
            "nodes": lister.submit(reader.core.list_node),
            "persistentvolumes": lister.submit(reader.core.list_persistent_volume),
            **{f"{FRONTEND_PODS}/{ns}": lister.submit(reader.core.list_namespaced_pod, ns, label_selector=f"{SERVICE_LABEL}={FRONTEND_SERVICE}")
               for ns in FRONTEND_NAMESPACES},
        }
        namespace_futures = {
            (ns, resource): lister.submit(getattr(reader.apps if group == "apps" else reader.core, method), ns,
                                          **({"label_selector": selector} if selector else {}))
            for ns in namespaces for resource, (group, method, selector) in NAMESPACE_LISTS.items()
        }
        done, _ = concurrent.futures.wait(list(cluster_futures.values()) + list(namespace_futures.values()),
                                          timeout=max(0.0, deadline - time.monotonic()))
        cluster = _ClusterLists({key: _result(f, done) for key, f in cluster_futures.items()})
        found: list[ServiceEvidence] = []
        for ns in namespaces:
            lists = _NamespaceLists(ns, {resource: _result(namespace_futures[(ns, resource)], done) for resource in NAMESPACE_LISTS})
            found += lists.services(services, cluster)
        failed = [_result(f, done).error for f in namespace_futures.values()]
        if failed and None not in failed:
            raise ScanFailed(failed[0])
        _read_logs(reader, pool, workers, found, log_lines, deadline, say)
        return found
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class _ClusterLists:
    def __init__(self, listings: dict[str, Listing]):
        self.nodes = listings["nodes"]
        self.nodes_summary = [node_summary(n) for n in self.nodes.items]
        self.nodes.items = []  # the summaries are what is kept
        self.pvs = listings["persistentvolumes"]
        self.pvs_by_name = {pv["metadata"]["name"]: pv for pv in self.pvs.items}
        frontends = [listing for key, listing in listings.items() if key.startswith(FRONTEND_PODS)]
        ok = [listing for listing in frontends if listing.error is None]
        self.frontend = Listing([p for listing in ok for p in listing.items]) if ok else frontends[0]


class _NamespaceLists:
    """One namespace's lists, indexed so each service's share is a few dict lookups."""

    def __init__(self, namespace: str, lists: dict[str, Listing]):
        self.namespace, self.lists = namespace, lists
        self.by_name = {r: {o["metadata"]["name"]: o for o in lists[r].items}
                        for r in ("deployments", "configmaps", "services", "endpoints", "persistentvolumeclaims")}
        self.replicasets_of: dict[str, list[dict]] = defaultdict(list)  # owner uid -> its ReplicaSets
        for rs in lists["replicasets"].items:
            for owner in rs["metadata"].get("ownerReferences") or []:
                self.replicasets_of[owner.get("uid")].append(rs)
        self.pods_of: dict[str, list[dict]] = defaultdict(list)
        for pod in lists["pods"].items:
            self.pods_of[(pod["metadata"].get("labels") or {}).get(SERVICE_LABEL, "")].append(pod)
        self.events_by_uid: dict[str, list[dict]] = defaultdict(list)
        self.events_by_name: dict[tuple, list[dict]] = defaultdict(list)
        for event in lists["events"].items:
            involved = event.get("involvedObject") or {}
            if involved.get("uid"):
                self.events_by_uid[involved["uid"]].append(event)
            self.events_by_name[(involved.get("kind"), involved.get("name"))].append(event)

    def services(self, wanted: list[str] | None, cluster: _ClusterLists) -> list[ServiceEvidence]:
        deployments = self.lists["deployments"]
        if deployments.error is not None:
            names = wanted or ["*"]
            return [ServiceEvidence(n, self.namespace, None, error=f"cannot list deployments: {deployments.error}") for n in names]
        if wanted is None:
            names = sorted(n for n, d in self.by_name["deployments"].items()
                           if SERVICE_LABEL in (d["metadata"].get("labels") or {}) and n != FRONTEND_SERVICE)
        else:
            names = [n for n in wanted if n in self.by_name["deployments"]]
        return [self._service(self.by_name["deployments"][n], cluster) for n in names]

    def _service(self, deployment: dict, cluster: _ClusterLists) -> ServiceEvidence:
        service = deployment["metadata"]["name"]
        # The ReplicaSets the Deployment owns (collect.core.owned_replicasets), through the index.
        replicasets = owned_replicasets(deployment, self.replicasets_of.get(deployment["metadata"].get("uid"), []))
        pods = self.pods_of.get(service, [])
        spec = template_spec(deployment, pods)
        claims = claims_of([spec] + [p.get("spec") or {} for p in pods])
        objects = ServiceObjects(service, deployment, tuple(replicasets), tuple(pods), tuple(claims))
        events = self._events(objects) if self.lists["events"].error is None else []
        return ServiceEvidence(service, self.namespace, None, deployment, pods, events,
                               build=lambda: self._part(objects, events, spec, cluster))

    def _events(self, objects: ServiceObjects) -> list[dict]:
        """The service's events (the collectors' one filter), found through the namespace's index."""
        keep = event_filter(objects)
        candidates = [e for k in objects.keys() for e in self.events_by_name.get(k, [])]
        candidates += [e for u in objects.uids() for e in self.events_by_uid.get(u, [])]
        seen: dict[int, dict] = {}
        for event in candidates:
            if keep(event):
                seen.setdefault(id(event), event)
        return list(seen.values())

    def _part(self, objects: ServiceObjects, events: list[dict], spec: dict, cluster: _ClusterLists) -> Part:
        service = objects.service
        part = Part()
        part.learn("cluster", namespace=self.namespace)
        store = _Store(part)
        store.put("deployments", [objects.deployment])
        store.take("replicasets", self.lists["replicasets"], lambda: list(objects.replicasets))
        pods = store.take("pods", self.lists["pods"], lambda: list(objects.pods))
        part.learn("cluster", pods=tuple(p["metadata"]["name"] for p in pods))
        self._configmap(store, spec)
        pvcs = store.take_named("persistentvolumeclaims", self.lists["persistentvolumeclaims"],
                                self.by_name["persistentvolumeclaims"], sorted(objects.claims), self.namespace)
        volumes = [pvc["spec"]["volumeName"] for pvc in pvcs or [] if (pvc.get("spec") or {}).get("volumeName")]
        if pvcs is not None:
            store.take_named("persistentvolumes", cluster.pvs, cluster.pvs_by_name, volumes, "the cluster")
        for resource in ("services", "endpoints"):
            store.take_named(resource, self.lists[resource], self.by_name[resource], [service], self.namespace)
        store.take("events", self.lists["events"], lambda: events)
        store.take("nodes", cluster.nodes, lambda: cluster.nodes_summary)
        store.take(FRONTEND_PODS, cluster.frontend, lambda: cluster.frontend.items)
        for what in NOT_IN_A_SCAN:
            part.gaps.append(Gap(what, "a fleet scan reads the cluster only"))
        return part

    def _configmap(self, store: _Store, spec: dict) -> None:
        scoring = scoring_container_in(spec)
        name = next((e.get("value") for e in (scoring or {}).get("env") or [] if e.get("name") == "InitContainerConfig"), None)
        if not name:
            store.part.gaps.append(Gap("configmaps", "no scoring container with an InitContainerConfig env var"))
            return
        store.part.learn("cluster", scoring_image=scoring.get("image", ""))
        found = store.take_named("configmaps", self.lists["configmaps"], self.by_name["configmaps"], [name], self.namespace)
        if found:
            record_configmap(store.part, name, found[0])


class _Store:
    """Adds one service's share of each list to its Part, or the list's failure as a gap."""

    def __init__(self, part: Part):
        self.part = part

    def put(self, resource: str, items: list[dict]) -> None:
        self.part.files[f"kubernetes/{resource}.json"] = kubectl_list(resource, items)
        self.part.collected.append(resource)

    def take(self, resource: str, listing: Listing, select: Callable[[], list[dict]]) -> list[dict]:
        if listing.error is not None:
            self.part.gaps.append(Gap(resource, listing.error))
            return []
        items = select()
        self.put(resource, items)
        return items

    def take_named(self, resource: str, listing: Listing, by_name: dict, names: list[str], where: str) -> list[dict] | None:
        """The named objects; a name that is not there is a gap, as a 404 would be for one GET."""
        if listing.error is not None:
            self.part.gaps.append(Gap(resource, listing.error))
            return None
        missing = [n for n in names if n not in by_name]
        for name in missing:
            self.part.gaps.append(Gap(resource, f'{resource} "{name}" not found in {where}'))
        if not missing:
            self.put(resource, [by_name[n] for n in names])
        return [by_name[n] for n in names if n in by_name]


# ----------------------------------------------------------------------------- logs
def read_pod_logs(reader: Reader, namespace: str, pod: dict, log_lines: int) -> tuple[dict[str, bytes], list[str]]:
    """The logs :func:`aml_doctor.collect.core.scan_logs` picks for one pod: (bundle path -> log,
    failure lines). A previous log marked ``fallback`` is read only when the current one of that
    container does not show the failure."""
    name = pod["metadata"]["name"]
    logs: dict[str, bytes] = {}
    failures: list[str] = []
    for read in scan_logs(pod):
        if read.fallback:
            current = logs.get(log_path(name, read.container, False))
            if current is not None and log_shows_failure(current):
                continue
        path = log_path(name, read.container, read.previous)
        try:
            logs[path] = reader.raw(reader.core.read_namespaced_pod_log, name, namespace, container=read.container,
                                    tail_lines=log_lines or None, previous=read.previous or None)
        except CallFailed as failed:
            if read.previous and failed.status == 400 and PREVIOUS_MISSING.search(failed.line):
                continue
            failures.append(f"{path}: {failed.line}")
            if failed.status is None:  # a timeout: this pod's other logs would wait as long
                break
    return logs, failures


def pods_needing_logs(pods: list[dict], events: list[dict]) -> list[dict]:
    warned = warned_pods(events)
    return [p for p in pods if pod_needs_logs(p, warned)]


def _read_logs(reader: Reader, pool: concurrent.futures.Executor, workers: int, found: list[ServiceEvidence],
               log_lines: int, deadline: float, say: Callable[[str], None]) -> None:
    jobs = {pool.submit(read_pod_logs, reader, s.namespace, pod, log_lines): (s, pod["metadata"]["name"])
            for s in found if s.build is not None for pod in pods_needing_logs(s.pods, s.events)}
    say(f"reading the logs of {len(jobs)} pod(s) that need them, {workers} at a time")
    done, _ = concurrent.futures.wait(jobs, timeout=max(0.0, deadline - time.monotonic()))
    for job, (service, pod) in jobs.items():
        if job not in done:
            service.log_gaps.append(f"logs/{pod}: timed out (--timeout)")
            continue
        logs, failures = job.result()
        service.logs.update(logs)
        service.log_gaps += failures
