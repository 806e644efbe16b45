"""``aml-doctor --all`` and ``aml-doctor svc1 svc2 ...``: many services from one shared collection.

Each namespace's Deployments, ReplicaSets, pods, events, ConfigMaps, Services, Endpoints and PVCs
are listed once, and the cluster's nodes, PersistentVolumes and azureml-fe pods once per scan.
Each service's evidence is cut out of those lists here, so the number of list calls grows with
the namespaces, not with the services. Logs are the only per-pod reads. They run on a bounded
thread pool, and only where a log exists and can tell something: each container that has run,
its previous instance after a restart, and an init container only when it did not complete.

A service whose evidence cannot be read (its pods, its events, its logs) and that shows no root
cause without it is listed as unknown, with the reason; the other services go on.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aml_doctor.collect.kubernetes import (
    PREVIOUS_MISSING,
    FRONTEND_NAMESPACES,
    FRONTEND_PODS,
    SERVICE_LABEL,
    CallFailed,
    node_summary,
    Reader,
    record_configmap,
    kubectl_list,
)
from aml_doctor.collect.part import Gap, Part
from aml_doctor.views.kube import scoring_container_in
from aml_doctor.findings import Report, Verdict

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
FRONTEND_SERVICE = "azureml-fe"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass
class Listing:
    """One list call's items, or the one line saying why it failed."""

    items: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass
class ServiceEvidence:
    service: str
    namespace: str
    part: Part | None  # None when the service could not be collected at all
    deployment: dict | None = None
    pods: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    error: str = ""  # why the service is unknown before any analysis


@dataclass(frozen=True)
class FleetRow:
    """One line of the summary table."""

    service: str
    namespace: str
    state: str  # where the pods are: "Running, ready", "CrashLoopBackOff: 7 restart(s)", "unknown"
    # The report's own verdict words (model.Verdict values), and "unknown" when the service's
    # evidence could not be read at all: reports/view.py FLEET_VERDICTS.
    verdict: str
    root_cause: str  # the root cause (or top symptom) title, or why the service is unknown
    rule: str
    age: str
    report: Report | None = None


class ScanFailed(Exception):
    """Nothing could be listed at all: no namespace, or the API server unreachable."""


