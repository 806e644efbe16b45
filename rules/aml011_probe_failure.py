from __future__ import annotations

import re
from datetime import datetime

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures
from aml_doctor.views import kube, podfailures
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

# v1 liveness defaults (AksWebservice.deploy_configuration: https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service).
V1_PROBE = {"initialDelaySeconds": 310, "periodSeconds": 10, "failureThreshold": 3}
_PROBE_FAILED = re.compile(r"(Liveness|Readiness|Startup) probe failed|failed (liveness|startup) probe")
_INIT_STARTED = re.compile(r"Invoking user's init function")
_INIT_DONE = re.compile(r"Users's init has completed successfully")
_DESCRIBE_LIVENESS = re.compile(r"^\s*Liveness:\s+.*?delay=(\d+)s.*?period=(\d+)s.*?#failure=(\d+)", re.MULTILINE)


@with_signatures(__file__)
class ProbeFailure(Rule):
    id = "AML011"
    name = "probe-failure"
    category = Category.WRONG_PORT_OR_PROBE_FAILURE
    severity = Severity.HIGH
    stage = Stage.PROBE
    requires = ("pods|events|text|azureml_service",)
    # A crash behind the probe failures is the cause: AML004's causes and AML005 declare that
    # they supersede this rule (``supersedes``); an OOMKilled container is AML008's.
    defers = {"AML008": "probe failures of a container that was OOMKilled"}
    signals = (
        "probe failed",
        "failed liveness probe",
        "User container has crashed or terminated",
        "ResourceNotReady",
        "Invoking user's init function",
        "Users's init has completed successfully",
    )
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        if kube.service_healthy(ev) or self._explained_elsewhere(ev):
            return
        all_events = podfailures.service_events(ev)
        events = [e for e in all_events if _PROBE_FAILED.search(e.message)]
        if events and podfailures.later(all_events, events[-1], "ContainerReady"):
            # A v2 deployment's get-logs lists "Name: ContainerReady ... Container is ready" once the
            # probes pass: failures before it were the server still starting (a healthy MLflow
            # deployment in PacktPublishing/Azure-Machine-Learning-Engineering, Chapter06, shows 90 s of them).
            return
        endpoint = [
            err for err in azureml_errors(ev) if _PROBE_FAILED.search(err.all_text()) or "ResourceNotReady" in err.codes()
        ]
        if not events and not endpoint:
            return
        probe, probe_locator = _liveness(ev)
        budget = probe["initialDelaySeconds"] + probe["periodSeconds"] * probe["failureThreshold"]
        init_items, init_open = _init_never_finished(ev)
        ran = _longest_run(ev)
        items = [EvidenceItem(e.locator, f"{e.type} {e.reason}: {e.message}".strip()) for e in events[-2:]]
        items += [EvidenceItem(err.locator, f"{err.code}: {err.all_text()[:300]}") for err in endpoint[:1]]
        items += init_items
        if ran:
            items.append(EvidenceItem(ran[1], f"the container ran {ran[0]:.0f} s before it was killed"))
        if probe_locator:
            items.append(EvidenceItem(probe_locator, _probe_text(probe, budget)))

        slow = init_open and (ran is None or ran[0] >= budget - probe["periodSeconds"])
        if slow:
            title = f"init() is still running when the liveness probe gives up ({_probe_text(probe, budget)})"
            confidence = 0.9 if ran else 0.8
        elif events:
            title = f"Probes fail with no crash behind them: {events[-1].message[:160]}"
            confidence = 0.7
        else:
            title = f"The deployment reports failing probes: {endpoint[0].all_text()[:160]}"
            confidence = 0.45 if endpoint[0].codes() == {"ResourceNotReady"} else 0.55
        weak = confidence < 0.6
        yield self.finding(
            title=title,
            explanation=(
                "Kubernetes probes the server's `GET /` once the initial delay is over and restarts the container after "
                f"{probe['failureThreshold']} failures {probe['periodSeconds']} s apart, {budget} s after it started. "
                + (
                    "The log shows init() started and never printed `Users's init has completed successfully`: it is slow "
                    "(loading or downloading a large model), not broken, and the probe kills it before it finishes, every time."
                    if slow
                    else "The logs show no crash (no traceback, no OOM kill), so the probes themselves fail the container: "
                    "init() takes longer than they allow, or the server answers them too slowly."
                )
            ),
            evidence=items[:6],
            subject="probe/liveness",
            confidence=confidence,
            alternatives=(Category.ENTRY_SCRIPT_INIT_ERROR, Category.OOM_KILLED) if weak else (),
            decide=(
                "`print(service.get_logs())` (v2: `az ml online-deployment get-logs`): a traceback means init() failed; "
                "init() still running when the container restarts means the probe settings are too tight."
                if weak
                else ""
            ),
            fix=_fix(probe, ran[0] if ran else 0.0),
        )

    def _explained_elsewhere(self, ev) -> bool:
        """An OOMKilled container is the cause of its probe failures (AML008)."""
        return any(s.terminated_reason == "OOMKilled" for s in kube.container_states(ev))


