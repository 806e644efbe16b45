"""What AzureML's own platform says: the scoring server's request log, azureml-fe, AzureML error
codes, the cluster's nodes. Shared by the rules for request-time and platform failures.

Rules ask three kinds of question here: *which text says X* (``lines``), *which AzureML error
code appears* (``coded_errors``, read as structure by ``errorjson`` and, for text that is not a
JSON object, as the bare code), and *what state are the platform's pods and nodes in*
(``frontend_pods``, ``not_ready_nodes``, ``scoring_restarts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from aml_doctor.views import kube
from aml_doctor.views.errorjson import AzureMLError, azureml_errors
from aml_doctor.evidence.store import Evidence
from aml_doctor.views.pytraceback import INIT_COMPLETED, INIT_STARTED, Traceback, request_tracebacks, tracebacks  # noqa: F401
from aml_doctor.evidence.textdoc import Hit, TextDoc

# AzureML prints this help text under every v1 CrashLoopBackOff (as users pasted it in
# https://github.com/MicrosoftDocs/azure-docs/issues/91587): it is boilerplate, never evidence of a
# certificate or DNS problem on its own.
CRASH_HELP_TEXT = re.compile(
    r"Your container application crashed|For AKS deployment with custom certificate, you need to update your DNS record",
    re.IGNORECASE,
)
FRONTEND_LABEL = ("azuremlappname", "azureml-fe")


# ---------------------------------------------------------------------- text
def lines(docs: Iterable[TextDoc], pattern: re.Pattern) -> list[Hit]:
    """Every line of ``docs`` matching ``pattern``, in document order."""
    return [hit for doc in docs for hit in doc.search(pattern)]


def outside_help_text(hits: Iterable[Hit]) -> list[Hit]:
    """Hits that are not on a line of AzureML's CrashLoopBackOff help text."""
    return [h for h in hits if not CRASH_HELP_TEXT.search(h.line)]


# ---------------------------------------------------------------------- AzureML error codes
@dataclass(frozen=True)
class CodedError:
    """One AzureML error code, where it was found, and the message that goes with it."""

    code: str
    message: str
    locator: str
    error: AzureMLError | None  # the whole error object, when the code came from one


def coded_errors(ev: Evidence, codes: Iterable[str]) -> list[CodedError]:
    """Every occurrence of one of ``codes``: as an error's code or a detail's code (structure first),
    then as a bare word in text that is not a JSON object (``OutOfQuota: ...``, ``Code=QuotaExceeded``)."""
    wanted = {c.lower(): c for c in codes}
    found: list[CodedError] = []
    seen: set[tuple[str, str]] = set()
    for err in azureml_errors(ev):
        pairs = [(err.code, err.message)] + [(d.code, d.message) for d in err.details]
        for code, message in pairs:
            if code.lower() in wanted and (code.lower(), err.locator) not in seen:
                seen.add((code.lower(), err.locator))
                found.append(CodedError(wanted[code.lower()], message, err.locator, err))
    word = re.compile(r"\b(" + "|".join(re.escape(c) for c in wanted.values()) + r")\b", re.IGNORECASE)
    for hit in lines(kube.scoring_logs(ev), word):
        code = wanted[hit.match.group(1).lower()]
        if (code.lower(), hit.locator) in seen:
            continue
        seen.add((code.lower(), hit.locator))
        found.append(CodedError(code, hit.line[hit.match.end():].lstrip(" :'\"=,").strip(), hit.locator, None))
    return found


# ---------------------------------------------------------------------- tracebacks at request time
# ---------------------------------------------------------------------- pods and nodes
def scoring_restarts(ev: Evidence) -> list[kube.ContainerState]:
    """Scoring containers that restarted or were killed: a reason a request was cut off."""
    return [s for s in kube.scoring_states(ev) if s.restart_count > 0 or s.terminated_reason or s.waiting_reason == "CrashLoopBackOff"]


def frontend_pods(ev: Evidence) -> Iterator[tuple[str, dict]]:
    """(resource, pod) for azureml-fe pods in ``pods.json`` or a collector's ``frontend-pods.json``."""
    key, value = FRONTEND_LABEL
    seen: set[str] = set()
    for resource in ("frontend-pods", "pods"):
        for pod in ev.objects(resource):
            meta = pod.get("metadata") or {}
            uid = meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"
            if (meta.get("labels") or {}).get(key) == value and uid not in seen:
                seen.add(uid)
                yield resource, pod


def pod_problem(pod: dict) -> str:
    """Why a pod is not serving, in kubectl's words ("CrashLoopBackOff", "Pending", "0/4 ready"), or ""."""
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return waiting["reason"]
    if phase and phase != "Running":
        return (status.get("reason") or phase) if phase != "Succeeded" else ""
    ready = sum(1 for cs in statuses if cs.get("ready"))
    if statuses and ready < len(statuses):
        return f"{ready}/{len(statuses)} containers ready"
    return ""


def not_ready_nodes(ev: Evidence) -> list[tuple[dict, dict, int]]:
    """(node, its Ready condition, the condition's index) for nodes whose Ready is not True."""
    out = []
    for node in ev.objects("nodes"):
        conditions = (node.get("status") or {}).get("conditions") or []
        for i, cond in enumerate(conditions):
            if cond.get("type") == "Ready" and cond.get("status") != "True":
                out.append((node, cond, i))
    return out
