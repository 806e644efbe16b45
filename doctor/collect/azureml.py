"""AzureML's view of a v1 web service, read through azureml-core (the ``aml-doctor[azureml]`` extra).

It opens the workspace (``config.json`` or subscription/resource group/name), reads the service
(state, error JSON, compute, scoring URI, image and environment), ``get_logs()`` and
``get_logs(init=True)``, and learns facts the other collectors need (namespace, storage account,
image location, compute target).

Read-only: it reads through ``Workspace.get``, ``Webservice(...)``, ``Webservice.list``,
``Workspace.get_details`` and ``get_logs``, all of them GET requests; it never asks for the
service keys or the default datastore (whose answer carries the storage credentials).
Every failure becomes a one-line, redacted :class:`Gap`, never a traceback.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aml_doctor.common.threads import call_before
from aml_doctor.evidence import redact
from aml_doctor.common.termsafe import safe_progress
from aml_doctor.collect.core import workspace_namespace
from aml_doctor.collect.part import Gap, Part

NOT_INSTALLED = "azureml-core is not installed: pip install 'aml-doctor[azureml]'"
SOURCES = ("azureml_service", "azureml_logs", "azureml_init_logs")
LOG_LINES = 5000

Progress = Callable[[str], None]

# "2. You can also try to run image <acr>/azureml/azureml_<id> locally." in a CrashLoopBackOff detail.
_IMAGE_IN_ERROR = re.compile(r"run image (\S+) locally")
_STATUS_IN_TEXT = re.compile(r"(?:Response Code|status code)\W+(\d{3})", re.IGNORECASE)


class _Failed(Exception):
    """One SDK call failed; ``line`` is the one-line, redacted reason."""

    def __init__(self, line: str):
        super().__init__(line)
        self.line = line


def collect_azureml(
    service: str,
    *,
    config_path: str | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    workspace_name: str | None = None,
    auth: Any = None,
    request_timeout: float = 30,
    progress: Progress | None = None,
) -> Part:
    """Collect ``azureml/service.json``, ``azureml/logs.txt`` and ``azureml/init-logs.txt``.

    ``auth`` is any ``azureml.core.authentication`` object; None lets azureml-core choose (the
    Azure CLI login, else an interactive login). ``request_timeout`` bounds each SDK call, its
    retries included. Facts: ``workspace``, ``namespace``, ``storage_account``,
    ``storage_account_id``, ``image_location``, ``compute_target``, ``scoring_uri``, and
    ``available_services`` when the service does not exist.
    """
    say = progress or (lambda message: None)
    try:
        from azureml.core import Webservice, Workspace
    except ImportError:
        return _nothing_collected(Part(), NOT_INSTALLED)

    def open_workspace():
        workspace = _open_workspace(Workspace, config_path, subscription_id, resource_group, workspace_name, auth)
        # azureml-core answers an unreachable ARM with a workspace object that has no details
        # (it swallows the connection error); reading the details makes that failure visible.
        return workspace, workspace.get_details()

    with _sdk_logging_silenced():
        # Service names and states come from the workspace: escaped before they reach a terminal.
        return _collect(service, open_workspace, Webservice, request_timeout, safe_progress(say) or say)


def _collect(service: str, open_workspace: Callable, Webservice, request_timeout: float, say: Progress) -> Part:
    part = Part()

    def call(what: str, fn: Callable[[], Any]) -> Any:
        return _call_with_deadline(fn, request_timeout, what)

    try:
        say("azureml: opening the workspace")
        workspace, details = call("opening the workspace", open_workspace)
    except _Failed as failed:
        return _nothing_collected(part, f"cannot open the workspace: {failed.line}")

    part.learn("workspace", workspace=workspace.name, namespace=workspace_namespace(workspace.name))
    _storage_facts(details, part)

    try:
        say(f"azureml: reading web service '{service}' in workspace '{workspace.name}'")
        webservice = call(f"reading web service '{service}'", lambda: Webservice(workspace, service))
    except _Failed as failed:
        if failed.line.startswith("WebserviceNotFound"):
            return _not_found(part, service, workspace, Webservice, call)
        return _nothing_collected(part, f"cannot read web service '{service}': {failed.line}")

    try:
        service_json = service_document(webservice)
    except Exception as exc:  # a payload this SDK version cannot serialize
        return _nothing_collected(part, f"cannot read web service '{service}': {describe_azureml_error(exc)}")
    part.files["azureml/service.json"] = service_json
    part.collected.append("azureml_service")
    _service_facts(service_json, part)
    say(f"azureml: {service} is {service_json.get('state')}")

    _collect_logs(webservice, call, part, say)
    return part


def service_document(webservice: Any) -> dict:
    """``Webservice.serialize()`` (the MMS fields as the SDK knows them: state, error,
    computeType, computeName, scoringUri, imageDetails, environmentDetails,
    containerResourceRequirements, deploymentStatus...) plus the AKS fields it leaves out."""
    document = webservice.serialize()
    for key, attribute in (("namespace", "namespace"), ("swaggerUri", "swagger_uri")):
        value = getattr(webservice, attribute, None)
        if value is not None and document.get(key) is None:
            document[key] = value
    # Through JSON and back: datetimes and SDK objects become plain values a bundle can hold.
    return json.loads(json.dumps(document, default=str))


@contextmanager
def _sdk_logging_silenced() -> Iterator[None]:
    """azureml-core logs every error it raises (with response headers) at ERROR level; with no
    handler configured Python prints those to stderr. The collector reports each failure as a
    Gap instead, so the SDK's records stop at a null handler while it runs."""
    loggers = [logging.getLogger(name) for name in ("azureml", "msrest", "msrestazure")]
    saved = [(lg, lg.propagate) for lg in loggers]
    null = logging.NullHandler()
    for lg in loggers:
        lg.addHandler(null)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, propagate in saved:
            lg.removeHandler(null)
            lg.propagate = propagate


