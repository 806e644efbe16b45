"""``aml-doctor ENDPOINT -d DEPLOYMENT``: live diagnosis of a v2 online deployment.

``aml-doctor NAME`` finds what NAME is. With ``-d/--deployment`` or ``-e/--endpoint-name`` it is a
v2 online endpoint; without them, a cluster that serves the AzureML extension's
``onlineendpoints`` and has one named NAME (and no v1 web service named NAME) makes it one too.
Flags follow ``az ml online-deployment``: ``-e/--endpoint-name`` and ``-d/--deployment`` (``-n``
stays the namespace, as in kubectl: ``az ml``'s ``-n`` is the deployment's name, which here is ``-d``).

The collectors run in order, each feeding the next: azure-ai-ml (when a workspace is given, and the
``[v2]`` extra is installed) gives the deployment's state, both log containers, the endpoint's
traffic and auth mode, the compute's namespace and the first operation's error; the cluster gives
the custom resources, pods, logs and the extension's state (not for a managed online endpoint,
which has no cluster); storage checks the STORAGE_MANIFEST_URL blob, the files it lists and the
build log an ImageBuildFailure names. Everything else is as ``aml-doctor SERVICE`` (v1) does it:
the same deadline, gaps, redaction, report and exit codes.
"""

from __future__ import annotations

import os
import sys
import time

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.cli.liverun import endpoint_of

DETECT_SECONDS = 5.0  # the most "is NAME an online endpoint?" may take
CLUSTER_SOURCES = ("onlineendpoints", "onlinedeployments", "instancetypes", "deployments", "replicasets", "pods", "events",
                   "nodes", "networkpolicies", "extension-pods", "extension-deployments", "extension-events", "container_logs")
AZUREML_SOURCES = ("azureml_service", "azureml_logs", "azureml_init_logs")




def requested(args) -> bool:
    return bool(getattr(args, "deployment", None) or getattr(args, "endpoint_name", None))


def is_v2_endpoint(args, name: str) -> bool:
    """Whether the cluster has an online endpoint NAME and no v1 web service NAME: a cluster without
    the extension costs one GET (the API groups), one with it three (the endpoints by name, the v1
    Deployments by label)."""
    try:
        from aml_doctor.cli.liverun import kube_client
        from aml_doctor.collect.kubernetes import CallFailed, Reader
        from aml_doctor.collect.part import Part
        from aml_doctor.collect.v2kubernetes import ExtensionMissing, V2Reader
    except ImportError:  # no [live] extra: the v1 path says what to install
        return False
    try:
        api_client = kube_client(args)  # the run's one client: the diagnosis that follows uses it too
    except Exception:  # noqa: BLE001 - an unusable kubeconfig is reported by the v1 path as it always was
        return False
    # The question costs at most DETECT_SECONDS of the run's --timeout: a server too slow to answer
    # it is reported by the v1 path that follows, within what is left.
    limit = min(args.request_timeout, DETECT_SECONDS, args.timeout or DETECT_SECONDS)
    v = V2Reader(api_client, limit, Part(), deadline=time.monotonic() + limit)
    try:
        v.group_version()
        found = v.custom_list("onlineendpoints", getattr(args, "namespace", None) or None,
                              field_selector=f"metadata.name={name}").get("items", [])
    except (ExtensionMissing, CallFailed):
        return False
    if not found:
        return False
    reader = Reader(api_client, limit, Part(), deadline=time.monotonic() + limit)
    try:
        v1 = reader.json(reader.apps.list_deployment_for_all_namespaces, label_selector=f"azuremlappname={name}").get("items", [])
    except CallFailed:
        v1 = []
    return not v1


def wanted(args) -> bool:
    """``aml-doctor NAME ...`` is a v2 diagnosis: -d/-e given, or NAME is the cluster's online endpoint."""
    if requested(args):
        return True
    names = list(getattr(args, "service", None) or [])
    if len(names) != 1 or getattr(args, "all", False) or getattr(args, "check_access", False):
        return False
    started = time.monotonic()
    found = is_v2_endpoint(args, names[0])
    if not found and getattr(args, "timeout", None):
        args.timeout = max(1.0, args.timeout - (time.monotonic() - started))  # the v1 run gets what is left
    return found


