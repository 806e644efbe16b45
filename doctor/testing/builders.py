"""Build realistic evidence without hand-writing 80 lines of JSON.

The objects have the shape ``kubectl get -o json`` prints for a v1 AzureML web service: namespace
``azureml-<workspace>``, pods labelled ``azuremlappname``, a scoring container with the
``InitContainerConfig`` env var and an ``azureml/azureml_<hash>`` image, the ``staging`` volume.

    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1", exit_code=3))
    b.add("events", failed_mount_event("scorer-5d8f7b9c5d-x7k2p", "azureml-ws1", "errno=403"))
    b.log("scorer-5d8f7b9c5d-x7k2p", "scorer", "...", previous=True)
    path = b.write(tmp_path / "bundle")
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from aml_doctor.evidence.store import FORMAT_VERSION

_T0 = "2026-11-20T09:14:02Z"


def _uid(*parts: str) -> str:
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _hash(*parts: str, n: int = 10) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


# Kubernetes names generated suffixes from this alphabet (no vowels, no confusable digits).
_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _k8s_suffix(*parts: str, n: int) -> str:
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return "".join(_K8S_ALPHABET[b % len(_K8S_ALPHABET)] for b in digest[:n])


def image_for(service: str, acr: str = "amlws1acr3f9c2") -> str:
    return f"{acr}.azurecr.io/azureml/azureml_{hashlib.md5(service.encode()).hexdigest()}"


def pod_name(service: str) -> str:
    return f"{service}-{_k8s_suffix(service, 'rs', n=10)}-{_k8s_suffix(service, 'pod', n=5)}"


def _container_status(name: str, image: str, *, ready: bool, restarts: int, state: dict, last: dict | None) -> dict:
    return {
        "containerID": f"containerd://{_hash(name, image, str(restarts), n=64)}" if "running" in state or last else None,
        "image": image,
        "imageID": f"{image}@sha256:{_hash(image, n=64)}" if "running" in state or last else "",
        "lastState": {"terminated": last} if last else {},
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "started": "running" in state,
        "state": state,
    }


def pod(
    service: str,
    namespace: str,
    *,
    name: str | None = None,
    container: str | None = None,
    image: str | None = None,
    phase: str = "Running",
    ready: bool = True,
    restarts: int = 0,
    waiting: dict | None = None,
    last_terminated: dict | None = None,
    memory_limit: str = "512Mi",
    port: int = 5001,
) -> dict:
    """A v1 scoring pod. ``waiting={"reason": "CrashLoopBackOff", "message": ...}`` makes it wait."""
    # Longer than the project's ~60 lines on purpose: one object literal, laid out as
    # `kubectl get pod -o json` prints it, so that a rule author reads the pod the rule will see.
    name = name or pod_name(service)
    container = container or service
    image = image or image_for(service)
    rs = name.rsplit("-", 1)[0]
    state = {"waiting": waiting} if waiting else {"running": {"startedAt": "2026-11-20T09:16:40Z"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "creationTimestamp": _T0,
            "generateName": rs + "-",
            "labels": {"azuremlappname": service, "pod-template-hash": rs.rsplit("-", 1)[-1]},
            "name": name,
            "namespace": namespace,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "ReplicaSet", "name": rs, "uid": _uid(rs)}
            ],
            "resourceVersion": str(int(_hash(name, n=6), 16)),
            "uid": _uid(name),
        },
        "spec": {
            "containers": [
                {
                    "env": [
                        {"name": "InitContainerConfig", "value": f"{service}{_hash(service, 'cfg', n=6)}-config"},
                        {"name": "AML_APP_ROOT", "value": "/var/azureml-app"},
                        {"name": "AZUREML_ENTRY_SCRIPT", "value": "score.py"},
                    ],
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "livenessProbe": {
                        "failureThreshold": 3,
                        "httpGet": {"path": "/", "port": port, "scheme": "HTTP"},
                        "initialDelaySeconds": 310,
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "timeoutSeconds": 2,
                    },
                    "name": container,
                    "ports": [{"containerPort": port, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "100m", "memory": memory_limit}, "requests": {"cpu": "100m", "memory": memory_limit}},
                    "volumeMounts": [{"mountPath": "/var/azureml-app", "name": "staging", "readOnly": True}],
                }
            ],
            "nodeName": "aks-agentpool-31415926-vmss000000",
            "restartPolicy": "Always",
            "volumes": [{"name": "staging", "persistentVolumeClaim": {"claimName": f"{service}{_hash(service, 'cfg', n=6)}-pvc", "readOnly": True}}],
        },
        "status": {
            "conditions": [
                {"lastTransitionTime": _T0, "status": "True", "type": "PodScheduled"},
                {"lastTransitionTime": _T0, "status": "True" if ready else "False", "type": "Ready"},
            ],
            "containerStatuses": [
                _container_status(container, image, ready=ready, restarts=restarts, state=state, last=last_terminated)
            ],
            "hostIP": "10.240.0.4",
            "phase": phase,
            "podIP": "10.244.1.17",
            "qosClass": "Guaranteed",
            "startTime": _T0,
        },
    }


def crashloop_pod(service: str, namespace: str, *, exit_code: int = 3, reason: str = "Error", restarts: int = 6, **kw) -> dict:
    """A scoring pod in CrashLoopBackOff whose last instance ended with ``exit_code``/``reason``."""
    name = kw.get("name") or pod_name(service)
    container = kw.get("container") or service
    return pod(
        service,
        namespace,
        phase="Running",
        ready=False,
        restarts=restarts,
        waiting={"message": f"back-off 5m0s restarting failed container={container} pod={name}_{namespace}({_uid(name)})", "reason": "CrashLoopBackOff"},
        last_terminated={
            "containerID": f"containerd://{_hash(name, 'last', n=64)}",
            "exitCode": exit_code,
            "finishedAt": "2026-11-20T09:41:12Z",
            "reason": reason,
            "startedAt": "2026-11-20T09:41:05Z",
        },
        **kw,
    )


def event(
    namespace: str,
    kind: str,
    name: str,
    reason: str,
    message: str,
    *,
    type: str = "Warning",
    count: int = 1,
    component: str = "kubelet",
    last: str = "2026-11-20T09:20:11Z",
) -> dict:
    return {
        "apiVersion": "v1",
        "count": count,
        "firstTimestamp": _T0,
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": name, "namespace": namespace, "uid": _uid(name)},
        "kind": "Event",
        "lastTimestamp": last,
        "message": message,
        "metadata": {
            "creationTimestamp": _T0,
            "name": f"{name}.{_hash(name, reason, message, n=16)}",
            "namespace": namespace,
            "resourceVersion": str(int(_hash(name, reason, n=6), 16)),
            "uid": _uid(name, reason, message),
        },
        "reason": reason,
        "reportingComponent": "" if component == "kubelet" else component,
        "reportingInstance": "",
        "source": {"component": component, "host": "aks-agentpool-31415926-vmss000000"} if component == "kubelet" else {"component": component},
        "type": type,
    }


def failed_mount_event(pod_name_: str, namespace: str, blobfuse_error: str, *, pv: str = "", count: int = 7) -> dict:
    """A kubelet FailedMount event with the blobfuse FlexVolume driver's failure text."""
    pv = pv or f"{pod_name_.rsplit('-', 2)[0]}{_hash(pod_name_, n=6)}-pvc"
    message = (
        f'MountVolume.SetUp failed for volume "{pv}" : mount command failed, status: Failure, reason: '
        f"Failed to mount device /dev/ at /var/lib/kubelet/pods/{_uid(pod_name_)}/volumes/azure~blobfuse/{pv}, "
        f"accountname:amlws1storage4d21, error log:{blobfuse_error}"
    )
    return event(namespace, "Pod", pod_name_, "FailedMount", message, count=count)


