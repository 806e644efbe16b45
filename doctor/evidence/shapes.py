"""The expected shape of every bundle file, checked once at load so that no rule sees a wrong type.

A shape names the fields aml-doctor reads, with their JSON types, after the Kubernetes API
reference (https://kubernetes.io/docs/reference/kubernetes-api/) and the AzureML service JSON
that ``Webservice.serialize()`` gives. Fields not named are passed through unchecked: no rule
reads them. A ``null`` where an object or a value is expected is dropped, as if the field were
absent, which is what the API server's own ``omitempty`` does. Anything else of the wrong type
makes the whole file "malformed", with the first bad field named, and the rules that need it are
"not checked" instead of crashing on it or passing without it.

Nesting deeper than :data:`MAX_DEPTH` is refused too: no real object comes near it, and every
later walk (redaction, freezing, rules) may then recurse safely.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 100


class Malformed(ValueError):
    """A file whose content does not have its expected shape; the message names the field."""


STR, INT, BOOL, NUM = "str", "int", "bool", "num"
# A Kubernetes quantity ("512Mi", "1") or IntOrString (a port by number or by name).
QUANTITY = "quantity"
_LABELS = {"str": str, "int": int, "bool": bool, "num": float, "quantity": str}


def _list(item: Any) -> tuple:
    return ("list", item)


def _map(value: Any) -> tuple:
    return ("map", value)


_META = {
    "name": STR, "namespace": STR, "uid": STR, "creationTimestamp": STR, "resourceVersion": STR,
    "labels": _map(STR), "annotations": _map(STR), "generateName": STR,
    "ownerReferences": _list({"kind": STR, "name": STR, "uid": STR, "apiVersion": STR}),
}
_PROBE = {
    "httpGet": {"path": STR, "port": QUANTITY, "scheme": STR},
    "tcpSocket": {"port": QUANTITY},
    "initialDelaySeconds": INT, "periodSeconds": INT, "timeoutSeconds": INT,
    "failureThreshold": INT, "successThreshold": INT,
}
_RESOURCES = {"limits": _map(QUANTITY), "requests": _map(QUANTITY)}
_CONTAINER = {
    "name": STR, "image": STR, "command": _list(STR), "args": _list(STR),
    "env": _list({
        "name": STR, "value": STR,
        "valueFrom": {"configMapKeyRef": {"name": STR, "key": STR}, "secretKeyRef": {"name": STR, "key": STR}},
    }),
    "ports": _list({"containerPort": INT, "name": STR, "protocol": STR}),
    "resources": _RESOURCES, "livenessProbe": _PROBE, "readinessProbe": _PROBE, "startupProbe": _PROBE,
    "volumeMounts": _list({"name": STR, "mountPath": STR, "readOnly": BOOL}),
}
_VOLUME = {
    "name": STR,
    "persistentVolumeClaim": {"claimName": STR},
    "configMap": {"name": STR},
    "flexVolume": {"driver": STR, "options": _map(STR)},
    "csi": {"driver": STR, "volumeAttributes": _map(STR)},
}
_POD_SPEC = {
    "containers": _list(_CONTAINER), "initContainers": _list(_CONTAINER), "volumes": _list(_VOLUME),
    "nodeName": STR, "nodeSelector": _map(STR),
    "tolerations": _list({"key": STR, "operator": STR, "value": STR, "effect": STR}),
}
_STATE = {
    "waiting": {"reason": STR, "message": STR},
    "running": {"startedAt": STR},
    "terminated": {"reason": STR, "message": STR, "exitCode": INT, "signal": INT, "startedAt": STR, "finishedAt": STR},
}
_CONTAINER_STATUS = {
    "name": STR, "ready": BOOL, "started": BOOL, "restartCount": INT, "image": STR, "imageID": STR,
    "containerID": STR, "state": _STATE, "lastState": _STATE,
}
_CONDITION = {"type": STR, "status": STR, "reason": STR, "message": STR, "lastTransitionTime": STR}
_POD = {
    "metadata": _META,
    "spec": _POD_SPEC,
    "status": {
        "phase": STR, "reason": STR, "message": STR, "hostIP": STR, "podIP": STR, "startTime": STR,
        "conditions": _list(_CONDITION),
        "containerStatuses": _list(_CONTAINER_STATUS), "initContainerStatuses": _list(_CONTAINER_STATUS),
    },
}
_EVENT = {
    "metadata": _META, "reason": STR, "message": STR, "type": STR, "count": INT,
    "firstTimestamp": STR, "lastTimestamp": STR, "eventTime": STR, "note": STR,
    "involvedObject": {"kind": STR, "name": STR, "namespace": STR, "uid": STR, "fieldPath": STR},
    "regarding": {"kind": STR, "name": STR, "namespace": STR, "uid": STR, "fieldPath": STR},
    "source": {"component": STR, "host": STR},
    "series": {"count": INT, "lastObservedTime": STR},
}
_WORKLOAD = {
    "metadata": _META,
    "spec": {"replicas": INT, "selector": {"matchLabels": _map(STR)}, "template": {"metadata": _META, "spec": _POD_SPEC}},
    "status": {"replicas": INT, "readyReplicas": INT, "availableReplicas": INT, "unavailableReplicas": INT,
               "conditions": _list(_CONDITION)},
}
_NODE = {
    "metadata": _META,
    "spec": {"taints": _list({"key": STR, "value": STR, "effect": STR}), "unschedulable": BOOL},
    "status": {"allocatable": _map(QUANTITY), "capacity": _map(QUANTITY), "conditions": _list(_CONDITION),
               "nodeInfo": _map(STR)},
}
_PORT = {"port": INT, "targetPort": QUANTITY, "name": STR, "protocol": STR, "nodePort": INT}
KUBERNETES = {
    "pods": _POD,
    "frontend-pods": _POD,
    "events": _EVENT,
    "deployments": _WORKLOAD,
    "replicasets": _WORKLOAD,
    "configmaps": {"metadata": _META, "data": _map(STR)},
    "services": {"metadata": _META, "spec": {"ports": _list(_PORT), "selector": _map(STR), "type": STR, "clusterIP": STR}},
    "endpoints": {"metadata": _META, "subsets": _list({
        "addresses": _list({"ip": STR}), "notReadyAddresses": _list({"ip": STR}),
        "ports": _list({"port": INT, "name": STR, "protocol": STR})})},
    "persistentvolumeclaims": {"metadata": _META, "spec": {"volumeName": STR, "storageClassName": STR},
                               "status": {"phase": STR}},
    "persistentvolumes": {"metadata": _META, "spec": {
        "csi": {"driver": STR, "volumeAttributes": _map(STR)},
        "flexVolume": {"driver": STR, "options": _map(STR)}, "storageClassName": STR}, "status": {"phase": STR}},
    "nodes": _NODE,
}
SERVICE_JSON = {
    "name": STR, "state": STR, "computeType": STR, "scoringUri": STR, "imageId": STR,
    "updatedAt": STR, "createdTime": STR,
    "error": {"code": STR, "message": STR, "statusCode": INT,
              "details": _list({"code": STR, "message": STR})},
    "imageDetails": {"imageLocation": STR},
    "containerResourceRequirements": {"cpu": NUM, "memoryInGB": NUM, "gpu": INT},
}
STORAGE_INDEX = _map({"exists": BOOL, "size": INT, "last_modified": STR})
MANIFEST = {
    "format_version": INT, "service": STR, "namespace": STR, "workspace": STR, "collected_at": STR,
    "collected": _list(STR),
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == QUANTITY:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    raise AssertionError(kind)


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_EXPECTED = {STR: "a string", INT: "an integer", BOOL: "a boolean", NUM: "a number", QUANTITY: "a string or number"}


def conform(value: Any, shape: Any, where: str) -> Any:
    """``value`` checked against ``shape``, with nulls in objects dropped; raises :class:`Malformed`."""
    if isinstance(shape, str):
        if not _type_ok(shape, value):
            raise Malformed(f"{where} is {describe(value)}, expected {_EXPECTED[shape]}")
        return value
    if isinstance(shape, tuple):
        kind, inner = shape
        if kind == "list":
            if not isinstance(value, list):
                raise Malformed(f"{where} is {describe(value)}, expected a list")
            return [conform(v, inner, f"{where}[{i}]") for i, v in enumerate(value) if v is not None]
        if not isinstance(value, dict):
            raise Malformed(f"{where} is {describe(value)}, expected an object")
        return {k: conform(v, inner, f"{where}.{k}") for k, v in value.items() if v is not None}
    if not isinstance(value, dict):
        raise Malformed(f"{where} is {describe(value)}, expected an object")
    out = {}
    for key, item in value.items():
        if item is None:
            continue
        sub = shape.get(key)
        out[key] = item if sub is None else conform(item, sub, f"{where}.{key}")
    return out


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests at most ``limit`` deep; iterative, so any depth is safe to ask."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return True


def kubernetes_items(resource: str, items: list) -> list[dict]:
    shape = KUBERNETES.get(resource)
    if shape is None:
        return items
    return [conform(item, shape, f"items[{i}]") for i, item in enumerate(items)]
