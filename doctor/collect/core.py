"""What one service is in a namespace, shared by the single-service collector, ``--watch`` and the
fleet scan: the namespace naming rule, the service's objects, which events are its own, which
claims its pods mount, and which container logs to read.

Each collector lists or watches the namespace its own way; what it keeps of the answers is decided
here, once, so the three cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

SERVICE_LABEL = "azuremlappname"  # the label v1 puts on a web service's Deployment, ReplicaSets and pods
FRONTEND_SERVICE = "azureml-fe"  # the cluster's front end carries the same label
# At most this many field-selected event lists for one service; with more of its objects, one list
# of the namespace's events costs fewer calls.
MAX_EVENT_SELECTS = 4


def workspace_namespace(workspace: str) -> str:
    """The namespace v1 deploys a workspace's services to: ``azureml-<workspace>``, lower case as
    every Kubernetes name is (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/)."""
    return f"azureml-{workspace.lower()}"


def service_selector(service: str) -> str:
    return f"{SERVICE_LABEL}={service}"


def template_spec(deployment: dict | None, pods: list[dict]) -> dict:
    """The pod spec of the service: the Deployment's template, else the first pod's."""
    spec = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec")
    return spec or (pods[0].get("spec") if pods else None) or {}


def claims_of(specs: Iterable[dict]) -> list[str]:
    """The PersistentVolumeClaims the pod specs mount, each once, in order of appearance."""
    claims: list[str] = []
    for spec in specs:
        for volume in (spec or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in claims:
                claims.append(claim)
    return claims


def owned_replicasets(deployment: dict | None, replicasets: list[dict]) -> list[dict]:
    """The ReplicaSets the Deployment owns; another controller's could carry the same label."""
    if deployment is None:
        return replicasets
    uid = (deployment.get("metadata") or {}).get("uid")
    return [rs for rs in replicasets if any(o.get("uid") == uid for o in (rs.get("metadata") or {}).get("ownerReferences") or [])]


@dataclass(frozen=True)
class ServiceObjects:
    """The objects of one service whose events are the service's."""

    service: str
    deployment: dict | None
    replicasets: tuple[dict, ...]
    pods: tuple[dict, ...]
    claims: tuple[str, ...]

    def keys(self) -> set[tuple[str, str]]:
        keys = {("Deployment", self.service), ("Service", self.service), ("Endpoints", self.service)}
        keys |= {("ReplicaSet", _name(rs)) for rs in self.replicasets}
        keys |= {("Pod", _name(p)) for p in self.pods}
        keys |= {("PersistentVolumeClaim", c) for c in self.claims}
        return keys

    def uids(self) -> set[str]:
        objects = ([self.deployment] if self.deployment else []) + list(self.replicasets) + list(self.pods)
        return {(o.get("metadata") or {}).get("uid") for o in objects} - {None}

    def names(self) -> list[str]:
        """The involved object names, each once: what field-selected event lists would ask for."""
        names = [self.service] + [_name(rs) for rs in self.replicasets] + [_name(p) for p in self.pods] + list(self.claims)
        return list(dict.fromkeys(names))


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def involved(event: dict) -> tuple[str | None, str | None, str | None]:
    """(kind, name, uid) of the object an event is about."""
    obj = event.get("involvedObject") or {}
    return obj.get("kind"), obj.get("name"), obj.get("uid")


def event_filter(objects: ServiceObjects):
    """The one test of whether an event is the service's: it involves one of its objects, by uid
    or by kind and name."""
    keys, uids = objects.keys(), objects.uids()

    def keep(event: dict) -> bool:
        kind, name, uid = involved(event)
        return (uid is not None and uid in uids) or (kind, name) in keys

    return keep


def service_events(events: Iterable[dict], objects: ServiceObjects) -> list[dict]:
    keep = event_filter(objects)
    return [e for e in events if keep(e)]


def event_field_selectors(objects: ServiceObjects) -> list[str] | None:
    """Field selectors that together list every event of the service: one per involved name
    (https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/ has no
    "any of"). None when that would take more than :data:`MAX_EVENT_SELECTS` calls; then one
    list of the namespace's events is cheaper in calls."""
    names = objects.names()
    if len(names) > MAX_EVENT_SELECTS:
        return None
    return [f"involvedObject.name={name}" for name in names]


def owned_name(service: str) -> re.Pattern:
    """ReplicaSet ``<service>-<pod-template-hash>``, Pod ``<service>-<hash>-<5 chars>``: the names the
    Deployment controller gives (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/),
    so events of pods not yet seen can be told apart while following a rollout."""
    return re.compile(rf"^{re.escape(service)}-[a-z0-9]{{4,10}}(-[a-z0-9]{{5}})?$")


# ----------------------------------------------------------------------------- logs
def log_path(pod: str, container: str, previous: bool) -> str:
    return f"logs/{pod}/{container}{'.previous' if previous else ''}.log"


def restarted_containers(pod: dict) -> set[str]:
    status = pod.get("status") or {}
    return {
        cs.get("name")
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
        if cs.get("restartCount") or (cs.get("lastState") or {}).get("terminated")
    }


def every_log(pod: dict) -> list[tuple[str, bool]]:
    """One service diagnosed on its own: every container's log, and the previous instance's of
    each container that restarted (only one that restarted has a previous instance)."""
    spec = pod.get("spec") or {}
    restarted = restarted_containers(pod)
    wanted = []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        wanted.append((c["name"], False))
        if c["name"] in restarted:
            wanted.append((c["name"], True))
    return wanted


def warned_pods(events: Iterable[dict]) -> set[str]:
    """Pods named in a Warning event."""
    return {name for e in events if e.get("type") == "Warning" for kind, name, _ in [involved(e)] if kind == "Pod" and name}


def pod_needs_logs(pod: dict, warned: set[str]) -> bool:
    """In a scan, a pod's logs are read only when its state needs them: it is not ready, a container
    restarted, or a Warning event names it. A ready pod that never restarted and has no warning has
    nothing for the rules to explain."""
    status = pod.get("status") or {}
    if _name(pod) in warned:
        return True
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get("Ready") != "True":
        return True
    return bool(restarted_containers(pod))


@dataclass(frozen=True)
class LogRead:
    """One log to read in a scan; ``fallback`` is read only if this one does not explain the failure."""

    container: str
    previous: bool
    fallback: bool = False  # the previous instance's log, wanted when the current one says nothing


def scan_logs(pod: dict) -> list[LogRead]:
    """The logs a scan reads of a pod that needs them: each container that has run (an init
    container only if it did not complete). A container waiting to restart after a crash has no
    current instance: the kubelet serves the last terminated one for both reads, so only the
    previous log is read. A running container that restarted: its current log, and the previous
    one only when the current one does not explain the failure (see ``fallback``)."""
    status = pod.get("status") or {}
    wanted: list[LogRead] = []
    for statuses, init in ((status.get("initContainerStatuses") or [], True), (status.get("containerStatuses") or [], False)):
        for cs in statuses:
            name = cs.get("name") or ""
            state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
            restarts = cs.get("restartCount") or 0
            if init and (state.get("terminated") or {}).get("exitCode") == 0 and not restarts:
                continue
            if not init and cs.get("ready") and not restarts:
                continue
            if "waiting" in state and restarts and last:
                wanted.append(LogRead(name, True))
                continue
            if "running" in state or "terminated" in state or last:
                wanted.append(LogRead(name, False))
            if restarts and last:
                wanted.append(LogRead(name, True, fallback=True))
    return wanted