# ----------------------------------------------------------------------------- collection
def collect(args, progress):
    """Run the v2 collectors; return (service, namespace, workspace, Part, manifest extras)."""
    from aml_doctor.collect.part import DeploymentRecord, EndpointRecord, Gap, Part
    from aml_doctor.cli.live import cut_credential_chain

    deadline = time.monotonic() + args.timeout
    endpoint = endpoint_of(args)
    part = Part()
    deployment, platform = _collect_workspace(args, endpoint, part, deadline, progress)
    if platform == "managed_online_v2":
        progress(f"found managed online endpoint {endpoint}: there is no cluster to read")
        for what in CLUSTER_SOURCES + ("storage_index",):
            part.gaps.append(Gap(what, "a managed online endpoint has no cluster to read"))
    else:
        _collect_cluster(args, endpoint, deployment, part, deadline, progress)
        platform = platform or "k8s_online_v2"
    _collect_storage(args, part, platform, deadline, progress)
    part.gaps = [Gap(g.what, cut_credential_chain(g.error)) for g in part.gaps]
    found = part.deployment or DeploymentRecord()
    learnt = part.endpoint or EndpointRecord()
    extras = {"platform": platform, "endpoint": endpoint,
              "deployment": found.deployment or deployment or learnt.deployment, "compute": learnt.compute}
    service = found.service or extras["deployment"] or endpoint
    return service, _namespace(part) or args.namespace or "", args.workspace_name or learnt.workspace, part, extras


def _collect_workspace(args, endpoint: str, part, deadline: float, progress) -> tuple[str | None, str]:
    """azure-ai-ml: state, logs, traffic, the compute's namespace (when a workspace is given).
    Returns the deployment (given, or the one taking traffic) and the platform ("" if unknown)."""
    from aml_doctor.collect.part import EndpointRecord, Gap
    from aml_doctor.cli.live import merge_part, with_deadline

    deployment = args.deployment
    if not (args.workspace_name or args.workspace_config or os.path.exists("config.json")):
        for what in AZUREML_SOURCES:
            part.gaps.append(Gap(what, "no workspace given (-w/--workspace-name, or a config.json here / --workspace-config)"))
        return deployment, ""
    progress(f"azure-ai-ml: reading online endpoint {endpoint}")
    from aml_doctor.collect.v2azureml import collect_v2_azureml

    got, err = with_deadline("azure-ai-ml", lambda: collect_v2_azureml(
        endpoint, deployment, config_path=args.workspace_config, subscription_id=args.subscription,
        resource_group=args.resource_group, workspace_name=args.workspace_name, log_lines=args.log_lines,
        request_timeout=args.request_timeout, progress=progress), deadline, progress)
    merge_part(part, got, err, AZUREML_SOURCES)
    learnt = part.endpoint or EndpointRecord()
    return deployment or learnt.deployment or None, learnt.platform


def _collect_cluster(args, endpoint: str, deployment: str | None, part, deadline: float, progress) -> None:
    """The cluster: the OnlineDeployment, its Deployment, pods, events and logs."""
    from aml_doctor.collect.part import EndpointRecord
    from aml_doctor.collect.v2kubernetes import EndpointNotFound, ExtensionMissing, collect_v2_kubernetes
    from aml_doctor.cli.live import merge_part, with_deadline

    namespace = args.namespace or (part.endpoint or EndpointRecord()).namespace or None
    progress(f"kubernetes: collecting online endpoint {endpoint}" + (f" deployment {deployment}" if deployment else "")
             + f" in {namespace or 'the namespace that holds it'}")
    got, err = with_deadline("kubernetes", lambda: collect_v2_kubernetes(
        endpoint, deployment, namespace=namespace, kubeconfig=args.kubeconfig, context=args.context,
        log_lines=args.log_lines, request_timeout=args.request_timeout, progress=progress), deadline, progress)
    if isinstance(err, (EndpointNotFound, ExtensionMissing)) and "azureml_service" not in part.collected:
        raise err
    if isinstance(err, (EndpointNotFound, ExtensionMissing)):
        err = f"{err} (AzureML knows the deployment: it may never have reached the cluster)"
    merge_part(part, got, err, CLUSTER_SOURCES)
    progress(f"found Kubernetes online endpoint {endpoint} in namespace {_namespace(part) or '?'}")


