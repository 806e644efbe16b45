"""Read Kubernetes evidence the same way whether it came as objects or as pasted text.

Rules ask for *pods of the service*, *container states* and *events*; this module answers from
``kubernetes/*.json``, from the events AzureML embeds in its error JSON, and from ``kubectl describe``
or ``kubectl get events`` text a user pasted. Containers are never recognised by name (the v1
platform does not document them): the scoring container is the one with the ``InitContainerConfig``
env var or an ``azureml/azureml_<hash>`` image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterator

from aml_doctor.evidence.store import Evidence
from aml_doctor.evidence.textdoc import TextDoc, TextKind
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.views.events import Event

AZUREML_IMAGE = re.compile(r"azureml/azureml_[0-9a-f]{32}")


@dataclass(frozen=True)
class ContainerState:
    pod: str
    container: str
    init: bool
    scoring: bool
    waiting_reason: str
    waiting_message: str
    running: bool
    ready: bool
    terminated_reason: str  # the last termination: lastState.terminated, or state.terminated
    exit_code: int | None
    restart_count: int
    locator: str


# ---------------------------------------------------------------------- pods and containers
def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _owners(obj: dict) -> list[dict]:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [o for o in owners if isinstance(o, dict)] if isinstance(owners, list) else []


def service_pods(ev: Evidence) -> list[dict]:
    """The pods of ``ev.service``: by ``azuremlappname`` label, else by owner references up to
    the Deployment named after the service. Without a service name: every pod that runs an
    AzureML scoring container."""
    pods = ev.objects("pods")
    service = ev.service
    if not service:
        return [p for p in pods if scoring_container(p) is not None]
    chosen = [p for p in pods if _labels(p).get("azuremlappname") == service]
    if chosen:
        return chosen
    replicasets = {
        _name(rs)
        for rs in ev.objects("replicasets")
        if any(o.get("kind") == "Deployment" and o.get("name") == service for o in _owners(rs))
    }
    return [
        p
        for p in pods
        if any(o.get("kind") == "ReplicaSet" and o.get("name") in replicasets for o in _owners(p))
        or _name(p).startswith(service + "-") and scoring_container(p) is not None
    ]


def _env_names(container: dict) -> set[str]:
    return {e.get("name") for e in container.get("env") or []}


def is_scoring_container(container: dict) -> bool:
    return "InitContainerConfig" in _env_names(container) or bool(AZUREML_IMAGE.search(container.get("image", "")))


def scoring_container(pod_or_template: dict) -> dict | None:
    return scoring_container_in(pod_or_template.get("spec") or {})


def scoring_container_in(spec: dict) -> dict | None:
    """The container that runs the model: the one whose ``InitContainerConfig`` env var names the
    ConfigMap, else the one running an ``azureml/azureml_<hash>`` image."""
    containers = spec.get("containers") or []
    by_env = next((c for c in containers if "InitContainerConfig" in _env_names(c)), None)
    return by_env or next((c for c in containers if AZUREML_IMAGE.search(c.get("image") or "")), None)


def service_deployment(ev: Evidence) -> dict | None:
    for d in ev.objects("deployments"):
        if _name(d) == ev.service or _labels(d).get("azuremlappname") == ev.service:
            return d
    return None


def init_container_config_name(ev: Evidence) -> str:
    """The ConfigMap named by the ``InitContainerConfig`` env var, from the Deployment or a pod."""
    holders = [d.get("spec", {}).get("template", {}) for d in filter(None, [service_deployment(ev)])]
    holders += service_pods(ev)
    for holder in holders:
        spec = holder.get("spec") or {}
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for e in c.get("env") or []:
                if e.get("name") == "InitContainerConfig":
                    ref = (e.get("valueFrom") or {}).get("configMapKeyRef") or {}
                    return e.get("value") or ref.get("name", "")
    return ""


@dataclass(frozen=True)
class InitContainerConfig:
    configmap: str
    key: str
    data: dict
    locator: str

    def blob_paths(self) -> Iterator[tuple[str, str, str]]:
        return config_blob_paths(self.data)


def config_document(configmap: dict) -> tuple[str, dict] | None:
    """(data key, JSON document) of an InitContainerConfig ConfigMap, whatever the key is called."""
    for key, value in (configmap.get("data") or {}).items():
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict) and ("Models" in data or "Dependency" in data):
            return key, data
    return None


def config_blob_paths(data: dict) -> Iterator[tuple[str, str, str]]:
    """(kind, name, blob path) for every model file and code dependency. A Models entry maps
    "name:version" to its files; an entry that is itself a file has no name."""
    for entry in data.get("Models") or []:
        if not isinstance(entry, dict):
            continue
        groups = {"": [entry]} if "Path" in entry else {k: v for k, v in entry.items() if isinstance(v, list)}
        for model_name, files in groups.items():
            for f in files:
                if isinstance(f, dict) and f.get("Path"):
                    yield "model", model_name, f["Path"]
    for dep in data.get("Dependency") or []:
        if isinstance(dep, dict) and dep.get("Path"):
            yield "code", dep.get("ContainerPath") or dep["Path"], dep["Path"]


def init_container_config(ev: Evidence) -> InitContainerConfig | None:
    name = init_container_config_name(ev)
    for cm in ev.objects("configmaps"):
        if name and _name(cm) != name:
            continue
        found = config_document(cm)
        if found:
            key, data = found
            return InitContainerConfig(_name(cm), key, data, ev.object_locator("configmaps", cm, f"data.{key}"))
    return None


def container_states(ev: Evidence) -> list[ContainerState]:
    """Container states of the service's pods, from pods.json and from pasted ``kubectl describe``."""
    return ev.derived("container_states", lambda: _container_states(ev))