def init_container_config(service: str, namespace: str, *, models: dict[str, list[str]], code: list[str], key: str = "config.json") -> dict:
    """The ConfigMap named by InitContainerConfig; ``models`` maps "name:version" to blob paths."""
    data = {
        "Models": [
            {
                model: [
                    {"Path": p, "Content": None, "ContainerPath": f"./azureml-models/{model.replace(':', '/')}/{p.rsplit('/', 1)[-1]}", "UnpackType": 0}
                    for p in paths
                ]
            }
            for model, paths in models.items()
        ],
        "Dependency": [
            {"Path": p, "Content": None, "ContainerPath": "/main.py" if p.endswith(".py") else "/", "UnpackType": 0 if p.endswith(".py") else 1}
            for p in code
        ],
        "MountPath": "/var/azureml-app",
    }
    name = f"{service}{_hash(service, 'cfg', n=6)}-config"
    return {
        "apiVersion": "v1",
        "data": {key: json.dumps(data, indent=4)},
        "kind": "ConfigMap",
        "metadata": {"creationTimestamp": _T0, "name": name, "namespace": namespace, "resourceVersion": "48213", "uid": _uid(name)},
    }


FACTORIES = ("pod", "crashloop_pod", "event", "failed_mount_event", "init_container_config")


def _from_factory(item: dict) -> dict:
    if "factory" not in item:
        return item
    name = item["factory"]
    if name not in FACTORIES:
        raise ValueError(f"unknown factory {name!r} (known: {', '.join(FACTORIES)})")
    args = dict(item.get("args") or {})
    positional = [args.pop(k) for k in ("service", "namespace") if name in ("pod", "crashloop_pod", "init_container_config") and k in args]
    if name == "event":
        positional = [args.pop(k) for k in ("namespace", "kind", "name", "reason", "message")]
    if name == "failed_mount_event":
        positional = [args.pop(k) for k in ("pod", "namespace", "error")]
    return globals()[name](*positional, **args)