def _collect_storage(args, part, platform: str, deadline: float, progress) -> None:
    """Storage: the manifest blob, the files it lists, the build log an ImageBuildFailure names."""
    from aml_doctor.collect.part import DeploymentRecord, Gap
    from aml_doctor.collect.v2storage import build_log_path, collect_v2_storage
    from aml_doctor.cli.live import merge_part, storage_credentials, with_deadline

    texts = [str(v) for k, v in part.files.items() if k.startswith("azureml/") and isinstance(v, (str, bytes))]
    build_log = build_log_path([t if isinstance(t, str) else t.decode("utf-8", "replace") for t in texts])
    manifests = list((part.deployment or DeploymentRecord()).storage_manifests)
    if manifests or build_log:
        credentials = storage_credentials(args, None) or {}
        got, err = with_deadline("storage", lambda: collect_v2_storage(
            manifest_urls=manifests, build_log=build_log, request_timeout=args.request_timeout, progress=progress,
            **credentials), deadline, progress)
        merge_part(part, got, err, ("storage_index", "build_log"))
    elif platform != "managed_online_v2":
        part.gaps.append(Gap("storage_index", "no storage initializer with a STORAGE_MANIFEST_URL was found"))


def _namespace(part) -> str:
    """The namespace the cluster collector found the deployment in, else the compute's."""
    return (part.deployment.namespace if part.deployment else "") or (part.endpoint.namespace if part.endpoint else "")


# ----------------------------------------------------------------------------- the command
def main(args, collect_only: bool = False) -> int:
    """``aml-doctor ENDPOINT -d DEPLOYMENT [...]`` and ``aml-doctor collect ENDPOINT -d DEPLOYMENT -o B``."""
    from aml_doctor.cli.liverun import close_kube_client

    try:
        return _main(args, collect_only)
    finally:
        close_kube_client(args)  # the one the v2 check may have opened


def _main(args, collect_only: bool) -> int:
    from aml_doctor.cli.errors import UsageError
    from aml_doctor.cli.live import Progress, captured_sdk_output

    if getattr(args, "watch", False) or getattr(args, "until_healthy", False):
        from aml_doctor.cli.v2watch import run as run_watch

        return run_watch(args)
    if getattr(args, "check_access", False):
        raise UsageError("--check-access reads a v1 service's access; for a v2 deployment, docs/v2.md lists the Role it needs")
    if not collect_only and getattr(args, "all", False):
        raise UsageError("--all with -d/-e: name one endpoint, or use --all without -d/-e to list v1 services and v2 deployments")
    if args.timeout is None:
        args.timeout = 120.0
    if isinstance(args.service, list) and len(args.service) > 1:
        raise UsageError("one online endpoint at a time: aml-doctor ENDPOINT -d DEPLOYMENT")
    if not endpoint_of(args):
        raise UsageError("name the online endpoint: aml-doctor ENDPOINT -d DEPLOYMENT (or -e ENDPOINT)")
    progress = Progress(args.quiet)
    try:
        try:
            with captured_sdk_output(args.quiet):
                service, namespace, workspace, part, extras = collect(args, progress)
        except Exception as exc:  # noqa: BLE001 - the two "nothing here" cases are the user's input
            from aml_doctor.collect.v2kubernetes import EndpointNotFound, ExtensionMissing

            if isinstance(exc, (EndpointNotFound, ExtensionMissing)):
                raise UsageError(str(exc)) from None
            raise
        return finish(args, progress, service, namespace, workspace, part, extras, collect_only)
    finally:
        progress.close()


def render(service: str, namespace: str, workspace: str, part, extras: dict, redact_secrets: bool = True) -> dict[str, bytes]:
    from aml_doctor.collect.part import bundle_files

    return bundle_files(service, namespace, workspace, part, extras, redact_secrets=redact_secrets)


def finish(args, progress, service, namespace, workspace, part, extras, collect_only: bool) -> int:
    from aml_doctor.cli.output import emit
    from aml_doctor.cli.pipeline import load_rules
    from aml_doctor.cli.live import analyzer, nothing_collected, save_collected

    if not part.collected:
        return nothing_collected(part, args, ("pods", "onlineendpoints"))
    files = render(service, namespace, workspace, part, extras, redact_secrets=not getattr(args, "no_redact", False))
    save_collected(files, part, args, collect_only, progress)
    if collect_only:
        return ExitCode.OK
    loaded, rules, config = load_rules(args)
    progress.close()
    label = f"live: {extras.get('endpoint')}/{extras.get('deployment')}"
    return emit(analyzer(rules, config, loaded)(files, label), args, config)