def _open_workspace(Workspace, config_path, subscription_id, resource_group, workspace_name, auth):
    if subscription_id and resource_group and workspace_name:
        return Workspace.get(workspace_name, auth=auth, subscription_id=subscription_id, resource_group=resource_group)
    if workspace_name or subscription_id or resource_group:
        missing = [flag for flag, value in (("subscription id", subscription_id), ("resource group", resource_group),
                                            ("workspace name", workspace_name)) if not value]
        raise ValueError(f"missing {' and '.join(missing)}: give all three, or a config.json")
    return Workspace.from_config(path=config_path, auth=auth)


def _storage_facts(details: dict, part: Part) -> None:
    # The workspace's own storage account holds the "azureml" container (model and code blobs,
    # ImageLogs). Its ARM id is in the workspace resource; no datastore call, no credential.
    storage_id = details.get("storageAccount")
    if storage_id:
        part.learn("workspace", storage_account_id=storage_id, storage_account=storage_id.rstrip("/").rsplit("/", 1)[-1])


def _service_facts(service_json: dict, part: Part) -> None:
    if service_json.get("namespace"):
        part.learn("workspace", namespace=service_json["namespace"])  # what MMS says beats the convention
    if service_json.get("computeName"):
        part.learn("workspace", compute_target=service_json["computeName"])
    if service_json.get("scoringUri"):
        part.learn("workspace", scoring_uri=service_json["scoringUri"])
    image = image_location(service_json)
    if image:
        part.learn("workspace", image_location=image)


def image_location(service_json: dict) -> str | None:
    """The service's image: ``imageDetails.imageLocation``, else the one a CrashLoopBackOff
    error names ("You can also try to run image <image> locally")."""
    details = service_json.get("imageDetails") or {}
    if details.get("imageLocation"):
        return details["imageLocation"]
    found = _IMAGE_IN_ERROR.search(json.dumps(service_json.get("error") or {}))
    return found.group(1).rstrip(".") if found else None


def _collect_logs(webservice, call, part: Part, say: Progress) -> None:
    name = webservice.name
    try:
        say(f"azureml: reading the logs of {name}")
        logs = call("reading the service logs", lambda: webservice.get_logs(num_lines=LOG_LINES))
        part.files["azureml/logs.txt"] = _capped(logs or "", "azureml_logs", "get_logs()", part)
        part.collected.append("azureml_logs")
    except _Failed as failed:
        part.gaps.append(Gap("azureml_logs", f"get_logs() failed: {failed.line}"))

    if "init" not in inspect.signature(webservice.get_logs).parameters:
        import azureml.core

        part.gaps.append(Gap("azureml_init_logs", f"azureml-core {azureml.core.VERSION} has no get_logs(init=True)"))
        return
    try:
        say(f"azureml: reading the init container logs of {name}")
        init_logs = call("reading the init logs", lambda: webservice.get_logs(num_lines=LOG_LINES, init=True))
        part.files["azureml/init-logs.txt"] = _capped(init_logs or "", "azureml_init_logs", "get_logs(init=True)", part)
        part.collected.append("azureml_init_logs")
    except _Failed as failed:
        part.gaps.append(Gap("azureml_init_logs", f"get_logs(init=True) failed: {failed.line}"))