def _liveness(ev) -> tuple[dict, str]:
    """The scoring container's liveness settings and where they were read; v1 defaults otherwise."""
    for pod in kube.service_pods(ev):
        container = kube.scoring_container(pod)
        probe = (container or {}).get("livenessProbe")
        if probe:
            settings = {k: int(probe.get(k, V1_PROBE[k])) for k in V1_PROBE}
            index = (pod.get("spec") or {}).get("containers", []).index(container)
            return settings, ev.object_locator("pods", pod, f"spec.containers[{index}].livenessProbe")
    for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
        hit = doc.first(_DESCRIBE_LIVENESS)
        if hit:
            delay, period, failures = (int(g) for g in hit.match.groups())
            return {"initialDelaySeconds": delay, "periodSeconds": period, "failureThreshold": failures}, hit.locator
    return dict(V1_PROBE), ""


def _probe_text(probe: dict, budget: int) -> str:
    return (
        f"initialDelaySeconds {probe['initialDelaySeconds']} + periodSeconds {probe['periodSeconds']} × "
        f"failureThreshold {probe['failureThreshold']} = {budget} s"
    )


def _init_never_finished(ev) -> tuple[list[EvidenceItem], bool]:
    """Evidence that the last init() in a log began and never completed."""
    for doc in kube.scoring_logs(ev):
        started = doc.last(_INIT_STARTED)
        if started and not any(h.line_no > started.line_no for h in doc.search(_INIT_DONE)):
            return [excerpt(doc, started.line_no, 0, 2)], True
    return [], False


def _longest_run(ev) -> tuple[float, str] | None:
    """How long the scoring container's last instance ran (lastState.terminated), in seconds."""
    best = None
    for pod in kube.service_pods(ev):
        for i, cs in enumerate((pod.get("status") or {}).get("containerStatuses") or []):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            seconds = _seconds(last.get("startedAt"), last.get("finishedAt"))
            if seconds is not None and (best is None or seconds > best[0]):
                best = (seconds, ev.object_locator("pods", pod, f"status.containerStatuses[{i}].lastState.terminated"))
    return best


def _seconds(start, end) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def _fix(probe: dict, ran: float) -> Fix:
    delay = max(600, int((ran * 2 if ran else probe["initialDelaySeconds"] * 2) // 60 + 1) * 60)
    return Fix(
        summary=f"Give init() time to finish: initial_delay_seconds={delay}, or make init() faster.",
        steps=(
            f"AksWebservice.deploy_configuration(initial_delay_seconds={delay}, period_seconds=10, failure_threshold=6, timeout_seconds=5), "
            "then service.update(...) or redeploy",
            f"v2 Kubernetes endpoint: liveness_probe: {{initial_delay: {delay}, period: 10, failure_threshold: 30}} (and readiness_probe alike)",
            "Move slow work out of init(): load a smaller or pre-converted model, do not download data there, use a larger SKU for CPU-bound loading.",
        ),
        verify=(
            "print(service.get_logs())   # `Users's init has completed successfully` appears",
            "kubectl describe pod <pod> -n <namespace>   # no new Unhealthy / 'failed liveness probe' events; READY 1/1",
        ),
    )