# ----------------------------------------------------------------------------- collection
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
        self.pods_of: dict[str, list[dict]] = defaultdict(list)
        for pod in lists["pods"].items:
            self.pods_of[(pod["metadata"].get("labels") or {}).get(SERVICE_LABEL, "")].append(pod)
        self.replicasets_of: dict[str, list[dict]] = defaultdict(list)
        for rs in lists["replicasets"].items:
            for owner in rs["metadata"].get("ownerReferences") or []:
                self.replicasets_of[owner.get("uid")].append(rs)
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
        part = Part(facts={"namespace": self.namespace})
        store = _Store(part)
        store.put("deployments", [deployment])
        replicasets = store.take("replicasets", self.lists["replicasets"],
                                 lambda: self.replicasets_of.get(deployment["metadata"].get("uid"), []))
        pods = store.take("pods", self.lists["pods"], lambda: self.pods_of.get(service, []))
        part.facts["pods"] = [p["metadata"]["name"] for p in pods]
        spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or (pods[0].get("spec") if pods else {}) or {}
        self._configmap(store, spec)
        claims = sorted({(v.get("persistentVolumeClaim") or {}).get("claimName")
                         for s in [spec] + [p.get("spec") or {} for p in pods] for v in s.get("volumes") or []} - {None})
        pvcs = store.take_named("persistentvolumeclaims", self.lists["persistentvolumeclaims"],
                                self.by_name["persistentvolumeclaims"], claims, self.namespace)
        volumes = [pvc["spec"]["volumeName"] for pvc in pvcs if (pvc.get("spec") or {}).get("volumeName")]
        if pvcs is not None:
            store.take_named("persistentvolumes", cluster.pvs, cluster.pvs_by_name, volumes, "the cluster")
        for resource in ("services", "endpoints"):
            store.take_named(resource, self.lists[resource], self.by_name[resource], [service], self.namespace)
        events = store.take("events", self.lists["events"], lambda: self._events(deployment, replicasets, pods, claims))
        store.take("nodes", cluster.nodes, lambda: cluster.nodes_summary)
        store.take(FRONTEND_PODS, cluster.frontend, lambda: cluster.frontend.items)
        for what in NOT_IN_A_SCAN:
            part.gaps.append(Gap(what, "a fleet scan reads the cluster only"))
        return ServiceEvidence(service, self.namespace, part, deployment, pods, events)

    def _configmap(self, store: _Store, spec: dict) -> None:
        scoring = scoring_container_in(spec)
        name = next((e.get("value") for e in (scoring or {}).get("env") or [] if e.get("name") == "InitContainerConfig"), None)
        if not name:
            store.part.gaps.append(Gap("configmaps", "no scoring container with an InitContainerConfig env var"))
            return
        store.part.facts["scoring_image"] = scoring.get("image", "")
        found = store.take_named("configmaps", self.lists["configmaps"], self.by_name["configmaps"], [name], self.namespace)
        if found:
            record_configmap(store.part, name, found[0])

    def _events(self, deployment: dict, replicasets: list[dict], pods: list[dict], claims: list[str]) -> list[dict]:
        """The events that involve one of the service's objects, by uid or by kind and name."""
        service = deployment["metadata"]["name"]
        keys = [("Deployment", service), ("Service", service), ("Endpoints", service)]
        keys += [("ReplicaSet", rs["metadata"]["name"]) for rs in replicasets]
        keys += [("Pod", p["metadata"]["name"]) for p in pods] + [("PersistentVolumeClaim", c) for c in claims]
        uids = [o["metadata"].get("uid") for o in [deployment] + replicasets + pods]
        seen: dict[int, dict] = {}
        for event in [e for k in keys for e in self.events_by_name.get(k, [])] + [e for u in uids for e in self.events_by_uid.get(u, [])]:
            seen.setdefault(id(event), event)
        return list(seen.values())


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
def logs_worth_reading(pod: dict) -> list[tuple[str, bool]]:
    """(container, previous) for each log that exists and can say something: a container that has
    run (an init container only if it did not complete), and its previous instance after a restart."""
    status = pod.get("status") or {}
    wanted = []
    for statuses, init in ((status.get("initContainerStatuses") or [], True), (status.get("containerStatuses") or [], False)):
        for cs in statuses:
            state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
            restarts = cs.get("restartCount") or 0
            if init and (state.get("terminated") or {}).get("exitCode") == 0 and not restarts:
                continue
            if "running" in state or "terminated" in state or last:
                wanted.append((cs["name"], False))
            if restarts and last:
                wanted.append((cs["name"], True))
    return wanted


def _pod_logs(reader: Reader, namespace: str, pod: dict, log_lines: int) -> tuple[dict[str, bytes], list[str]]:
    name = pod["metadata"]["name"]
    logs: dict[str, bytes] = {}
    failures: list[str] = []
    for container, previous in logs_worth_reading(pod):
        path = f"logs/{name}/{container}{'.previous' if previous else ''}.log"
        try:
            logs[path] = reader.raw(reader.core.read_namespaced_pod_log, name, namespace, container=container,
                                    tail_lines=log_lines or None, previous=previous or None)
        except CallFailed as failed:
            if previous and failed.status == 400 and PREVIOUS_MISSING.search(failed.line):
                continue
            failures.append(f"{path}: {failed.line}")
            if failed.status is None:  # a timeout: this pod's other logs would wait as long
                break
    return logs, failures


def _read_logs(reader: Reader, pool: concurrent.futures.Executor, workers: int, found: list[ServiceEvidence],
               log_lines: int, deadline: float, say: Callable[[str], None]) -> None:
    jobs = {pool.submit(_pod_logs, reader, s.namespace, pod, log_lines): (s, pod["metadata"]["name"])
            for s in found if s.part is not None for pod in s.pods}
    say(f"reading the logs of {len(jobs)} pod(s), {workers} at a time")
    done, _ = concurrent.futures.wait(jobs, timeout=max(0.0, deadline - time.monotonic()))
    for job, (service, pod) in jobs.items():
        part = service.part
        if job not in done:
            part.gaps.append(Gap("container_logs", f"logs/{pod}: timed out (--timeout)"))
            continue
        logs, failures = job.result()
        part.files.update(logs)
        part.gaps += [Gap("container_logs", line) for line in failures]
    for service in found:
        if service.part is not None and any(p.startswith("logs/") for p in service.part.files):
            service.part.collected.append("container_logs")


