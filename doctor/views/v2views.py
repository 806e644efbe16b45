"""Views of v2 evidence that the v2 rules share: Kubernetes online deployments on the AzureML
extension (``Microsoft.AzureML.Kubernetes``) and managed online deployments.

Nothing here depends on a name that no public dump confirms. Confirmed, and used:

* the init container ``storageinitializer-modeldata`` and its ``STORAGE_*`` env
  (Azure/MachineLearningNotebooks#1900, a real ``kubectl get pod -o yaml``); it is recognised by
  its ``STORAGE_MANIFEST_URL`` env var or its ``storageinitializer`` name prefix;
* the ``InstanceType`` CR's ``spec.nodeSelector`` and ``spec.resources`` (same issue);
* the extension pods' labels in ``azureml`` (``kubectl get all -n azureml --show-labels``,
  VijayRod/demo): ``azuremlappname=azureml-fe, azuremlappversion=v2`` for the router,
  ``ml.azure.com/infra-app=identity-proxy`` and ``amlarc-identity-component=identity-proxy`` for
  the identity proxy;
* the ports: "azureml-fe-xxx PODs should be able to communicate with the deployed model PODs on
  5001 port", "the deployed model PODs should be able to communicate with amlarc-identity-proxy-xxx
  PODs on 9999 port" (learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall,
  "In-cluster communication requirements").

Not used, because no dump shows them: the main container's name, the identity sidecar's name, any
field of the ``onlineendpoints``/``onlinedeployments`` CRs, and the storage initializer's log
wording. Rules read states, resources, events and the storage index instead.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

from aml_doctor.views import kube, podfailures, targets
from aml_doctor.evidence.store import Evidence
from aml_doctor.evidence.textdoc import TextDoc, TextKind

EXTENSION_NAMESPACE = "azureml"
STORAGE_MANIFEST_ENV = "STORAGE_MANIFEST_URL"
FE_PORT = 5001  # azureml-fe -> model pods
IDENTITY_PROXY_PORT = 9999  # model pods -> amlarc-identity-proxy
REGISTRY_ASSET = re.compile(r"azureml://registries/([^/\s\"']+)/(models|environments)/([^/\s\"']+)(?:/versions/([^/\s\"']+))?", re.IGNORECASE)


# ---------------------------------------------------------------------- the platform
def platform(ev: Evidence) -> str:
    """``k8s_online_v2``, ``managed_online_v2``, or what the text shows (:func:`targets.guess`)."""
    def compute() -> str:
        raw = ev.manifest.raw or {}
        declared = raw.get("platform") if isinstance(raw, dict) else None
        if declared in (targets.K8S_V2, targets.MANAGED_V2):
            return declared
        if ev.objects("onlinedeployments") or any(storage_initializers(ev)):
            return targets.K8S_V2
        return targets.guess(ev)
    return ev.derived("v2_platform", compute)


def is_kubernetes_v2(ev: Evidence) -> bool:
    return platform(ev) == targets.K8S_V2


def is_managed_v2(ev: Evidence) -> bool:
    return platform(ev) == targets.MANAGED_V2


def names(ev: Evidence) -> tuple[str, str]:
    """(endpoint, deployment) from the manifest, else from azureml/service.json, else ("", "")."""
    raw = ev.manifest.raw if isinstance(ev.manifest.raw, dict) else {}
    service = ev.service_json or {}
    endpoint = str(raw.get("endpoint") or service.get("endpoint") or "")
    deployment = str(raw.get("deployment") or (service.get("name") if endpoint else "") or "")
    return endpoint, deployment


def deployment_state(ev: Evidence) -> dict:
    """azureml/service.json as the v2 collector writes it (azure-ai-ml's OnlineDeployment), or {}."""
    return dict(ev.service_json or {})


# ---------------------------------------------------------------------- quantities and times
def quantity(value) -> float | None:
    """A Kubernetes quantity ("100m", "1.5Gi", "2") as a number; None when it is not one."""
    return None if isinstance(value, bool) else podfailures.quantity(value)


def cpu_text(cores: float) -> str:
    return f"{cores:g}" if cores >= 1 and float(cores).is_integer() else f"{round(cores * 1000):d}m"


def memory_text(size: float) -> str:
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size:g}"