def _container_states(ev: Evidence) -> list[ContainerState]:
    states: list[ContainerState] = []
    for pod in service_pods(ev):
        pod_name = _name(pod)
        spec = pod.get("spec") or {}
        scoring = {c.get("name") for c in spec.get("containers") or [] if is_scoring_container(c)}
        status = pod.get("status") or {}
        for field_name, init in (("initContainerStatuses", True), ("containerStatuses", False)):
            for i, cs in enumerate(status.get(field_name) or []):
                state = cs.get("state") or {}
                last = (cs.get("lastState") or {}).get("terminated") or state.get("terminated") or {}
                waiting = state.get("waiting") or {}
                states.append(
                    ContainerState(
                        pod=pod_name,
                        container=cs.get("name", ""),
                        init=init,
                        scoring=cs.get("name") in scoring,
                        waiting_reason=waiting.get("reason", ""),
                        waiting_message=waiting.get("message", ""),
                        running="running" in state,
                        ready=bool(cs.get("ready")),
                        terminated_reason=last.get("reason", ""),
                        exit_code=last.get("exitCode"),
                        restart_count=int(cs.get("restartCount") or 0),
                        locator=ev.object_locator("pods", pod, f"status.{field_name}[{i}]"),
                    )
                )
    if not ev.has("pods"):
        for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
            states.extend(_describe_states(doc))
    return states


def scoring_states(ev: Evidence) -> list[ContainerState]:
    """States of the service's regular containers: the scoring one when it can be told apart."""
    states = [s for s in container_states(ev) if not s.init]
    return [s for s in states if s.scoring] or states


def service_healthy(ev: Evidence) -> bool:
    """The service's containers all run and are ready: earlier warnings are history."""
    states = scoring_states(ev)
    return bool(states) and all(s.running and s.ready for s in states)


# v2's init container (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints);
# the v1 one is not named in any source, so it is found
# through the pods' status and spec instead.
_INIT_CONTAINER_NAMES = ("storage-initializer", "storageinitializer")


def init_logs(ev: Evidence) -> list[TextDoc]:
    """``get_logs(init=True)`` output and the logs of the pods' init containers."""
    init_names = {s.container for s in container_states(ev) if s.init}
    for pod in ev.objects("pods"):
        init_names |= {c.get("name", "") for c in (pod.get("spec") or {}).get("initContainers") or []}
    docs = ev.docs(TextKind.AZUREML_INIT_LOGS)
    docs += [d for d in ev.container_logs() if d.container in init_names or d.container.startswith(_INIT_CONTAINER_NAMES)]
    return docs


def scoring_logs(ev: Evidence) -> list[TextDoc]:
    """What the scoring server printed: its containers' logs (never an init container's), the
    previous instance first since it holds the crash, then get_logs() output, pasted text and the
    operation's error text."""
    init = {d.path for d in init_logs(ev)}
    logs = sorted((d for d in ev.container_logs() if d.path not in init), key=lambda d: (not d.previous, d.path))
    return logs + ev.docs(TextKind.AZUREML_LOGS, TextKind.PASTED, TextKind.OPERATION)


_DESCRIBE_FIELD = re.compile(r"^(\s*)(State|Last State|Reason|Message|Exit Code|Restart Count|Ready|Image):\s*(.*)$")
_DESCRIBE_CONTAINER = re.compile(r"^  (\S[^:]*):\s*$")


