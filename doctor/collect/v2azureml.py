"""What azure-ai-ml (SDK v2) says about one online deployment: its state, both log containers, the
endpoint's traffic and auth mode, the compute's namespace, and the first operation's error.

azure-ai-ml is the optional ``[v2]`` extra, imported only here and only when a workspace is given,
as azureml-core is for v1. Every call is a read: ``online_endpoints.get``, ``online_deployments.get``
and ``.list``, ``compute.get``, and ``online_deployments.get_logs`` (ARM's ``getLogs`` action, a POST
that changes nothing) for ``inference-server`` and ``storage-initializer``. azure-ai-ml maps a
deployment's ``provisioning_state`` but no error, so the error comes from the operation behind the
deployment's ``properties.AzureAsyncOperationUri`` (an ``mfeOperationsStatus`` URL), re-read with
one GET while ARM still keeps it. That error is the first failure; "failed during initial
provisioning and is in an unrecoverable state", which every later update answers, never is.

What this writes, in the v1 paths so that the rules read both platforms alike:
``azureml/service.json`` (the deployment, fields named below), ``azureml/logs.txt`` (the inference
server), ``azureml/init-logs.txt`` (the storage initializer) and ``azureml/operation.txt`` (the
operation's error, the JSON ARM returns).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aml_doctor.collect.part import Gap, Part
from aml_doctor.common.text import error_line

SOURCES = ("azureml_service", "azureml_logs", "azureml_init_logs")
NO_SDK = "azure-ai-ml is not installed: pip install 'aml-doctor[v2]'"
ARM_SCOPE = "https://management.azure.com/.default"


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def make_credential():
    """DefaultAzureCredential, as az ml and azure-ai-ml's own samples use (tests replace this: AAD cannot run here)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def collect_v2_azureml(
    endpoint: str,
    deployment: str | None = None,
    *,
    config_path: str | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    workspace_name: str | None = None,
    log_lines: int = 2000,
    request_timeout: float = 20.0,
    progress: Callable[[str], None] | None = None,
    credential: Any = None,
) -> Part:
    part = Part()
    say = progress or (lambda message: None)
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        part.gaps.extend(Gap(what, NO_SDK) for what in SOURCES)
        return part
    credential = credential or make_credential()
    options = {"retry_total": 0, "connection_timeout": request_timeout, "read_timeout": request_timeout}
    try:
        if workspace_name and subscription_id and resource_group:
            ml = MLClient(credential, subscription_id, resource_group, workspace_name, **options)
        else:
            ml = MLClient.from_config(credential, path=config_path, **options)
    except Exception as exc:  # noqa: BLE001 - a missing config.json, a bad id: one line
        part.gaps.extend(Gap(what, f"cannot open the workspace: {error_line(exc, 'no detail')}") for what in SOURCES)
        return part
    return _collect_endpoint(ml, credential, endpoint, deployment, part, say, log_lines, request_timeout, workspace_name)


def _collect_endpoint(ml, credential, endpoint: str, deployment: str | None, part: Part, say, log_lines: int,
                      request_timeout: float, workspace_name: str | None) -> Part:
    """The endpoint, the deployment that takes its traffic, and the compute's namespace."""
    part.learn("endpoint", workspace=getattr(ml, "workspace_name", workspace_name) or "")
    try:
        ep = ml.online_endpoints.get(endpoint)
    except Exception as exc:  # noqa: BLE001
        part.gaps.extend(Gap(what, f"online endpoint {endpoint}: {error_line(exc, 'no detail')}") for what in SOURCES)
        return part
    compute_id = getattr(ep, "compute", None) or ""
    kubernetes = bool(compute_id)
    part.learn("endpoint", platform="k8s_online_v2" if kubernetes else "managed_online_v2")
    traffic = dict(getattr(ep, "traffic", None) or {})
    if not deployment:
        deployment = _default_deployment(ml, endpoint, traffic)
        if not deployment:
            part.gaps.extend(Gap(what, f"online endpoint {endpoint} has several deployments and none takes traffic: pass -d DEPLOYMENT")
                             for what in SOURCES)
            return part
    part.learn("endpoint", deployment=deployment)
    say(f"azure-ai-ml: {'Kubernetes' if kubernetes else 'managed'} online endpoint {endpoint}, deployment {deployment}")
    if kubernetes:
        _learn_compute(ml, compute_id.rstrip("/").rsplit("/", 1)[-1], part, say)
    return _collect_deployment(ml, credential, ep, endpoint, deployment, kubernetes, traffic, part, say, log_lines, request_timeout)


def _learn_compute(ml, compute: str, part: Part, say) -> None:
    part.learn("endpoint", compute=compute)
    try:
        namespace = getattr(ml.compute.get(compute), "namespace", None)
        if namespace:
            part.learn("endpoint", namespace=namespace)
    except Exception as exc:  # noqa: BLE001 - the namespace is then searched for in the cluster
        say(f"azure-ai-ml: compute {compute}: {error_line(exc, 'no detail')}; searching the cluster instead")


