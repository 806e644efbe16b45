from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.common.text import first_line
from aml_doctor.views import errorjson, platform

# AzureML's generic wrappers (azureml-core's webservice.py, https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints): they say that the deployment failed, not why.
_CRASH_CODES = ("CrashLoopBackOff", "DeploymentCrashLoopBackOff", "KubernetesCrashLoopBackOff")
_WRAPPER_CODES = ("KubernetesDeploymentFailed", "AciDeploymentFailed", "ResourceNotReady", "InternalServerError", "BadArgument") + _CRASH_CODES
# BadArgument also wraps errors that are not about the deployment's container (the I12 quota error).
_BAD_ARGUMENT_ABOUT_CONTAINER = re.compile(r"User container|crashed|probe failed|Unable to download user model|not ready", re.IGNORECASE)
_BAD_STATES = ("Unhealthy", "Failed", "Transitioning")
_STATE_MEANING = {
    "Transitioning": "still being deployed",
    "Unhealthy": "deployed but unreachable",
    "Failed": "failed to deploy because of an error or crash",
}
# Embedded events whose reason names a cause by itself (the rules for those stages report it).
_TELLING_REASONS = {"FailedScheduling", "FailedMount", "Failed", "Unhealthy", "OOMKilling", "Evicted", "FailedCreate"}
_PULL_BACKOFF = re.compile(r"pulling image", re.IGNORECASE)


class DeploymentFailedState(Rule):
    id = "AML021"
    name = "deployment-failed-state"
    category = Category.OTHER
    modes = (
        Mode("generic-wrapper", Category.OTHER),
        Mode("crash-loop", Category.CRASH_LOOP_OTHER),
    )
    severity = Severity.HIGH
    stage = Stage.SERVICE
    requires = ("text|azureml_service|operation",)
    signals = _WRAPPER_CODES + ("Your container application crashed", "current service state")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        wrappers = [
            c
            for c in platform.coded_errors(ev, _WRAPPER_CODES)
            if c.code != "BadArgument" or _BAD_ARGUMENT_ABOUT_CONTAINER.search(c.message)
        ]
        state = errorjson.service_state(ev)
        bad_state = state if state and state[0] in _BAD_STATES else None
        if not (wrappers or bad_state):
            return
        crash = any(c.code in _CRASH_CODES for c in wrappers) or any(
            c.error and "CrashLoopBackOff" in c.error.all_text() for c in wrappers
        )
        events = _embedded_events(wrappers)
        telling = [e for e in events if e.reason in _TELLING_REASONS or (e.reason == "BackOff" and _PULL_BACKOFF.search(e.message))]

        codes = _codes_in_order(wrappers)
        what = " / ".join(codes) if codes else f"state {bad_state[0]}"
        # A crash loop with nothing else known is crash_loop_other; any other wrapper names no category at all.
        category = Category.CRASH_LOOP_OTHER if crash and not telling else Category.OTHER
        service = ev.service or "<service>"
        namespace = ev.namespace or "azureml-<workspace>"
        yield self.finding(
            title=f"AzureML reports the deployment failed ({what}): a generic wrapper, not the cause",
            explanation=_explanation(what, bad_state, crash, telling, events),
            evidence=_evidence(bad_state, wrappers, telling),
            subject="service/state",
            confidence=0.35 if crash else 0.3,
            category=category,
            alternatives=(Category.ENTRY_SCRIPT_INIT_ERROR, Category.ENTRY_SCRIPT_IMPORT_ERROR, Category.OOM_KILLED) if crash else (),
            decide=(
                f"Read the crash: `kubectl logs -n {namespace} <pod> --previous` or `print(service.get_logs())` "
                f"(a traceback names init()/import; nothing but exit code 137 means memory), and "
                f"`kubectl describe pod -n {namespace} -l azuremlappname={service}` for Last State and Events."
            ),
            fix=Fix(
                summary="Find the cause in the pod's logs and events; the wrapper goes away when it is fixed.",
                steps=(
                    "print(service.get_logs())   # v1; v2: az ml online-deployment get-logs -e <endpoint> -n <deployment> -l 200",
                    f"kubectl describe pod -n {namespace} -l azuremlappname={service}",
                    f"kubectl get events -n {namespace} --sort-by=.lastTimestamp",
                    "aml-doctor collect, then aml-doctor analyze <bundle>, to have the cause ranked here.",
                ),
                verify=("service.wait_for_deployment(show_output=True) ends with state Healthy.",),
            ),
        )


def _evidence(bad_state, wrappers, telling) -> list[EvidenceItem]:
    evidence: list[EvidenceItem] = []
    if bad_state:
        evidence.append(EvidenceItem(bad_state[1], f"current service state: {bad_state[0]}"))
    for c in _one_per_code(wrappers)[:2]:
        evidence.append(EvidenceItem(c.locator, f"{c.code}: {first_line(c.message)}"[:400]))
    evidence += [EvidenceItem(e.locator, f"{e.type} {e.reason} {e.kind}/{e.name}: {e.message}".strip()) for e in telling[:3]]
    return evidence


def _explanation(what: str, bad_state, crash: bool, telling, events) -> str:
    state_text = f" The service state is {bad_state[0]} ({_STATE_MEANING[bad_state[0]]})." if bad_state else ""
    if telling:
        seen = "; ".join(f"{e.reason}: {e.message}" for e in telling[:2])
        events_text = f" The events AzureML attached name what happened in the pod: {seen}."
    elif events:
        events_text = " The events AzureML attached are routine and name no cause."
    else:
        events_text = ""
    crash_text = (
        " The text under CrashLoopBackOff (`Your container application crashed. This may be caused by errors in "
        "your scoring file's init() function...`) is the same help text for every crash, not a diagnosis."
        if crash
        else ""
    )
    return (
        f"AzureML wraps whatever went wrong in the cluster in {what}.{state_text}{crash_text}{events_text} "
        "Any finding in this report at an earlier stage is the cause; without one, the pod's logs and events say it."
    )


def _embedded_events(wrappers):
    out, seen = [], set()
    for c in wrappers:
        for e in c.error.events if c.error else ():
            key = (e.reason, e.name, e.message)
            if key not in seen:
                seen.add(key)
                out.append(e)
    return out


def _codes_in_order(wrappers) -> list[str]:
    codes: list[str] = []
    for c in wrappers:
        if c.code not in codes:
            codes.append(c.code)
    return codes


def _one_per_code(wrappers):
    seen, out = set(), []
    for c in wrappers:
        if c.code not in seen:
            seen.add(c.code)
            out.append(c)
    return out