def _describe_states(doc: TextDoc) -> list[ContainerState]:
    """Parse the Containers sections of ``kubectl describe pod`` text."""
    states: list[ContainerState] = []
    pod = ""
    section_init = False
    current: dict | None = None
    block = ""

    def flush():
        if current is not None:
            states.append(_described_state(doc, pod, current))

    for n, line in doc.lines():
        if line.startswith("Name:") and not pod:
            pod = line.split(":", 1)[1].strip()
            continue
        if line.startswith(("Init Containers:", "Containers:")):
            flush()
            current = None
            section_init = line.startswith("Init")
            continue
        if line and not line.startswith(" "):
            flush()
            current = None
            continue
        m = _DESCRIBE_CONTAINER.match(line)
        if m and line.startswith("  ") and not line.startswith("   "):
            flush()
            current = {"name": m.group(1), "init": section_init, "line": n}
            continue
        if current is None:
            continue
        f = _DESCRIBE_FIELD.match(line)
        if not f:
            continue
        block = _described_field(current, block, f.group(2), f.group(3).strip())
    flush()
    return states


def _described_field(current: dict, block: str, key: str, value: str) -> str:
    """One ``Key: value`` line of a container's section into ``current``; returns the block it is in
    (``state`` or ``last``: a ``Reason`` belongs to the State or the Last State above it)."""
    if key == "State":
        block, current["state"] = "state", value
    elif key == "Last State":
        block = "last"
    elif key == "Reason":
        if block == "state" and current.get("state") == "Waiting":
            current["waiting_reason"] = value
        elif block == "state":
            current["term_reason"] = value
        else:
            current["last_reason"] = value
    elif key == "Exit Code" and value.lstrip("-").isdigit():
        current["exit_code"] = int(value)
    elif key == "Restart Count" and value.isdigit():
        current["restarts"] = int(value)
    elif key == "Ready":
        current["ready"] = value
    elif key == "Image":
        current["image"] = value
    return block


def _described_state(doc: TextDoc, pod: str, current: dict) -> ContainerState:
    return ContainerState(
        pod=pod,
        container=current["name"],
        init=current["init"],
        scoring=bool(AZUREML_IMAGE.search(current.get("image", ""))),
        waiting_reason=current.get("waiting_reason", ""),
        waiting_message="",
        running=current.get("state") == "Running",
        ready=current.get("ready") == "True",
        terminated_reason=current.get("last_reason", "") or current.get("term_reason", ""),
        exit_code=current.get("exit_code"),
        restart_count=current.get("restarts", 0),
        locator=doc.locator(current["line"]),
    )


# ---------------------------------------------------------------------- events
def events(ev: Evidence) -> list[Event]:
    """Every event the evidence holds: events.json, AzureML's error JSON, pasted event tables."""
    return ev.derived("events", lambda: _events(ev))


def _events(ev: Evidence) -> list[Event]:
    out: list[Event] = []
    for e in ev.objects("events"):
        involved = e.get("involvedObject") or e.get("regarding") or {}
        out.append(
            Event(
                reason=e.get("reason", ""),
                message=e.get("message") or e.get("note") or "",
                type=e.get("type", ""),
                kind=involved.get("kind", ""),
                name=involved.get("name", ""),
                count=int(e.get("count") or (e.get("series") or {}).get("count") or 1),
                last_seen=e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "",
                locator=ev.object_locator("events", e),
            )
        )
    for err in azureml_errors(ev):
        out.extend(err.events)
    for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
        out.extend(_text_events(doc))
    return out


def events_for_service(ev: Evidence) -> list[Event]:
    """Events about the service's pods, ReplicaSets, Deployment and claims (all when unknown)."""
    names = {_name(p) for p in service_pods(ev)}
    if not ev.service or not names:
        return events(ev)
    return [
        e
        for e in events(ev)
        if not e.name or e.name in names or e.name == ev.service or e.name.startswith(ev.service)
    ]


# `kubectl describe` Events table:   Warning  FailedMount  2m (x3 over 6m)  kubelet  MountVolume.SetUp failed ...
_DESCRIBE_EVENT = re.compile(r"^\s*(Normal|Warning)\s+(\w+)\s+(.+?\s{2,})(\S+(?:, \S+)?)\s{2,}(\S.*)$")
# `kubectl get events`:   2m   Warning   FailedScheduling   pod/x-1   0/3 nodes are available: ...
_GET_EVENT = re.compile(r"^\s*\S+\s+(Normal|Warning)\s+(\w+)\s+(\w+)/(\S+)\s+(\S.*)$")


def _text_events(doc: TextDoc) -> Iterator[Event]:
    for n, line in doc.lines():
        m = _GET_EVENT.match(line)
        if m:
            yield Event(m.group(2), m.group(5).strip(), m.group(1), m.group(3).capitalize(), m.group(4), 1, "", doc.locator(n))
            continue
        m = _DESCRIBE_EVENT.match(line)
        if m:
            yield Event(m.group(2), m.group(5).strip(), m.group(1), "", "", 1, m.group(3).strip(), doc.locator(n))