def size_text(size: float) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{int(size)} B"


def parse_time(text: str) -> _dt.datetime | None:
    if not text or not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def collected_at(ev: Evidence) -> _dt.datetime | None:
    return parse_time(ev.manifest.collected_at)


# ---------------------------------------------------------------------- the deployment's pods
def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def deployment_pods(ev: Evidence) -> list[dict]:
    """The deployment's pods: the service's pods as v1 finds them (``azuremlappname``, owner
    references up to the Deployment), else every pod in ``pods.json`` with a storage initializer."""
    pods = kube.service_pods(ev)
    if pods:
        return pods
    return [p for p in ev.objects("pods") if any(_is_storage_initializer(c) for c in (p.get("spec") or {}).get("initContainers") or [])]


def _is_storage_initializer(container: dict) -> bool:
    env = {e.get("name") for e in container.get("env") or []}
    return STORAGE_MANIFEST_ENV in env or str(container.get("name", "")).startswith("storageinitializer")


@dataclass(frozen=True)
class StorageInit:
    """One storage-initializer init container of one pod, and what its status says."""

    pod: dict
    spec: dict
    status: dict
    index: int  # position in spec.initContainers

    @property
    def pod_name(self) -> str:
        return _name(self.pod)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    def env(self, name: str) -> str:
        return next((str(e.get("value") or "") for e in self.spec.get("env") or [] if e.get("name") == name), "")

    @property
    def manifest_url(self) -> str:
        return self.env(STORAGE_MANIFEST_ENV)

    @property
    def manifest_key(self) -> str:
        """``<container>/<path>`` of the manifest blob, the storage index's key form."""
        return blob_key(self.manifest_url)

    @property
    def locator(self) -> str:
        return f"kubernetes/pods.json#{self.pod_name}/spec.initContainers[{self.index}]"

    @property
    def status_locator(self) -> str:
        statuses = (self.pod.get("status") or {}).get("initContainerStatuses") or []
        i = next((n for n, s in enumerate(statuses) if s.get("name") == self.name), 0)
        return f"kubernetes/pods.json#{self.pod_name}/status.initContainerStatuses[{i}]"

    @property
    def state(self) -> dict:
        return self.status.get("state") or {}

    @property
    def last_terminated(self) -> dict:
        return (self.status.get("lastState") or {}).get("terminated") or self.state.get("terminated") or {}

    @property
    def completed(self) -> bool:
        term = self.state.get("terminated") or {}
        return term.get("exitCode") == 0 or term.get("reason") == "Completed"

    @property
    def failing(self) -> bool:
        """Exited non-zero and not completed since: CrashLoopBackOff, or terminated with an error."""
        if self.completed:
            return False
        waiting = self.state.get("waiting") or {}
        term = self.state.get("terminated") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "RunContainerError", "CreateContainerError"):
            return True
        if term and term.get("exitCode") not in (None, 0):
            return True
        return bool(waiting) and int(self.status.get("restartCount") or 0) > 0 and bool(self.last_terminated)

    @property
    def oom_killed(self) -> bool:
        return self.last_terminated.get("reason") == "OOMKilled"

    @property
    def running_since(self) -> str:
        return str((self.state.get("running") or {}).get("startedAt") or "")

    def limits(self) -> dict:
        return dict((self.spec.get("resources") or {}).get("limits") or {})


def storage_initializers(ev: Evidence) -> Iterator[StorageInit]:
    for pod in ev.objects("pods"):
        spec = pod.get("spec") or {}
        statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("initContainerStatuses") or []}
        for i, container in enumerate(spec.get("initContainers") or []):
            if _is_storage_initializer(container):
                yield StorageInit(pod, container, statuses.get(container.get("name")) or {}, i)