class BundleBuilder:
    """Assemble a bundle in memory and write it as a directory."""

    def __init__(self, service: str = "", workspace: str = "", namespace: str = ""):
        self.service = service
        self.workspace = workspace
        self.namespace = namespace or (f"azureml-{workspace}" if workspace else "")
        self.objects: dict[str, list[dict]] = {}
        self.files: dict[str, str] = {}
        self.not_collected: list[dict] = []

    def add(self, resource: str, *objects: dict) -> "BundleBuilder":
        self.objects.setdefault(resource, []).extend(objects)
        return self

    def log(self, pod: str, container: str, text: str, *, previous: bool = False) -> "BundleBuilder":
        self.files[f"logs/{pod}/{container}{'.previous' if previous else ''}.log"] = text
        return self

    def text(self, name: str, text: str) -> "BundleBuilder":
        self.files[f"text/{name}"] = text
        return self

    def file(self, path: str, content: Any) -> "BundleBuilder":
        self.files[path] = content if isinstance(content, str) else json.dumps(content, indent=2)
        return self

    def gap(self, what: str, error: str) -> "BundleBuilder":
        self.not_collected.append({"what": what, "error": error})
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "BundleBuilder":
        """The inline ``evidence:`` of a YAML case: service, workspace, namespace, kubernetes, logs,
        text, files (path -> text or JSON), not_collected. A Kubernetes item may name a factory
        of this module instead of spelling the object out::

            kubernetes:
              pods:
                - factory: crashloop_pod
                  args: {service: scorer, namespace: azureml-ws1, exit_code: 137, reason: OOMKilled}
        """
        b = cls(data.get("service", ""), data.get("workspace", ""), data.get("namespace", ""))
        for resource, items in (data.get("kubernetes") or {}).items():
            b.add(resource, *(_from_factory(item) for item in items))
        for path, text in (data.get("logs") or {}).items():
            b.files[f"logs/{path}"] = text
        for name, text in (data.get("text") or {}).items():
            b.text(name, text)
        for path, content in (data.get("files") or {}).items():
            b.file(path, content)
        for gap in data.get("not_collected") or []:
            b.gap(gap["what"], gap.get("error", ""))
        return b

    def write(self, target: str | os.PathLike) -> str:
        target = str(target)
        files = dict(self.files)
        for resource, items in self.objects.items():
            files[f"kubernetes/{resource}.json"] = json.dumps(
                {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}, indent=2
            )
        files["manifest.json"] = json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "service": self.service,
                "namespace": self.namespace,
                "workspace": self.workspace,
                "collected_at": "2026-11-20T09:45:00Z",
                "collector": {"name": "aml-doctor.testing", "version": "1"},
                "collected": sorted(self.objects),
                "not_collected": self.not_collected,
            },
            indent=2,
        )
        for path, content in files.items():
            full = os.path.join(target, *path.split("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(content)
        return target
