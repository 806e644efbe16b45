"""Pod-level facts the scheduling, pull, download, memory and probe rules share.

``kube`` answers *what state is each container in* and *which events are there*. This module adds
what those rules compare against: resource quantities (requests, limits, node allocatable) from
objects or from pasted ``kubectl describe`` text, the logs of init containers, the event lines of
managed online endpoints (``Kind: Pod, Name: DownloadFailed, Type: Warning, ...``), and whether the
service's pods are healthy now, which turns an old warning into history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aml_doctor.views import kube
from aml_doctor.evidence.store import Evidence
from aml_doctor.evidence.textdoc import TextDoc, TextKind

# ---------------------------------------------------------------------- quantities
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_QUANTITY = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\s*$")


def quantity(value) -> float | None:
    """A Kubernetes quantity as a number: ``"100m"`` -> 0.1 (CPU), ``"512Mi"`` -> 536870912 (bytes)."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _QUANTITY.match(str(value or ""))
    if not m:
        return None
    number, suffix = float(m.group(1)), m.group(2) or ""
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])


def memory_text(size: float) -> str:
    """Bytes as kubectl would write them, plus the v1 ``memory_gb`` the size corresponds to."""
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size >= factor:
            value = size / factor
            shown = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
            return f"{shown}{unit}"
    return f"{size:.0f}"


def memory_gb(size: float) -> str:
    return f"{size / 2**30:.2f}".rstrip("0").rstrip(".")


def cpu_text(cores: float) -> str:
    return f"{cores:.0f}" if cores == int(cores) else f"{cores * 1000:.0f}m"


# ---------------------------------------------------------------------- container resources
@dataclass(frozen=True)
class Resources:
    pod: str
    container: str
    requests: dict = field(default_factory=dict)  # resource name -> number
    limits: dict = field(default_factory=dict)
    locator: str = ""


def _numbers(section: dict) -> dict:
    out = {}
    for name, value in (section or {}).items():
        number = quantity(value)
        if number is not None:
            out[name] = number
    return out


def container_resources(ev: Evidence) -> list[Resources]:
    """Requests and limits of the service's containers, from pods.json or pasted describe text."""
    out = []
    for pod in kube.service_pods(ev):
        name = (pod.get("metadata") or {}).get("name", "")
        for i, c in enumerate((pod.get("spec") or {}).get("containers") or []):
            res = c.get("resources") or {}
            out.append(
                Resources(name, c.get("name", ""), _numbers(res.get("requests")), _numbers(res.get("limits")),
                          ev.object_locator("pods", pod, f"spec.containers[{i}].resources"))
            )
    if not ev.has("pods"):
        for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
            out.extend(_describe_resources(doc))
    return out


def pod_requests(ev: Evidence) -> dict[str, tuple[dict, str]]:
    """Per pod: the sum of its containers' requests (a limit stands in for a missing request,
    as the API server defaults it), and a locator."""
    out: dict[str, tuple[dict, str]] = {}
    for r in container_resources(ev):
        total, locator = out.get(r.pod, ({}, r.locator))
        for name in set(r.requests) | set(r.limits):
            total[name] = total.get(name, 0.0) + r.requests.get(name, r.limits.get(name, 0.0))
        out[r.pod] = (total, locator)
    return out


_CONTAINER_HEADER = re.compile(r"^  (\S[^:]*):\s*$")
_RESOURCE_LINE = re.compile(r"^\s{6,}([\w./-]+):\s+(\S+)\s*$")