def blob_key(url: str) -> str:
    """``https://<account>.blob.core.windows.net/<container>/<path>?<sas>`` -> ``<container>/<path>``."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.path.lstrip("/")


def storage_init_logs(ev: Evidence, init: StorageInit | None = None) -> list[TextDoc]:
    """The storage initializer's output: its container logs (current and previous) and azure-ai-ml's
    ``get_logs(container_type="storage-initializer")`` (azureml/init-logs.txt)."""
    docs = [d for d in ev.container_logs() if d.container.startswith("storageinitializer")
            and (init is None or d.pod == init.pod_name)]
    if is_kubernetes_v2(ev) or is_managed_v2(ev):
        docs += ev.docs(TextKind.AZUREML_INIT_LOGS)
    return docs


def listed_blobs(ev: Evidence, manifest_key: str) -> list[tuple[str, dict]]:
    """(key, index entry) of every blob the storage index says the manifest lists."""
    out = []
    for key, entry in (ev.storage_index or {}).items():
        if isinstance(entry, dict) and entry.get("listed_by") == manifest_key:
            out.append((key, dict(entry)))
    return sorted(out)


# ---------------------------------------------------------------------- the extension
def extension_pods(ev: Evidence) -> list[dict]:
    """Pods of the ``azureml`` namespace: extension-pods.json, and the azureml-fe pods of frontend-pods.json."""
    seen: set[str] = set()
    out = []
    for resource in ("extension-pods", "frontend-pods"):
        for pod in ev.objects(resource):
            meta = pod.get("metadata") or {}
            if meta.get("namespace", EXTENSION_NAMESPACE) != EXTENSION_NAMESPACE:
                continue
            key = meta.get("uid") or meta.get("name")
            if key not in seen:
                seen.add(key)
                out.append(pod)
    return out


def is_router_v2(pod: dict) -> bool:
    labels = _labels(pod)
    return (labels.get("azuremlappname") == "azureml-fe" and labels.get("azuremlappversion") == "v2") or _name(pod).startswith("azureml-fe-v2-")


def is_identity_proxy(pod: dict) -> bool:
    labels = _labels(pod)
    return (labels.get("ml.azure.com/infra-app") == "identity-proxy" or labels.get("amlarc-identity-component") == "identity-proxy"
            or _name(pod).startswith("amlarc-identity-proxy-"))


def pod_not_serving(pod: dict) -> str:
    """Why an extension pod is not serving ("Pending: 0/2 nodes are available...", "CrashLoopBackOff
    (envoy)", "3/4 ready"), or "" when it runs with every container ready."""
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    if phase == "Pending" and not status.get("containerStatuses"):
        cond = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)
        return f"Pending: {cond.get('message') or cond.get('reason')}" if cond else "Pending"
    if phase in ("Succeeded",):
        return ""
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"{waiting['reason']} ({cs.get('name')})"
    if phase and phase != "Running":
        return phase
    ready = sum(1 for cs in statuses if cs.get("ready"))
    if statuses and ready < len(statuses):
        return f"{ready}/{len(statuses)} ready"
    return ""


def extension_deployment(ev: Evidence, name: str) -> dict | None:
    return next((d for d in ev.objects("extension-deployments") if _name(d) == name), None)


HEALTH_LINE = re.compile(r"Status:\s*Failed\s+Name:\s*(\S+)\s+ErrorCode:\s*(E4\d{4})\s+ErrorMessage:\s*(.*)")


def health_failures(ev: Evidence) -> list[tuple[str, str, str, str, str]]:
    """(checker, code, message, severity, locator) of each failed line of the extension's health
    check. "For error codes lower than E45000, this is a critical error… larger than E45000, this
    is a diagnostic error" (Azure/AML-Kubernetes docs/troubleshooting.md)."""
    out = []
    for doc in ev.docs():
        for hit in doc.search(HEALTH_LINE):
            checker, code, message = hit.match.groups()
            out.append((checker, code, message.strip(), _health_severity(code), hit.locator))
    # The health check's ConfigMap (arcml-healthcheck: reports-test, reports-pre-install, ...;
    # https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md).
    for cm in ev.objects("extension-configmaps"):
        for key, value in ((cm.get("data") or {}).items()):
            for m in HEALTH_LINE.finditer(str(value)):
                checker, code, message = m.groups()
                out.append((checker, code, message.strip(), _health_severity(code), f"kubernetes/extension-configmaps.json#{_name(cm)}/data.{key}"))
    return out