# ----------------------------------------------------------------------------- verdicts
def fleet_row(evidence: ServiceEvidence, analyze_part: Callable[[ServiceEvidence], Report], fail_on, now: float) -> FleetRow:
    """Analyse one service; any failure here makes it unknown rather than stopping the scan."""
    from aml_doctor.cli.watch import deployment_stage

    service, ns = evidence.service, evidence.namespace
    if evidence.part is None:
        return FleetRow(service, ns, "unknown", "unknown", evidence.error, "", "")
    age = _age(evidence.deployment, now)
    try:
        report = analyze_part(evidence)
        by_kind: dict[tuple, list[dict]] = defaultdict(list)
        for event in evidence.events:
            involved = event.get("involvedObject") or {}
            by_kind[(involved.get("kind"), involved.get("name"))].append(event)
            by_kind[(involved.get("kind"), "")].append(event)
        where = deployment_stage(service, evidence.deployment, evidence.pods, lambda kind, name: by_kind.get((kind, name), []))
    except Exception as exc:  # noqa: BLE001 - one service's bad evidence must not stop the scan
        return FleetRow(service, ns, "unknown", "unknown", f"could not analyse: {type(exc).__name__}: {exc}", "", age)
    top = report.findings[0].finding if report.findings else None
    gaps = [g for g in evidence.part.gaps if g.what in ESSENTIAL]
    failing = [r for r in report.findings if fail_on is not None and fail_on <= r.finding.severity]
    if report.verdict is Verdict.ROOT_CAUSE_FOUND and failing:
        verdict = Verdict.ROOT_CAUSE_FOUND.value
    elif gaps:
        return FleetRow(service, ns, where.text, "unknown", f"{gaps[0].what}: {gaps[0].error}", "", age, report)
    elif report.verdict is Verdict.POSSIBLE_CAUSE and failing:
        verdict = Verdict.POSSIBLE_CAUSE.value
    elif failing:
        verdict = Verdict.SYMPTOMS_ONLY.value
    elif where.healthy:
        verdict = Verdict.NO_PROBLEM_FOUND.value
    else:
        # Nothing failing, but not healthy either (still starting, say): as a report would say.
        verdict = Verdict.UNRECOGNISED.value
    cause = f"{top.title}" if top and failing else ""
    return FleetRow(service, ns, where.text, verdict, cause, top.rule if top and failing else "", age, report)