def _describe_resources(doc: TextDoc) -> list[Resources]:
    """The Limits/Requests blocks of ``kubectl describe pod`` text, per container."""
    found: list[Resources] = []
    pod, container, block, line_no = "", "", "", 0
    limits: dict = {}
    requests: dict = {}

    def flush():
        if container and (limits or requests):
            found.append(Resources(pod, container, dict(requests), dict(limits), doc.locator(line_no)))

    for n, line in doc.lines():
        if line.startswith("Name:") and not pod:
            pod = line.split(":", 1)[1].strip()
        elif line and not line.startswith(" "):
            flush()
            container, block, limits, requests = "", "", {}, {}
        elif _CONTAINER_HEADER.match(line):
            flush()
            container, block, limits, requests, line_no = _CONTAINER_HEADER.match(line).group(1), "", {}, {}, n
        elif container and line.strip() in ("Limits:", "Requests:"):
            block = line.strip()[:-1]
        elif container and block and _RESOURCE_LINE.match(line):
            key, value = _RESOURCE_LINE.match(line).groups()
            number = quantity(value)
            if number is not None:
                (limits if block == "Limits" else requests)[key] = number
        elif container and block:
            block = ""
    flush()
    return found


def node_allocatable(ev: Evidence) -> list[tuple[str, dict, str]]:
    """(node, allocatable resources as numbers, locator) for every node in nodes.json."""
    return [
        (
            (node.get("metadata") or {}).get("name", "?"),
            _numbers((node.get("status") or {}).get("allocatable") or {}),
            ev.object_locator("nodes", node, "status.allocatable"),
        )
        for node in ev.objects("nodes")
    ]


# ---------------------------------------------------------------------- managed-endpoint events
# "Kind: Pod, Name: DownloadFailed, Type: Warning, Time: 2025-10-16T11:51:39.965418Z, Message: ..."
_MOE_EVENT = re.compile(r"^\s*Kind: (\w+), Name: (\w+), Type: (\w+), Time: (\S+), Message: (.*)$", re.MULTILINE)


def endpoint_events(ev: Evidence) -> list[kube.Event]:
    """The "Container events:" lines a v2 deployment's get-logs prints (reason in the Name field)."""
    out = []
    for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION, TextKind.AZUREML_LOGS):
        for hit in doc.search(_MOE_EVENT):
            kind, reason, type_, time, message = hit.match.groups()
            out.append(kube.Event(reason, message.strip(), type_, kind, "", 1, time, hit.locator))
    return out


def service_events(ev: Evidence) -> list[kube.Event]:
    return kube.events_for_service(ev) + endpoint_events(ev)


def later(events: list[kube.Event], first: kube.Event, reason: str) -> bool:
    """Whether an event with ``reason`` about the same object comes after ``first`` in the evidence."""
    try:
        start = events.index(first)
    except ValueError:
        return False
    return any(e.reason == reason and (not e.name or not first.name or e.name == first.name) for e in events[start + 1:])


# ---------------------------------------------------------------------- scheduling
@dataclass(frozen=True)
class SchedulingFailure:
    pod: str
    message: str  # "0/3 nodes are available: 3 Insufficient cpu."
    locator: str


def scheduling_failures(ev: Evidence) -> list[SchedulingFailure]:
    """The scheduler's current complaints about the service's pods: FailedScheduling events not
    followed by a Scheduled event, and pods whose PodScheduled condition is False. Empty when
    the pods are placed and run (an old FailedScheduling is history then)."""
    pods = kube.service_pods(ev)
    if kube.service_healthy(ev) or (pods and all((p.get("spec") or {}).get("nodeName") for p in pods)):
        return []
    out = []
    for pod in pods:
        for i, cond in enumerate((pod.get("status") or {}).get("conditions") or []):
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
                name = (pod.get("metadata") or {}).get("name", "")
                out.append(SchedulingFailure(name, cond["message"], ev.object_locator("pods", pod, f"status.conditions[{i}]")))
    events = kube.events_for_service(ev)
    for e in events:
        seen = any(f.message == e.message and f.pod == e.name for f in out)
        if e.reason == "FailedScheduling" and not seen and not later(events, e, "Scheduled"):
            out.append(SchedulingFailure(e.name, e.message, e.locator))
    return out