def _health_severity(code: str) -> str:
    return "critical" if int(code[1:]) < 45000 else "diagnostic"


# ---------------------------------------------------------------------- NetworkPolicies
def _selector_matches(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; {} selects everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(namespace: str) -> dict:
    # Set by the API server on every namespace since Kubernetes 1.21 (kubernetes.io/docs/reference/labels-annotations-taints/).
    return {"kubernetes.io/metadata.name": namespace}


def _peer_allows(peer: dict, peer_ns: str, peer_labels: dict, policy_ns: str) -> bool | None:
    """Whether one NetworkPolicyPeer admits a pod; None when it is an ipBlock (pod IPs are not known)."""
    if "ipBlock" in peer:
        block = peer.get("ipBlock") or {}
        return True if block.get("cidr") == "0.0.0.0/0" and not block.get("except") else None
    ns_selector = peer.get("namespaceSelector")
    pod_selector = peer.get("podSelector")
    if ns_selector is None and pod_selector is not None:
        return peer_ns == policy_ns and _selector_matches(pod_selector, peer_labels)
    if ns_selector is not None:
        return _selector_matches(ns_selector, namespace_labels(peer_ns)) and _selector_matches(pod_selector or {}, peer_labels)
    return False


def _port_allows(ports: list | None, port: int, named: set[str]) -> bool:
    if not ports:
        return True
    for p in ports:
        if (p.get("protocol") or "TCP") != "TCP":
            continue
        value = p.get("port")
        if value is None:
            return True
        if isinstance(value, int) or str(value).isdigit():
            start, end = int(value), int(p.get("endPort") or value)
            if start <= port <= end:
                return True
        elif value in named:
            return True
    return False


@dataclass(frozen=True)
class Blocked:
    direction: str  # "egress" (from the pod's namespace) or "ingress" (into it)
    policies: tuple[str, ...]  # names of the policies that select the pod and allow nothing matching
    namespace: str
    certain: bool  # False when an ipBlock rule might allow it


def blocked(ev: Evidence, *, src_ns: str, src_labels: dict, dst_ns: str, dst_labels: dict, port: int,
            port_names: set[str] = frozenset()) -> list[Blocked]:
    """The NetworkPolicies that stop a TCP connection from one pod to another on ``port``: egress
    policies selecting the source, ingress policies selecting the destination. A pod that no policy
    of a direction selects is open in that direction (kubernetes.io/docs/concepts/services-networking/network-policies/)."""
    out = []
    policies = [p for p in ev.objects("networkpolicies") if isinstance(p, dict)]
    for direction, ns, labels, peer_ns, peer_labels in (("egress", src_ns, src_labels, dst_ns, dst_labels),
                                                       ("ingress", dst_ns, dst_labels, src_ns, src_labels)):
        selecting = []
        for policy in policies:
            meta, spec = policy.get("metadata") or {}, policy.get("spec") or {}
            if meta.get("namespace", "") != ns or not _selector_matches(spec.get("podSelector") or {}, labels):
                continue
            types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
            if direction.capitalize() in types:
                selecting.append(policy)
        if not selecting:
            continue
        allowed, maybe = False, False
        for policy in selecting:
            for rule in (policy.get("spec") or {}).get(direction) or []:
                peers = rule.get("to" if direction == "egress" else "from")
                if not _port_allows(rule.get("ports"), port, port_names if direction == "ingress" else set()):
                    continue
                if not peers:
                    allowed = True
                    break
                results = [_peer_allows(peer, peer_ns, peer_labels, ns) for peer in peers]
                if any(r is True for r in results):
                    allowed = True
                    break
                maybe = maybe or any(r is None for r in results)
            if allowed:
                break
        if not allowed:
            out.append(Blocked(direction, tuple(_name(p) for p in selecting), ns, certain=not maybe))
    return out


# ---------------------------------------------------------------------- instance types
_INSTANCE_TYPE_KEY = re.compile(r"instance.?type", re.IGNORECASE)


def instance_type_name(ev: Evidence) -> tuple[str, str]:
    """(name, where it came from) of the deployment's instance type: azure-ai-ml's ``instance_type``
    (azureml/service.json), else any field of the OnlineDeployment CR whose key names an instance
    type (the CR's fields are not public), else the extension's ``defaultinstancetype``."""
    state = deployment_state(ev)
    if state.get("instanceType"):
        return str(state["instanceType"]), "azureml/service.json#instanceType"
    for cr in ev.objects("onlinedeployments"):
        found = _find_key(cr.get("spec") or {}, _INSTANCE_TYPE_KEY)
        if found:
            return found, f"kubernetes/onlinedeployments.json#{_name(cr)}"
    if any(_name(it) == "defaultinstancetype" for it in ev.objects("instancetypes")):
        return "defaultinstancetype", "the extension's default (no instance type named)"
    return "", ""


def _find_key(obj, pattern: re.Pattern, depth: int = 0) -> str:
    if depth > 6:
        return ""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if pattern.search(str(key)) and isinstance(value, str) and value:
                return value
        for value in obj.values():
            found = _find_key(value, pattern, depth + 1)
            if found:
                return found
    elif isinstance(obj, list):
        for value in obj:
            found = _find_key(value, pattern, depth + 1)
            if found:
                return found
    return ""


def instance_type(ev: Evidence, name: str) -> dict | None:
    return next((it for it in ev.objects("instancetypes") if _name(it) == name), None)


def scoring_container(pod: dict) -> dict | None:
    """The model's container: the azureml/azureml_<hash> image (v1 and v2 environments alike), else
    the first regular container that is not the extension's (an ``mcr.microsoft.com/azureml/amlarc`` image)."""
    found = kube.scoring_container(pod)
    if found is not None:
        return found
    containers = (pod.get("spec") or {}).get("containers") or []
    return next((c for c in containers if "/amlarc/" not in str(c.get("image", ""))), containers[0] if containers else None)


# ---------------------------------------------------------------------- migrate-check
def migrate_check(ev: Evidence) -> bool:
    """Evidence that ``aml-doctor migrate-check`` collected: the migration rules read only that."""
    raw = ev.manifest.raw if isinstance(ev.manifest.raw, dict) else {}
    return raw.get("mode") == "migrate-check"


def workspace_info(ev: Evidence) -> dict:
    raw = ev.manifest.raw if isinstance(ev.manifest.raw, dict) else {}
    info = raw.get("workspace_info")
    return dict(info) if isinstance(info, dict) else {}


def v1_services(ev: Evidence) -> list[dict]:
    """v1 web services' Deployments: ``azuremlappname`` set, and not azureml-fe itself."""
    return [d for d in ev.objects("deployments")
            if _labels(d).get("azuremlappname") and _labels(d).get("azuremlappname") != "azureml-fe"
            and not (((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels", {}).get("ml.azure.com/deployment-name")]


def v1_frontends(ev: Evidence) -> list[tuple[str, dict]]:
    """(resource, object) of the v1 azureml-fe: its Deployment or pods outside ``azureml``, without ``azuremlappversion=v2``."""
    out = []
    for resource in ("deployments", "frontend-pods"):
        for obj in ev.objects(resource):
            labels = _labels(obj)
            ns = (obj.get("metadata") or {}).get("namespace", "")
            if labels.get("azuremlappname") == "azureml-fe" and labels.get("azuremlappversion") != "v2" and ns != EXTENSION_NAMESPACE:
                out.append((resource, obj))
    return out
