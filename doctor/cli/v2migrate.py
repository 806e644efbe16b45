"""``aml-doctor migrate-check``: what a cluster that runs v1 web services would hit on the way to v2.

Read-only, like everything else: from the cluster, the API groups (is the extension there?), every
Deployment labelled ``azuremlappname`` across namespaces (v1 services and a v1 azureml-fe), the
azureml-fe pods, and the v2 online endpoints if the extension is installed; from the workspace (with
``-w``, and the ``[v2]`` extra), its ARM properties ``v1LegacyMode``, ``publicNetworkAccess`` and its
private endpoint connections. ``-n`` names the namespace the v2 compute is to use.

The findings are those of the migration rules (AML034 v1-frontend-blocks-extension, AML035
v1-namespace-reused, AML036 shared-scoring-urls, AML037 legacy-mode-blocks-v2), which read only
evidence this command collected. A cluster without any conflict gets "no migration conflict
found" and exit 0.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import TYPE_CHECKING

from aml_doctor.common.exitcodes import ExitCode

if TYPE_CHECKING:
    from aml_doctor.collect.part import Part

RULES = ("AML034", "AML035", "AML036", "AML037")
WORKSPACE_API_VERSION = "2024-04-01"


def add_arguments(p) -> None:
    k8s = p.add_argument_group("Kubernetes (kubectl's flags)")
    k8s.add_argument("-n", "--namespace", default="", help="the namespace the v2 Kubernetes compute is to use (checked against the v1 ones)")
    k8s.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    k8s.add_argument("--context", help="kubeconfig context (default: the current context)")
    aml = p.add_argument_group("Azure ML workspace (az ml's flags)")
    aml.add_argument("-w", "--workspace-name", help="workspace name (its v1_legacy_mode is checked; needs the [v2] extra)")
    aml.add_argument("-g", "--resource-group", help="resource group")
    aml.add_argument("--subscription", help="subscription id")
    aml.add_argument("--workspace-config", metavar="CONFIG_JSON", help="the workspace's config.json")
    run = p.add_argument_group("Run")
    run.add_argument("--timeout", type=float, default=120.0, help="deadline for the whole run, seconds (default: 120)")
    run.add_argument("--request-timeout", type=float, default=20.0, help="timeout of each request, seconds (default: 20)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    run.add_argument("--save-bundle", metavar="BUNDLE", help="also write the collected evidence as a bundle")


def collect_cluster(api_client, request_timeout: float, say) -> Part:
    from aml_doctor.collect.kubernetes import CallFailed, kubectl_list
    from aml_doctor.collect.part import Gap, Part
    from aml_doctor.collect.v2kubernetes import ExtensionMissing, V2Reader
    from aml_doctor.collect.v2kubernetes import kubectl_list as v2_list

    part = Part()
    v = V2Reader(api_client, request_timeout, part)
    r = v.r
    installed = True
    try:
        v.group_version()
    except ExtensionMissing as exc:
        installed = False
        part.gaps.append(Gap("onlineendpoints", str(exc)))
    except CallFailed as failed:
        installed = False
        part.gaps.append(Gap("onlineendpoints", failed.line))
    say("kubernetes: listing the AzureML Deployments of every namespace")
    data = r.try_json("deployments", r.apps.list_deployment_for_all_namespaces, label_selector="azuremlappname")
    if data is not None:
        part.files["kubernetes/deployments.json"] = kubectl_list("deployments", data.get("items", []))
        part.collected.append("deployments")
    data = r.try_json("frontend-pods", r.core.list_pod_for_all_namespaces, label_selector="azuremlappname=azureml-fe")
    if data is not None:
        part.files["kubernetes/frontend-pods.json"] = kubectl_list("frontend-pods", data.get("items", []))
        part.collected.append("frontend-pods")
    if installed:
        try:
            items = v.custom_list("onlineendpoints", None).get("items", [])
            part.files["kubernetes/onlineendpoints.json"] = v2_list("onlineendpoints", items, v.version)
            part.collected.append("onlineendpoints")
        except CallFailed as failed:
            part.gaps.append(Gap("onlineendpoints", failed.line))
    return part


def workspace_info(args, say) -> tuple[dict, str]:
    """({name, v1_legacy_mode, public_network_access, private_endpoints}, "") or ({}, why not)."""
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        return {}, "azure-ai-ml is not installed: pip install 'aml-doctor[v2]'"
    from aml_doctor.collect import v2azureml
    from aml_doctor.common.text import error_line

    credential = v2azureml.make_credential()
    try:
        if args.workspace_name and args.subscription and args.resource_group:
            ml = MLClient(credential, args.subscription, args.resource_group, args.workspace_name, retry_total=0)
        else:
            ml = MLClient.from_config(credential, path=args.workspace_config, retry_total=0)
    except Exception as exc:  # noqa: BLE001
        return {}, f"cannot open the workspace: {error_line(exc, 'no detail')}"
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    base = str(getattr(ml, "_base_url", "") or "https://management.azure.com").rstrip("/")
    url = (f"{base}/subscriptions/{ml.subscription_id}/resourceGroups/{ml.resource_group_name}/providers/"
           f"Microsoft.MachineLearningServices/workspaces/{ml.workspace_name}?api-version={WORKSPACE_API_VERSION}")
    say(f"workspace: reading {ml.workspace_name}'s network settings")
    pipeline = Pipeline(transport=RequestsTransport(connection_timeout=args.request_timeout, read_timeout=args.request_timeout),
                        policies=[RetryPolicy(retry_total=0), BearerTokenCredentialPolicy(credential, v2azureml.ARM_SCOPE)])
    try:
        with pipeline:
            response = pipeline.run(HttpRequest("GET", url)).http_response
            if response.status_code != 200:
                return {}, f"GET the workspace: {response.status_code} {response.text()[:200]}"
            props = (response.json() or {}).get("properties") or {}
    except Exception as exc:  # noqa: BLE001
        return {}, f"GET the workspace: {error_line(exc, 'no detail')}"
    return {"name": ml.workspace_name, "v1_legacy_mode": bool(props.get("v1LegacyMode")),
            "public_network_access": props.get("publicNetworkAccess") or "",
            "private_endpoints": len(props.get("privateEndpointConnections") or [])}, ""


def main(args, prog: str = "aml-doctor") -> int:
    from aml_doctor.cli.output import emit
    from aml_doctor.cli.pipeline import load_rules
    from aml_doctor.collect.kubernetes import api_client_for
    from aml_doctor.collect.part import Gap, Part, manifest, render_files, write_bundle
    from aml_doctor.cli.live import Progress, check_target, analyzer, captured_sdk_output, kube_setup
    from aml_doctor.findings import Verdict

    args.select, args.ignore = ",".join(RULES), getattr(args, "ignore", "")
    args.context_namespace = kube_setup(args)
    progress = Progress(args.quiet)
    started = time.monotonic()
    try:
        with captured_sdk_output(args.quiet):
            try:
                api_client = api_client_for(args.kubeconfig, args.context)
            except Exception as exc:  # noqa: BLE001 - checked by kube_setup; a late failure is one line too
                from aml_doctor.cli.errors import UsageError

                raise UsageError(f"cannot use the kubeconfig: {exc}") from None
            try:
                part = collect_cluster(api_client, args.request_timeout, progress)
            finally:
                api_client.close()
            info, why = ({}, "no workspace given (-w/--workspace-name, or a config.json here / --workspace-config)")
            if args.workspace_name or args.workspace_config or os.path.exists("config.json"):
                info, why = workspace_info(args, progress)
        if not part.collected:
            line = next((g.error for g in part.gaps), "nothing could be read")
            print(f"aml-doctor: error: nothing could be collected: {line}", file=sys.stderr)
            return ExitCode.COLLECTION_ERROR
        if why:
            part.gaps.append(Gap("workspace", why))
        data = manifest("", args.namespace or "", args.workspace_name or info.get("name", ""), part)
        data.update({"mode": "migrate-check", "platform": "aks_v1", "compute_namespace": args.namespace or "", "workspace_info": info})
        files = render_files(data, part)
        if args.save_bundle:
            check_target(args.save_bundle)
            write_bundle(args.save_bundle, files)
        loaded, rules, config = load_rules(args)
        progress(f"migrate-check: read in {time.monotonic() - started:.1f} s; running {', '.join(r.id for r in rules)}")
        progress.close()
        report = analyzer(rules, config, loaded)(files, "migrate-check")
        if not report.findings:
            report = dataclasses.replace(report, verdict=Verdict.NO_PROBLEM_FOUND)
            if not args.quiet:
                print("aml-doctor: no migration conflict found", file=sys.stderr)
        return emit(report, args, config)
    finally:
        progress.close()
