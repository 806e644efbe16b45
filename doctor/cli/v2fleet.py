"""``aml-doctor --all``: the v2 online deployments of a namespace (or of the cluster), beside the v1
services, as rows of the same summary table.

One list per kind, never one call per deployment: the OnlineDeployment and OnlineEndpoint CRs, the
namespace's Deployments, pods and events, and once for the cluster the InstanceTypes, nodes, the
``azureml`` namespace's pods and the NetworkPolicies. Each deployment's objects are picked out by
owner references (the same matching as ``aml-doctor ENDPOINT -d DEPLOYMENT``), analysed with every
rule, and become a :class:`aml_doctor.cli.fleet.FleetRow` named ``<endpoint>/<deployment>``. Logs are
read only for containers that restarted or wait, as the v1 scan does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aml_doctor.collect.kubernetes import CallFailed, node_summary
from aml_doctor.collect.part import Gap, Part


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _deployment_name(cr: dict, endpoint: str) -> str:
    name = _name(cr)
    if name.startswith(endpoint + "-"):
        return name[len(endpoint) + 1:]
    if name.endswith("-" + endpoint):
        return name[: -len(endpoint) - 1]
    return name


def v2_rows(args, analyze_files: Callable, fail_on, progress) -> list:
    """FleetRows for the v2 deployments in ``args.namespace`` (or everywhere with -A or no -n); []
    when the cluster has no AzureML extension."""
    from aml_doctor.collect.v2kubernetes import ExtensionMissing, V2Reader
    from aml_doctor.cli.fleetrow import fleet_row
    from aml_doctor.cli.liverun import kube_client
    from aml_doctor.collect.part import bundle_files as render

    try:
        api_client = kube_client(args)  # the run's one client, closed when the run ends
    except Exception:  # noqa: BLE001 - the v1 scan has reported an unusable kubeconfig already
        return []
    v = V2Reader(api_client, args.request_timeout, Part())
    try:
        v.group_version()
    except (ExtensionMissing, CallFailed):
        return []
    namespace = args.namespace or None
    try:
        crs = v.custom_list("onlinedeployments", namespace).get("items", [])
        endpoints = v.custom_list("onlineendpoints", namespace).get("items", [])
    except CallFailed as failed:
        progress(f"v2: cannot list online deployments: {failed.line}")
        return []
    if not crs:
        return []
    progress(f"v2: {len(crs)} online deployment(s)")
    shared, by_ns, gaps = _lists(v, crs)
    rows = []
    for cr in crs:
        evidence, service, extras = _deployment_evidence(v, args, cr, endpoints, shared, by_ns[_namespace(cr)], gaps)

        def analyze_part(e, part=evidence.part, service=service, ns=evidence.namespace, extras=extras):
            return analyze_files(render(service, ns, args.workspace_name or "", part, extras, redact_secrets=False),
                                 f"live: {extras['endpoint']}/{extras['deployment']}")

        rows.append(fleet_row(evidence, analyze_part, fail_on, time.time()))
    return rows


def _namespace(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def _lists(v, crs: list[dict]) -> tuple[dict[str, list[dict]], dict[str, dict[str, list[dict]]], list[Gap]]:
    """Each list once: the cluster-wide ones (instance types, nodes, the extension's pods), and
    per namespace that holds a deployment its Deployments, pods, events and network policies."""
    r = v.r
    shared: dict[str, list[dict]] = {}
    gaps: list[Gap] = []
    for resource, call in (("instancetypes", lambda: v.custom_list("instancetypes", None)),
                           ("nodes", lambda: r.json(r.core.list_node)),
                           ("extension-pods", lambda: r.json(r.core.list_namespaced_pod, "azureml"))):
        try:
            items = call().get("items", [])
            shared[resource] = [node_summary(n) for n in items] if resource == "nodes" else items
        except CallFailed as failed:
            gaps.append(Gap(resource, failed.line))
    by_ns: dict[str, dict[str, list[dict]]] = {}
    for ns in sorted({_namespace(cr) for cr in crs}):
        lists: dict[str, list[dict]] = {}
        for resource, method in (("deployments", r.apps.list_namespaced_deployment), ("pods", r.core.list_namespaced_pod),
                                 ("events", r.core.list_namespaced_event),
                                 ("networkpolicies", v.networking.list_namespaced_network_policy)):
            try:
                lists[resource] = r.json(method, ns).get("items", [])
            except CallFailed as failed:
                gaps.append(Gap(resource, f"{ns}: {failed.line}"))
                lists[resource] = []
        by_ns[ns] = lists
    return shared, by_ns, gaps


def _deployment_evidence(v, args, cr: dict, endpoints: list[dict], shared: dict, lists: dict, gaps: list[Gap]):
    """One online deployment's slice of the lists, and its logs as the v1 scan chooses them:
    (ServiceEvidence, the service name, the manifest's extras)."""
    from aml_doctor.collect.fleet import ServiceEvidence, pods_needing_logs, read_pod_logs
    from aml_doctor.collect.v2kubernetes import belongs, choose_k8s_deployment, kubectl_list

    ns = _namespace(cr)
    ep = next((_name(e) for e in endpoints if _namespace(e) == ns and belongs(cr, _name(e))), "")
    deployment = _deployment_name(cr, ep) if ep else _name(cr)
    k8s = choose_k8s_deployment(lists["deployments"], cr, deployment)
    pods = []
    if k8s is not None:
        selector = ((k8s.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        pods = [p for p in lists["pods"] if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == val for k, val in selector.items())]
    uids = {(o.get("metadata") or {}).get("uid") for o in [k8s or {}] + pods} - {None}
    names = {_name(o) for o in [k8s or {}] + pods} - {""}
    events = [e for e in lists["events"] if (e.get("involvedObject") or {}).get("uid") in uids
              or (e.get("involvedObject") or {}).get("name") in names]
    part = Part(gaps=list(gaps))
    for resource, items in (("onlinedeployments", [cr]), ("onlineendpoints", [e for e in endpoints if _name(e) == ep]),
                            ("deployments", [k8s] if k8s else []), ("pods", pods), ("events", events),
                            ("networkpolicies", lists["networkpolicies"]), *shared.items()):
        part.files[f"kubernetes/{resource}.json"] = kubectl_list(resource, items, v.version)
        part.collected.append(resource)
    for pod in pods_needing_logs(pods, events):  # the v1 scan's choice of logs
        logs, failures = read_pod_logs(v.r, ns, pod, args.log_lines)
        part.files.update(logs)
        if logs:
            part.collected.append("container_logs")
        part.gaps += [Gap("container_logs", line) for line in failures]
    service = (((k8s or {}).get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels", {}).get("azuremlappname") or _name(k8s or cr)
    extras = {"platform": "k8s_online_v2", "endpoint": ep, "deployment": deployment, "compute": ""}
    return ServiceEvidence(f"{ep or '?'}/{deployment} (v2)", ns, part, k8s, pods, events), service, extras
