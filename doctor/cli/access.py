"""``aml-doctor SERVICE --check-access``: what the current identity may read, and what that leaves unchecked.

Each check is the read the collector itself makes, with ``limit=1``: a list either answers or is
refused, as ``kubectl auth can-i list pods -n NS`` would say, but without the
SelfSubjectAccessReview POST (aml-doctor never writes, not even a review object). Logs are
checked on one pod of the service when there is one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from aml_doctor.common.exitcodes import ExitCode


@dataclass(frozen=True)
class Check:
    source: str  # the evidence source it feeds (rule ``requires`` names)
    verb: str
    resource: str
    namespaced: bool
    needed_for: str  # why aml-doctor reads it


CHECKS = (
    Check("deployments", "list", "deployments.apps", True, "the service's Deployment and its rollout"),
    Check("replicasets", "list", "replicasets.apps", True, "which pods belong to the current rollout"),
    Check("pods", "list", "pods", True, "pod and container states, restarts, exit codes"),
    Check("events", "list", "events", True, "scheduling, pull, mount and probe failures"),
    Check("configmaps", "list", "configmaps", True, "the InitContainerConfig: model and code blob paths"),
    Check("services", "list", "services", True, "the service's ports"),
    Check("endpoints", "list", "endpoints", True, "whether any pod is behind the service"),
    Check("persistentvolumeclaims", "list", "persistentvolumeclaims", True, "the blobfuse volume claim"),
    Check("container_logs", "get", "pods/log", True, "the scoring and init containers' logs"),
    Check("nodes", "list", "nodes", False, "node capacity: CPU, memory, GPUs"),
    Check("persistentvolumes", "list", "persistentvolumes", False, "the blobfuse volume"),
    Check("namespaces", "list", "namespaces", False, "finding the service when -n is not given"),
    Check("frontend-pods", "list", "pods", False, "azureml-fe, the cluster's scoring front end (all namespaces)"),
)


def _one(method):
    """The list call with Kubernetes' ``limit=1`` (Reader's own ``limit`` keyword is its byte cap)."""
    import functools

    return functools.partial(method, limit=1)


def _probe(reader, check: Check, namespace: str, service: str) -> str:
    """"yes", "no: <why>" or "unknown: <why>"."""
    from aml_doctor.collect.kubernetes import SERVICE_LABEL, CallFailed

    core, apps = reader.core, reader.apps
    calls = {
        "deployments": (apps.list_namespaced_deployment, (namespace,)),
        "replicasets": (apps.list_namespaced_replica_set, (namespace,)),
        "pods": (core.list_namespaced_pod, (namespace,)),
        "events": (core.list_namespaced_event, (namespace,)),
        "configmaps": (core.list_namespaced_config_map, (namespace,)),
        "services": (core.list_namespaced_service, (namespace,)),
        "endpoints": (core.list_namespaced_endpoints, (namespace,)),
        "persistentvolumeclaims": (core.list_namespaced_persistent_volume_claim, (namespace,)),
        "nodes": (core.list_node, ()),
        "persistentvolumes": (core.list_persistent_volume, ()),
        "namespaces": (core.list_namespace, ()),
    }
    try:
        if check.source == "frontend-pods":
            reader.json(_one(core.list_pod_for_all_namespaces), label_selector=f"{SERVICE_LABEL}=azureml-fe")
        elif check.source == "container_logs":
            pods = reader.json(_one(core.list_namespaced_pod), namespace, label_selector=f"{SERVICE_LABEL}={service}")
            items = pods.get("items") or []
            if not items:
                return "unknown: no pod of the service to read a log from"
            pod = items[0]
            container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name")
            reader.raw(core.read_namespaced_pod_log, pod["metadata"]["name"], namespace, container=container, tail_lines=1)
        else:
            method, args = calls[check.source]
            reader.json(_one(method), *args)
        return "yes"
    except CallFailed as failed:
        if failed.status in (401, 403):
            return f"no: {failed.line}"
        if failed.status == 400 and check.source == "container_logs":
            return "yes"  # the container has not started: the read was allowed
        return f"unknown: {failed.line}"


def check_access(args) -> int:
    """Print one line per read and what a refusal leaves unchecked; exit 0 when everything may be
    read, 1 when something may not, 3 when the API server cannot be reached."""
    from aml_doctor.cli.pipeline import load_rules
    from aml_doctor.cli.liverun import kube_client
    from aml_doctor.collect.core import workspace_namespace
    from aml_doctor.collect.kubernetes import Reader
    from aml_doctor.collect.part import Part

    service = args.service[0] if args.service else ""
    namespace = args.namespace or (workspace_namespace(args.workspace_name) if args.workspace_name else None) \
        or getattr(args, "context_namespace", None)
    if not namespace:
        from aml_doctor.cli.errors import UsageError

        raise UsageError("--check-access needs the namespace: -n NAMESPACE (or -w WORKSPACE)")
    _, rules, _ = load_rules(args)
    reader = Reader(kube_client(args), args.request_timeout, Part())  # closed when the run ends
    results = [(c, _probe(reader, c, namespace, service)) for c in CHECKS]
    if reader.unreachable:
        print(f"aml-doctor: error: {reader.unreachable}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    out = [f"Access of the current identity in namespace {namespace} (the reads aml-doctor makes; it never writes):"]
    for c, answer in results:
        scope = f"-n {namespace}" if c.namespaced else "(cluster)"
        out.append(f"  {answer.split(':')[0]:<8} {c.verb} {c.resource} {scope}  {c.needed_for}"
                   + (f"\n           {answer.split(': ', 1)[1]}" if ": " in answer else ""))
    denied = {c.source for c, answer in results if answer.startswith("no")}
    if "namespaces" in denied:
        denied.discard("namespaces")
        out.append("  without list namespaces, pass -n or -w: the azureml-* namespaces cannot be searched")
    affected = []
    for rule in rules:
        sources = {s for group in rule.requires for s in group.split("|")}
        hit = sorted(sources & denied)
        if hit:
            affected.append(f"{rule.id} ({', '.join(hit)})")
    if affected:
        out.append("Left unchecked or partly checked without them: " + ", ".join(affected))
    else:
        out.append("Nothing is left unchecked for lack of access." if not denied else "No rule depends on what is refused.")
    out.append("The Role and ClusterRole that grant these reads are in the README (\"aml-doctor only reads\").")
    print("\n".join(out))
    return ExitCode.FINDINGS if any(a.startswith("no") for _, a in results) else ExitCode.OK
