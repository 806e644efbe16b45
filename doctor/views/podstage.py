"""Where one pod is in the deployment: scheduling, pulling, mounting, downloading, init(), ready.

Read from the pod's status and, for what the status does not say, its events. One place for
``--watch``, the fleet scan and the report's stage strip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aml_doctor.findings import Stage

_PULL_WAITING = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"}
_NOT_STARTED = {"ContainerCreating", "PodInitializing"}
_CREATING_EVENTS = {"Scheduled", "Pulling", "Pulled", "FailedMount", "Created", "Started", "Failed"}


@dataclass(frozen=True)
class PodStage:
    """Where one pod is: a line for people (``Pending: scheduling``) and the deployment stage."""

    text: str
    stage: Stage | None
    ready: bool = False


def pod_stage(pod: dict, pod_events: list[dict]) -> PodStage:
    """The stage a pod has reached, from its status and (for what the status does not say) its events."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return PodStage("Terminating", None)
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get("Ready") == "True":
        return PodStage("Running, ready", Stage.RUN, ready=True)
    if not spec.get("nodeName") and conditions.get("PodScheduled") != "True":
        failed = latest_event(pod_events, {"FailedScheduling"})
        why = f" (FailedScheduling: {failed.get('message', '')})" if failed else ""
        return PodStage(f"Pending: scheduling{why}", Stage.SCHEDULE)
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode") == 0:
            continue
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting in _PULL_WAITING:
            return PodStage(f"Init:{waiting}: pulling image", Stage.PULL)
        if "running" in state:
            return PodStage("Init: downloading model and code", Stage.DOWNLOAD)
        if "terminated" in state or (waiting and waiting not in _NOT_STARTED):
            reason = waiting or state["terminated"].get("reason") or "Error"
            return PodStage(f"Init:{reason}: init container failed", Stage.DOWNLOAD)
        return _creating(spec, pod_events)
    for cs in status.get("containerStatuses") or []:
        if cs.get("ready"):
            continue
        state = cs.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        restarts = cs.get("restartCount") or 0
        if waiting in _PULL_WAITING:
            return PodStage(f"{waiting}: pulling image", Stage.PULL)
        if waiting == "CrashLoopBackOff":
            return PodStage(f"CrashLoopBackOff: {restarts} restart(s)", Stage.INIT)
        if waiting and waiting not in _NOT_STARTED:
            return PodStage(waiting, Stage.INIT)
        if "running" in state:
            again = f" (after {restarts} restart(s))" if restarts else ""
            return PodStage(f"Running, not ready: init(){again}", Stage.INIT)
        if "terminated" in state:
            return PodStage(f"Terminated: {state['terminated'].get('reason') or 'Error'}", Stage.INIT)
    return _creating(spec, pod_events)


def _creating(spec: dict, pod_events: list[dict]) -> PodStage:
    """No container has started: the kubelet is pulling the image or mounting the volumes."""
    last = latest_event(pod_events, _CREATING_EVENTS)
    if last and last.get("reason") == "Pulling":
        return PodStage("ContainerCreating: pulling image", Stage.PULL)
    if last and last.get("reason") == "FailedMount":
        return PodStage("ContainerCreating: mounting volume (FailedMount)", Stage.MOUNT)
    if any(v.get("persistentVolumeClaim") for v in spec.get("volumes") or []):
        return PodStage("ContainerCreating: mounting volume", Stage.MOUNT)
    return PodStage("ContainerCreating", Stage.MOUNT)


def latest_event(events: list[dict], reasons: set[str]) -> dict | None:
    return next((e for e in reversed(events) if e.get("reason") in reasons), None)


@dataclass(frozen=True)
class DeploymentStage:
    """Where a service is as a whole: its least advanced pod's stage, and whether all pods are Ready."""

    text: str
    stage: Stage | None  # the least advanced pod's stage; None when there is no pod to hold back
    healthy: bool


def deployment_stage(service: str, deployment: dict | None, pods: list[dict], events_of: Callable[[str, str], list[dict]]) -> DeploymentStage:
    """The stage of the service as a whole: its least advanced pod, and whether all are Ready."""
    if deployment is None:
        return DeploymentStage(f"Waiting for Deployment {service} to appear", None, False)
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if wanted == 0:
        return DeploymentStage("Scaled to 0 replicas", None, True)
    if not live:
        failed = latest_event(events_of("ReplicaSet", ""), {"FailedCreate"})
        why = f" (FailedCreate: {failed.get('message', '')})" if failed else ""
        return DeploymentStage(f"Deployment created, no pods yet{why}", None, False)
    stages = [pod_stage(p, events_of("Pod", p["metadata"]["name"])) for p in live]
    ready = sum(s.ready for s in stages)
    if ready >= wanted and ready == len(stages):
        return DeploymentStage(f"Running, ready ({ready}/{wanted})", Stage.RUN, True)
    behind = min((s for s in stages if not s.ready), key=lambda s: int(s.stage or 0))
    count = f" ({ready}/{wanted} ready)" if wanted > 1 else ""
    return DeploymentStage(behind.text + count, behind.stage, False)


# A Python traceback, or the AzureML scoring server's own line when the worker did not start.
_FAILURE_SHOWN = re.compile(rb"Traceback \(most recent call last\):|Worker failed to boot|User's init function failed")


def log_shows_failure(log: bytes) -> bool:
    """Whether a container's current log already shows why it failed (a traceback, or the scoring
    server saying the worker did not boot), so that its previous instance's log adds nothing."""
    return bool(_FAILURE_SHOWN.search(log))