def _not_found(part: Part, service: str, workspace, Webservice, call) -> Part:
    try:
        names = sorted(s.name for s in call("listing the web services", lambda: Webservice.list(workspace)))
    except _Failed as failed:
        return _nothing_collected(
            part, f"web service '{service}' not found in workspace '{workspace.name}' (listing the others failed: {failed.line})")
    part.learn("workspace", available_services=tuple(names))
    existing = ", ".join(names) if names else "none"
    return _nothing_collected(
        part, f"web service '{service}' not found in workspace '{workspace.name}'; the services there: {existing}")


def _nothing_collected(part: Part, line: str) -> Part:
    part.gaps.extend(Gap(what, line) for what in SOURCES)
    return part


# The most of one get_logs() answer kept: its last MAX_LOG_CHARS, where the failure is.
MAX_LOG_CHARS = 8 * 1024 * 1024


def _capped(text: str, what: str, call: str, part: Part) -> str:
    """``text`` cut to its last MAX_LOG_CHARS, from a whole line, with the cut recorded as a gap."""
    if not isinstance(text, str) or len(text) <= MAX_LOG_CHARS:
        return text if isinstance(text, str) else str(text)
    tail = text[-MAX_LOG_CHARS:]
    newline = tail.find("\n")
    tail = tail[newline + 1:] if 0 <= newline < len(tail) - 1 else tail
    part.gaps.append(Gap(what, f"{call} answered {len(text) // 2**20} MiB; only its last {MAX_LOG_CHARS // 2**20} MiB were kept"))
    return tail


def _call_with_deadline(fn: Callable[[], Any], timeout: float, what: str) -> Any:
    """``fn()`` in a daemon thread, given up after ``timeout`` seconds.

    azureml-core sends most of its requests without a timeout and retries them, so a hung
    endpoint would hang the diagnosis; a thread left waiting is abandoned (daemon) instead.
    """
    outcome = call_before(fn, time.monotonic() + timeout, f"azureml: {what}")
    if not outcome.started or outcome.timed_out:
        raise _Failed(f"no answer within {timeout:g} s (the request timeout)")
    if outcome.error is not None:
        raise _Failed(describe_azureml_error(outcome.error))
    return outcome.value


def describe_azureml_error(exc: BaseException) -> str:
    """One redacted line for an azureml-core, msrest or requests error."""
    try:
        line = _one_line(exc)
    except Exception:  # an error object too odd to read still gets a line
        line = type(exc).__name__
    line = redact.redact_text(re.sub(r"\s+", " ", line))
    return line if len(line) <= 500 else line[:499] + "…"


def _one_line(exc: BaseException) -> str:
    text = _message(exc)
    status = _STATUS_IN_TEXT.search(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    if "Received bad response from Model Management Service" in line and status:
        line = f"Model Management Service answered {status.group(1)}: {_mms_error_message(text) or 'no message'}"
    elif len(lines) > 1 and line.endswith(":"):
        line = f"{line} {lines[1]}"
    return _connection_problem(exc) or line


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    if not (isinstance(message, str) and message.strip()):
        message = str(exc) or type(exc).__name__
    return _arm_error_line(message) or message


def _arm_error_line(message: str) -> str | None:
    """azureml-core wraps an ARM error as JSON text: ``{"error_details": {"error": {"code",
    "message"}}, "status_code": 403, "url": ...}``; "403 AuthorizationFailed: <message>"."""
    try:
        document = json.loads(message)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    details = document.get("error_details") or {}
    error = details.get("error") if isinstance(details, dict) else None
    if not isinstance(error, dict):
        return None
    status = document.get("status_code")
    head = " ".join(str(part) for part in (status, error.get("code")) if part)
    return f"{head}: {error.get('message') or 'no message'}"


def _mms_error_message(text: str) -> str | None:
    found = re.search(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
    return found.group(1) if found else None


def _connection_problem(exc: BaseException) -> str | None:
    """A refused or unreachable endpoint, wherever it sits in the chain of causes."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in ("ConnectionError", "NewConnectionError", "MaxRetryError", "ConnectTimeout"):
            host = re.search(r"host='([^']+)', port=(\d+)", str(current))
            where = f" {host.group(1)}:{host.group(2)}" if host else ""
            return f"cannot connect to{where} (connection refused or host unreachable)"
        inner = getattr(current, "inner_exception", None)
        candidates = (current.__cause__, current.__context__, inner)
        current = next((c for c in candidates if isinstance(c, BaseException)), None)
    return None
