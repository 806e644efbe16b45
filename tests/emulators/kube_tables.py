"""Server-side printing for the API-server emulator: the ``meta.k8s.io/v1`` ``Table`` kubectl asks for.

``kubectl get`` without ``-o`` sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`` and
prints the columns the server chose; a server that answers with a plain list makes it print NAME and
AGE only. The real columns and cells come from the API server's printers,
https://github.com/kubernetes/kubernetes/blob/master/pkg/printers/internalversion/printers.go (for
custom resources without printer columns, Name and Age), and ages from
https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go.
The server fills every cell, the wide ones too (priority 1); kubectl shows those with ``-o wide``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

Row = list[Any]


def _col(name: str, kind: str = "string", *, wide: bool = False, fmt: str = "", description: str = "") -> dict:
    return {"name": name, "type": kind, "format": fmt, "description": description or name, "priority": 1 if wide else 0}


NAME = _col("Name", fmt="name", description="Name must be unique within a namespace.")
AGE = _col("Age", description="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _seconds_since(stamp: str | None, now: float) -> float | None:
    if not stamp:
        return None
    try:
        return now - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """What ``duration.HumanDuration`` prints: 45s, 3m20s, 5h12m, 3d4h, 200d, 2y335d, 9y."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(stamp: str | None, now: float) -> str:
    seconds = _seconds_since(stamp, now)
    return "<unknown>" if seconds is None else human_duration(seconds)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _age(obj: dict, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _selector_string(selector: dict | None) -> str:
    """A LabelSelector as kubectl writes it: ``a=b,c in (d,e)``; ``<none>`` when it selects everything."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, f"{key} {op} ({values})"))
    return ",".join(parts) or "<none>"


def _template_containers(obj: dict) -> tuple[str, str]:
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


# ----------------------------------------------------------------------------- per resource
def _pod(pod: dict, now: float) -> Row:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}  # restartable init containers
    total, ready, restarts = len(spec.get("containers") or []) + len(sidecars), 0, 0
    last_restart: float | None = None
    sidecar_restarts, sidecar_last = 0, None
    reason = status.get("reason") or status.get("phase") or ""
    conditions = status.get("conditions") or []
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    def finished(cs: dict) -> float | None:
        return _seconds_since(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"), now)

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += int(cs.get("restartCount") or 0)
        ago = finished(cs)
        if ago is not None and (last_restart is None or ago < last_restart):
            last_restart = ago
        if cs.get("name") in sidecars:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            if ago is not None and (sidecar_last is None or ago < sidecar_last):
                sidecar_last = ago
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if cs.get("name") in sidecars and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            ago = finished(cs)
            if ago is not None and (last_restart is None or ago < last_restart):
                last_restart = ago
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = f"Signal:{terminated['signal']}" if terminated.get("signal") else f"ExitCode:{terminated.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_condition = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if ready_condition else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(last_restart)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        true_conditions = {c.get("type") for c in conditions if c.get("status") == "True"}
        gates_cell = f"{sum(1 for g in gates if g.get('conditionType') in true_conditions)}/{len(gates)}"
    return [_meta(pod).get("name", ""), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
            (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_cell]


def _deployment(obj: dict, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers, images = _template_containers(obj)
    desired = spec.get("replicas", 1)
    return [_meta(obj).get("name", ""), f"{status.get('readyReplicas', 0)}/{desired}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), _age(obj, now), containers, images, _selector_string(spec.get("selector"))]


def _replicaset(obj: dict, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers, images = _template_containers(obj)
    return [_meta(obj).get("name", ""), spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0),
            _age(obj, now), containers, images, _selector_string(spec.get("selector"))]


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def _access_modes(modes: list[str] | None) -> str:
    return ",".join(short for mode, short in _ACCESS_MODES if mode in (modes or []))


def _storage_class(obj: dict) -> str:
    beta = (_meta(obj).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return beta or (obj.get("spec") or {}).get("storageClassName") or ""


def _persistentvolume(obj: dict, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef")
    return [_meta(obj).get("name", ""), (spec.get("capacity") or {}).get("storage", ""), _access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), status.get("phase", ""),
            f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "", _storage_class(obj),
            spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""), _age(obj, now),
            spec.get("volumeMode") or "<unset>"]


def _persistentvolumeclaim(obj: dict, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    bound = bool(spec.get("volumeName"))
    return [_meta(obj).get("name", ""), status.get("phase", ""), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", "") if bound else "",
            _access_modes(status.get("accessModes")) if bound else "", _storage_class(obj),
            spec.get("volumeAttributesClassName") or "<unset>", _age(obj, now), spec.get("volumeMode") or "<unset>"]


def _service(obj: dict, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        external = [i for i in ingress if i] + external
        external_cell = ",".join(external) if external else "<pending>"
    elif kind == "ExternalName":
        external_cell = spec.get("externalName", "")
    else:
        external_cell = ",".join(external) if external else "<none>"
    ports = []
    for p in spec.get("ports") or []:
        port = f"{p.get('port')}:{p['nodePort']}" if p.get("nodePort") else str(p.get("port"))
        ports.append(f"{port}/{p.get('protocol') or 'TCP'}")
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [_meta(obj).get("name", ""), kind, spec.get("clusterIP") or "<none>", external_cell, ",".join(ports) or "<none>",
            _age(obj, now), selector]


def _endpoints(obj: dict, now: float) -> Row:
    shown: list[str] = []
    count = 0
    for subset in obj.get("subsets") or []:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or [None]
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) < 3:
                    shown.append(ip if port is None else (f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}"))
    cell = ",".join(shown) if shown else "<none>"
    if count > 3:
        cell += f" + {count - 3} more..."
    return [_meta(obj).get("name", ""), cell, _age(obj, now)]


def _event_source(obj: dict) -> str:
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def _event(obj: dict, now: float) -> Row:
    first = since(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 1
    if obj.get("series"):
        last = since(obj["series"].get("lastObservedTime"), now)
        count = obj["series"].get("count") or count
    involved = obj.get("involvedObject") or {}
    target = (involved.get("kind") or "").lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    return [last, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), _event_source(obj),
            obj.get("message", ""), first, count, _meta(obj).get("name", "")]


def _event_sort_key(obj: dict) -> str:
    """Events are listed oldest first by last timestamp (``events.SortableEvents``)."""
    return obj.get("lastTimestamp") or obj.get("firstTimestamp") or obj.get("eventTime") or ""


def _node(obj: dict, now: float) -> Row:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(ready or "", "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = meta.get("labels") or {}
    roles = sorted({k[len("node-role.kubernetes.io/"):] for k in labels if k.startswith("node-role.kubernetes.io/")}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), "") or "<none>"

    return [meta.get("name", ""), state, ",".join(r for r in roles if r) or "<none>", _age(obj, now), info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


def _namespace(obj: dict, now: float) -> Row:
    return [_meta(obj).get("name", ""), (obj.get("status") or {}).get("phase", ""), _age(obj, now)]


def _configmap(obj: dict, now: float) -> Row:
    return [_meta(obj).get("name", ""), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj, now)]


def _secret(obj: dict, now: float) -> Row:
    return [_meta(obj).get("name", ""), obj.get("type", ""), len(obj.get("data") or {}), _age(obj, now)]


def _networkpolicy(obj: dict, now: float) -> Row:
    return [_meta(obj).get("name", ""), _selector_string((obj.get("spec") or {}).get("podSelector")), _age(obj, now)]


def _name_age(obj: dict, now: float) -> Row:
    return [_meta(obj).get("name", ""), _age(obj, now)]


_CONTAINERS = _col("Containers", wide=True, description="Names of each container in the template.")
_IMAGES = _col("Images", wide=True, description="Images referenced by each container in the template.")
_SELECTOR = _col("Selector", wide=True, description="Label selector for pods.")

PRINTERS: dict[str, tuple[list[dict], Callable[[dict, float], Row]]] = {
    "pods": ([NAME, _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
              _col("Status", description="The aggregate status of the containers in this pod."),
              _col("Restarts", description="The number of times the containers in this pod have been restarted."),
              AGE, _col("IP", wide=True), _col("Node", wide=True), _col("Nominated Node", wide=True),
              _col("Readiness Gates", wide=True)], _pod),
    "deployments": ([NAME, _col("Ready"), _col("Up-to-date"), _col("Available"), AGE, _CONTAINERS, _IMAGES, _SELECTOR], _deployment),
    "replicasets": ([NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE,
                     _CONTAINERS, _IMAGES, _SELECTOR], _replicaset),
    "persistentvolumes": ([NAME, _col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"), _col("Status"), _col("Claim"),
                           _col("StorageClass"), _col("VolumeAttributesClass"), _col("Reason"), AGE,
                           _col("VolumeMode", wide=True)], _persistentvolume),
    "persistentvolumeclaims": ([NAME, _col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"), _col("StorageClass"),
                                _col("VolumeAttributesClass"), AGE, _col("VolumeMode", wide=True)], _persistentvolumeclaim),
    "services": ([NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE,
                  _col("Selector", wide=True)], _service),
    "endpoints": ([NAME, _col("Endpoints"), AGE], _endpoints),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", wide=True),
                _col("Source", wide=True), _col("Message"), _col("First Seen", wide=True), _col("Count", wide=True),
                _col("Name", wide=True, fmt="name")], _event),
    "nodes": ([NAME, _col("Status"), _col("Roles"), AGE, _col("Version"), _col("Internal-IP", wide=True),
               _col("External-IP", wide=True), _col("OS-Image", wide=True), _col("Kernel-Version", wide=True),
               _col("Container-Runtime", wide=True)], _node),
    "namespaces": ([NAME, _col("Status"), AGE], _namespace),
    "configmaps": ([NAME, _col("Data"), AGE], _configmap),
    "secrets": ([NAME, _col("Type"), _col("Data"), AGE], _secret),
    "networkpolicies": ([NAME, _col("Pod-Selector"), AGE], _networkpolicy),
}


def table(plural: str, objects: list[dict], *, kind: str, group_version: str, table_version: str = "v1",
          include_object: str = "Metadata", list_meta: dict | None = None, now: float | None = None) -> dict:
    """The Table for ``objects`` (one object for a GET by name, the items for a list).

    ``include_object`` is the request's ``includeObject``: ``Metadata`` (kubectl's default; each row
    carries a PartialObjectMetadata), ``Object`` (the whole object) or ``None``."""
    now = time.time() if now is None else now
    columns, printer = PRINTERS.get(plural, ([NAME, AGE], _name_age))
    if plural == "events":
        objects = sorted(objects, key=_event_sort_key)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if plural == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            phase = obj["status"]["phase"]
            row["conditions"] = [{"type": "Completed", "status": "True", "reason": phase,
                                  "message": "The pod has completed successfully." if phase == "Succeeded" else "The pod failed."}]
        if include_object == "Object":
            row["object"] = {"kind": kind, "apiVersion": group_version, **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}}
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{table_version}", "metadata": _meta(obj)}
        rows.append(row)
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_version}", "metadata": dict(list_meta or {}),
            "columnDefinitions": columns, "rows": rows}