def _collect_deployment(ml, credential, ep, endpoint: str, deployment: str, kubernetes: bool, traffic: dict, part: Part,
                        say, log_lines: int, request_timeout: float) -> Part:
    """The deployment's state, its operation's error, and its two containers' logs."""
    try:
        d = ml.online_deployments.get(deployment, endpoint)
    except Exception as exc:  # noqa: BLE001
        part.gaps.extend(Gap(what, f"deployment {deployment} of {endpoint}: {error_line(exc, 'no detail')}") for what in SOURCES)
        return part
    service = _service_json(ep, d, endpoint, deployment, kubernetes, traffic, (part.endpoint.compute if part.endpoint else ""))
    operation = _operation_error(ml, credential, d, request_timeout, say)
    if operation is not None:
        error, text = operation
        service.setdefault("error", error)
        part.files["azureml/operation.txt"] = text
    part.files["azureml/service.json"] = service
    part.collected.append("azureml_service")
    if service.get("instanceType"):
        part.learn("endpoint", instance_type=service["instanceType"])
    for container, path, what in (("inference-server", "azureml/logs.txt", "azureml_logs"),
                                  ("storage-initializer", "azureml/init-logs.txt", "azureml_init_logs")):
        say(f"azure-ai-ml: get_logs --container {container}")
        try:
            part.files[path] = ml.online_deployments.get_logs(deployment, endpoint, log_lines, container_type=container) or ""
            part.collected.append(what)
        except Exception as exc:  # noqa: BLE001
            part.gaps.append(Gap(what, f"get_logs {container}: {error_line(exc, 'no detail')}"))
    return part


def _default_deployment(ml, endpoint: str, traffic: dict) -> str:
    """The deployment with the most traffic; else the only one (``az ml``'s own choice for invoke)."""
    taking = sorted(((p, n) for n, p in traffic.items() if p), reverse=True)
    if taking:
        return taking[0][1]
    try:
        names = [d.name for d in ml.online_deployments.list(endpoint)]
    except Exception:  # noqa: BLE001
        return ""
    return names[0] if len(names) == 1 else ""


def _service_json(ep, d, endpoint: str, deployment: str, kubernetes: bool, traffic: dict, compute: str) -> dict:
    settings = getattr(d, "request_settings", None)
    scale = getattr(d, "scale_settings", None)
    data: dict[str, Any] = {
        "name": deployment, "endpoint": endpoint, "computeType": "Kubernetes" if kubernetes else "Managed",
        "state": str(_value(getattr(d, "provisioning_state", "")) or ""),
        "scoringUri": getattr(ep, "scoring_uri", "") or "",
        "model": str(getattr(d, "model", "") or ""), "environment": str(getattr(d, "environment", "") or ""),
        "instanceType": getattr(d, "instance_type", "") or "",
        "trafficPercent": traffic.get(deployment, 0), "authMode": str(_value(getattr(ep, "auth_mode", "")) or ""),
        "compute": compute,
        "endpointState": str(_value(getattr(ep, "provisioning_state", "")) or ""),
        "properties": dict(getattr(d, "properties", None) or {}),
    }
    if settings is not None:
        data["requestSettings"] = {k: getattr(settings, k, None) for k in
                                   ("request_timeout_ms", "max_concurrent_requests_per_instance", "max_queue_wait_ms")}
    if scale is not None:
        data["scaleSettings"] = {"type": str(_value(getattr(scale, "type", "")) or "")}
    return {k: v for k, v in data.items() if v not in (None, "")}


def _operation_error(ml, credential, d, request_timeout: float, say) -> tuple[dict, str] | None:
    """The first operation's error, from ``properties.AzureAsyncOperationUri``; None when it succeeded,
    is gone, or cannot be read (how long ARM keeps it is not documented)."""
    uri = (getattr(d, "properties", None) or {}).get("AzureAsyncOperationUri")
    if not uri or "mfeOperationsStatus" not in uri:
        return None
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    say("azure-ai-ml: reading the deployment's operation (AzureAsyncOperationUri)")
    pipeline = Pipeline(transport=RequestsTransport(connection_timeout=request_timeout, read_timeout=request_timeout),
                        policies=[HeadersPolicy({"Accept": "application/json"}), RetryPolicy(retry_total=0),
                                  BearerTokenCredentialPolicy(credential, ARM_SCOPE)])
    try:
        with pipeline:
            response = pipeline.run(HttpRequest("GET", uri)).http_response
            if response.status_code != 200:
                return None
            body = response.json()
    except Exception as exc:  # noqa: BLE001 - an expired operation or a lost network: the state alone then
        say(f"azure-ai-ml: the operation could not be read: {error_line(exc, 'no detail')}")
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or str(body.get("status", "")).lower() != "failed":
        return None
    return _shape(error), _as_text(error)


def _shape(error: dict) -> dict:
    out = {"code": str(error.get("code") or ""), "message": str(error.get("message") or "")}
    details = [{"code": str(x.get("code") or ""), "message": str(x.get("message") or "")} for x in error.get("details") or [] if isinstance(x, dict)]
    if details:
        out["details"] = details
    return out


def _as_text(error: dict) -> str:
    """The operation's error as ARM returned it (JSON), which the error-JSON reader takes whole:
    code, message and details stay together, as in service.json."""
    return json.dumps({"error": error}, indent=2) + "\n"