def _age(deployment: dict | None, now: float) -> str:
    import calendar

    stamp = ((deployment or {}).get("metadata") or {}).get("creationTimestamp") or ""
    try:
        created = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return ""
    seconds = max(0, int(now - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def missing_rows(wanted: list[str] | None, found: list[ServiceEvidence], namespaces: list[str]) -> list[FleetRow]:
    """A row for each named service that no scanned namespace has a Deployment for."""
    if not wanted:
        return []
    seen = {s.service for s in found}
    where = ", ".join(namespaces) or "no namespace"
    return [FleetRow(n, "", "unknown", "unknown", f"no Deployment named {n!r} in {where}", "", "") for n in wanted if n not in seen]


def check_names(names: list[str]) -> list[str]:
    """Service names are Kubernetes names; anything else would also be unsafe as a file name."""
    bad = [n for n in names if not _DNS_LABEL.match(n)]
    if bad:
        raise ValueError(f"not a service name: {bad[0]!r} (lower-case letters, digits and '-')")
    return names


# ----------------------------------------------------------------------------- the command
EXTENSIONS = {"text": "txt", "md": "md", "html": "html", "json": "json", "sarif": "sarif", "junit": "xml"}


def run_fleet(args, progress, analyze_files: Callable[[dict[str, bytes], str], Report], fail_on) -> int:
    """The ``--all`` / several-services command: summary on stdout (or -o), reports in --output-dir."""
    import os
    import sys

    from aml_doctor.reports import render
    from aml_doctor.reports.fleet import render_fleet

    from aml_doctor.cli.errors import UsageError
    from aml_doctor.cli.output import write_output
    from aml_doctor.collect.kubernetes import api_client_for
    from aml_doctor.collect.part import manifest, render_files
    from aml_doctor.common.exitcodes import ExitCode

    try:
        wanted = check_names(list(args.service)) if args.service else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.output_dir:
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.output_dir))):
            raise UsageError(f"cannot write {args.output_dir}: its parent directory does not exist")
        os.makedirs(args.output_dir, exist_ok=True)
    try:
        api_client = api_client_for(args.kubeconfig, args.context)
    except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
        print(f"aml-doctor: error: cannot use {args.kubeconfig or 'the default kubeconfig'}: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    deadline = time.monotonic() + args.timeout
    from aml_doctor.common.termsafe import safe_progress

    progress = safe_progress(progress)  # service and namespace names come from the cluster
    try:
        # Each answer, body included, also ends by the scan's deadline (collect.kubernetes.Reader).
        reader = Reader(api_client, args.request_timeout, Part(), deadline)
        if args.namespace:
            namespaces = [args.namespace]
        elif args.workspace_name:
            namespaces = [f"azureml-{args.workspace_name.lower()}"]
        elif getattr(args, "context_namespace", None) and not args.all_namespaces:
            namespaces = [args.context_namespace]  # kubectl's default: the context's namespace
        else:
            progress("listing the azureml-* namespaces")
            namespaces = find_namespaces(reader)
        found = collect_fleet(reader, namespaces, wanted, log_lines=args.log_lines, workers=args.workers,
                              deadline=deadline, say=progress) if namespaces else []
    except ScanFailed as exc:
        print(f"aml-doctor: error: nothing could be collected: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    finally:
        api_client.close()

    def analyze_part(evidence: ServiceEvidence) -> Report:
        # In memory only, never written: evidence.load redacts as it reads, so once is enough here.
        files = render_files(manifest(evidence.service, evidence.namespace, args.workspace_name or "", evidence.part),
                             evidence.part, redact_secrets=False)
        return analyze_files(files, f"live: {evidence.namespace}/{evidence.service}")

    progress(f"analysing {len(found)} service(s)")
    now = time.time()
    rows = [fleet_row(e, analyze_part, fail_on, now) for e in found] + missing_rows(wanted, found, namespaces)
    if wanted is None:  # --all: the v2 online deployments beside the v1 services (docs/v2.md)
        from aml_doctor.cli.v2fleet import v2_rows

        rows += v2_rows(args, analyze_files, fail_on, progress)
    links = _write_reports(args, rows, render) if args.output_dir else {}
    summary = args.format if args.format in ("text", "md", "html", "json") else "text"
    title = f"aml-doctor: {len(rows)} service(s) in {', '.join(namespaces) or 'no namespace'}"
    getattr(progress, "close", lambda: None)()  # a terminal's progress display goes before the summary
    if args.output_dir:
        write_output(os.path.join(args.output_dir, "index.html"), render_fleet(rows, "html", title=title, links=links))
    write_output(args.output_file, render_fleet(rows, summary, title=title, links=links))
    return ExitCode.OK if rows and all(r.verdict == Verdict.NO_PROBLEM_FOUND.value for r in rows) else ExitCode.FINDINGS


def _write_reports(args, rows: list[FleetRow], render) -> dict[tuple[str, str], str]:
    """``<service>.<ext>`` per analysed service (``<namespace>.<service>.<ext>`` when a name repeats)."""
    import os

    from aml_doctor.cli.output import write_output

    ext = EXTENSIONS[args.format]
    names = [r.service for r in rows]
    links = {}
    for row in rows:
        if row.report is None:
            continue
        stem = row.service if names.count(row.service) == 1 else f"{row.namespace}.{row.service}"
        write_output(os.path.join(args.output_dir, f"{stem}.{ext}"), render(row.report, args.format))
        links[(row.namespace, row.service)] = f"{stem}.{ext}"
    return links
