"""Collect one v2 Kubernetes online deployment's cluster evidence, read-only, in a constant number of calls.

The AzureML extension (``Microsoft.AzureML.Kubernetes``) turns an online endpoint and its
deployments into custom resources (``onlineendpoints`` and ``onlinedeployments`` in group
``amlarc.azureml.com``) in the compute's namespace, and those into a Kubernetes Deployment, its
ReplicaSets and pods. Only the CRDs' names and the ``InstanceType`` shape are public; the CRs'
fields, the Deployment's name and the pods' labels beyond those one public dump shows are not. So
this collector finds the objects by structure:

1. ``GET /apis``: the group and its version (the served one, not a guess);
2. the endpoint CR by name; the deployment CR among the namespace's ``onlinedeployments`` by name
   (``<deployment>``, ``<endpoint>-<deployment>``, ``<deployment>-<endpoint>``) or by a field or
   label whose value is the deployment's name next to one that is the endpoint's;
3. the Kubernetes Deployment whose owner reference is that CR; failing that (owner references are
   not confirmed either), one whose labels carry the deployment's name and are the ones the public
   pod dump shows (``ml.azure.com/deployment-name``, ``azuremlappname``);
4. its ReplicaSets and pods by the Deployment's own ``spec.selector``, kept when their owner
   references lead back to it.

Then: every container's log (the storage initializer's ``storageinitializer-*`` init container,
current and previous, the inference server and any sidecar), the namespace's events about those
objects, the InstanceTypes, nodes, the NetworkPolicies of the compute namespace and of ``azureml``,
and the extension's own state in ``azureml``: its pods (azureml-fe-v2, the identity proxy,
inference-operator-controller-manager, relay servers, the health-check pod and its log), its
Deployments, its warning events and the ``arcml-healthcheck`` ConfigMap.

Every call is a GET through :class:`aml_doctor.collect.kubernetes.Reader` (timeouts, caps, one-line
gaps), and the number of calls does not grow with the namespace's other objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aml_doctor.common.termsafe import safe_progress
from aml_doctor.common.text import first_line
from aml_doctor.collect.kubernetes import (
    CallFailed,
    Reader,
    api_client_for,
    log_gaps,
    node_summary,
    read_log,
    service_event_list,
)
from aml_doctor.collect.core import ServiceObjects, every_log
from aml_doctor.collect.part import Gap, Part

GROUP = "amlarc.azureml.com"
EXTENSION_NAMESPACE = "azureml"
HEALTHCHECK_CONFIGMAP = "arcml-healthcheck"  # https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md
RESOURCES = ("onlineendpoints", "onlinedeployments", "instancetypes", "deployments", "replicasets", "pods", "events", "nodes",
             "networkpolicies", "extension-pods", "extension-deployments", "extension-events")
_KINDS = {
    "onlineendpoints": "OnlineEndpoint", "onlinedeployments": "OnlineDeployment", "instancetypes": "InstanceType",
    "deployments": "Deployment", "replicasets": "ReplicaSet", "pods": "Pod", "events": "Event", "nodes": "Node",
    "networkpolicies": "NetworkPolicy", "extension-pods": "Pod", "frontend-pods": "Pod", "extension-deployments": "Deployment",
    "extension-events": "Event", "extension-configmaps": "ConfigMap",
}
_API_VERSIONS = {"deployments": "apps/v1", "replicasets": "apps/v1", "extension-deployments": "apps/v1",
                 "networkpolicies": "networking.k8s.io/v1"}
MAX_EXTENSION_LOGS = 6  # logs of extension containers that are not serving


class EndpointNotFound(Exception):
    """No OnlineEndpoint (or no deployment of it) by that name; ``available`` lists what there is."""

    def __init__(self, what: str, available: list[str]):
        self.available = available
        super().__init__(f"{what}; there: {', '.join(available) if available else 'none'}")


class ExtensionMissing(Exception):
    """The cluster serves no ``amlarc.azureml.com`` group: the AzureML extension is not installed."""


def kubectl_list(resource: str, items: list[dict], version: str) -> dict:
    kind = _KINDS[resource]
    api_version = _API_VERSIONS.get(resource) or (f"{GROUP}/{version}" if resource in ("onlineendpoints", "onlinedeployments", "instancetypes") else "v1")
    typed = [{"apiVersion": api_version, "kind": kind, **{k: v for k, v in i.items() if k not in ("apiVersion", "kind")}} for i in items]
    return {"apiVersion": "v1", "items": typed, "kind": "List", "metadata": {"resourceVersion": ""}}


class V2Reader:
    """The calls this collector makes, on top of :class:`Reader` (CoreV1 and AppsV1 there)."""

    def __init__(self, api_client: Any, timeout: float, part: Part, deadline: float | None = None):
        from aml_doctor.collect.kubeapi import CustomCalls, NetworkingCalls

        self.r = Reader(api_client, timeout, part, deadline)
        self.custom = CustomCalls(api_client)
        self.networking = NetworkingCalls(api_client)
        self.apis = self.custom  # GET /apis
        self.version = ""

    def group_version(self) -> str:
        """The served version of amlarc.azureml.com (its preferred one), from ``GET /apis``."""
        data = self.r.json(self.apis.get_api_versions)
        for group in data.get("groups") or []:
            if group.get("name") == GROUP:
                self.version = ((group.get("preferredVersion") or {}).get("version")
                                or ((group.get("versions") or [{}])[0]).get("version") or "")
                return self.version
        raise ExtensionMissing(f"the cluster has no {GROUP} API group: the AzureML extension (Microsoft.AzureML.Kubernetes) "
                               "is not installed, or not with enableInference=True")

    def custom_list(self, plural: str, namespace: str | None, **kw) -> dict:
        if namespace is None:
            return self.r.json(self.custom.list_cluster_custom_object, GROUP, self.version, plural, **kw)
        return self.r.json(self.custom.list_namespaced_custom_object, GROUP, self.version, namespace, plural, **kw)

    def custom_get(self, plural: str, namespace: str, name: str) -> dict:
        return self.r.json(self.custom.get_namespaced_custom_object, GROUP, self.version, namespace, plural, name)


def find_endpoint(v: V2Reader, endpoint: str, namespace: str | None) -> tuple[str, dict]:
    """(namespace, the OnlineEndpoint CR); one GET when the namespace is known, one list otherwise."""
    if namespace:
        try:
            return namespace, v.custom_get("onlineendpoints", namespace, endpoint)
        except CallFailed as failed:
            if failed.status != 404:
                raise
            items = v.custom_list("onlineendpoints", namespace).get("items", [])
            raise EndpointNotFound(f"no online endpoint {endpoint!r} in namespace {namespace}",
                                   sorted(_name(i) for i in items)) from None
    items = v.custom_list("onlineendpoints", None).get("items", [])
    for item in items:
        if _name(item) == endpoint:
            return item["metadata"].get("namespace", ""), item
    raise EndpointNotFound(f"no online endpoint {endpoint!r} in any namespace of the cluster",
                           sorted(f"{i['metadata'].get('namespace')}/{_name(i)}" for i in items))


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _strings(obj, depth: int = 0) -> set[str]:
    if depth > 6:
        return set()
    if isinstance(obj, str):
        return {obj}
    if isinstance(obj, dict):
        return set().union(*(_strings(v, depth + 1) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_strings(v, depth + 1) for v in obj)) if obj else set()
    return set()


def belongs(cr: dict, endpoint: str) -> bool:
    """Whether an OnlineDeployment CR is the endpoint's: by name prefix, or a value naming it."""
    name = _name(cr)
    values = _strings(cr.get("spec") or {}) | _strings((cr.get("metadata") or {}).get("labels") or {})
    return name.startswith(endpoint + "-") or name.endswith("-" + endpoint) or endpoint in values


def choose_deployment(crs: list[dict], endpoint: str, deployment: str | None) -> dict:
    """The endpoint's OnlineDeployment CR for ``deployment``; without one, the endpoint's only one."""
    mine = [cr for cr in crs if belongs(cr, endpoint)]
    if deployment:
        for candidate in (deployment, f"{endpoint}-{deployment}", f"{deployment}-{endpoint}"):
            found = next((cr for cr in crs if _name(cr) == candidate), None)
            if found is not None:
                return found
        for cr in mine:
            values = _strings(cr.get("spec") or {}) | _strings((cr.get("metadata") or {}).get("labels") or {})
            if deployment in values:
                return cr
        raise EndpointNotFound(f"no deployment {deployment!r} of online endpoint {endpoint!r}", sorted(_name(c) for c in mine))
    if len(mine) == 1:
        return mine[0]
    raise EndpointNotFound(f"online endpoint {endpoint!r} has {len(mine)} deployments: pass -d DEPLOYMENT",
                           sorted(_name(c) for c in mine))


def owned_by(obj: dict, uid: str) -> bool:
    return any(o.get("uid") == uid for o in (obj.get("metadata") or {}).get("ownerReferences") or [])


def choose_k8s_deployment(deployments: list[dict], cr: dict, deployment: str) -> dict | None:
    uid = (cr.get("metadata") or {}).get("uid")
    owned = [d for d in deployments if uid and owned_by(d, uid)]
    if owned:
        return owned[0]
    # Owner references are not confirmed: the labels the public pod dump shows, then the CR's name.
    for d in deployments:
        labels = {**((d.get("metadata") or {}).get("labels") or {}),
                  **(((d.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels", {})}
        if labels.get("ml.azure.com/deployment-name") == deployment and labels.get("isazuremlapp") == "true":
            return d
    return next((d for d in deployments if _name(d) == _name(cr)), None)


def selector_text(deployment: dict) -> str:
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def collect_v2_kubernetes(
    endpoint: str,
    deployment: str | None = None,
    *,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    instance_type: str | None = None,
    log_lines: int = 5000,
    request_timeout: float = 30.0,
    api_client: Any = None,
    progress: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> Part:
    """Read the deployment's custom resources, Kubernetes objects, logs and the extension's state.

    Raises :class:`EndpointNotFound` or :class:`ExtensionMissing` when there is nothing to diagnose
    in this cluster (the caller says so in one line)."""
    part = Part()
    say = safe_progress(progress) or (lambda message: None)
    own_client = api_client is None
    if own_client:
        try:
            api_client = api_client_for(kubeconfig, context)
        except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
            for what in RESOURCES + ("container_logs",):
                part.gaps.append(Gap(what, f"cannot use {kubeconfig or 'the default kubeconfig'}: {first_line(exc, 'no detail')}"))
            return part
    try:
        v = V2Reader(api_client, request_timeout, part, deadline)
        try:
            say("kubernetes: reading the API groups (GET /apis)")
            v.group_version()
            say(f"kubernetes: finding online endpoint {endpoint} ({GROUP}/{v.version})")
            namespace, endpoint_cr = find_endpoint(v, endpoint, namespace)
        except CallFailed as failed:
            # Nothing of the deployment can be found without these two answers: every source gets the one reason.
            where = f"cannot find online endpoint {endpoint}: {failed.line}"
            for what in RESOURCES + ("container_logs",):
                part.gaps.append(Gap(what, where))
            return part
        part.learn("deployment", namespace=namespace)
        try:
            _Collection(v, endpoint, deployment, namespace, log_lines, say, instance_type).run(endpoint_cr)
        except CallFailed as failed:  # the onlinedeployments list: the rest hangs on it
            for what in RESOURCES[1:] + ("container_logs",):
                if what not in part.collected:
                    part.gaps.append(Gap(what, failed.line))
        return part
    finally:
        if own_client:
            api_client.close()


class _Collection:
    def __init__(self, v: V2Reader, endpoint: str, deployment: str | None, namespace: str, log_lines: int,
                 say: Callable[[str], None], instance_type: str | None):
        self.v, self.r, self.endpoint, self.deployment, self.ns = v, v.r, endpoint, deployment, namespace
        self.log_lines, self.say, self.instance_type = log_lines, say, instance_type
        self.part = v.r.part

    def store(self, resource: str, items: list[dict]) -> None:
        self.part.files[f"kubernetes/{resource}.json"] = kubectl_list(resource, items, self.v.version)
        self.part.collected.append(resource)

    def gap(self, resources: tuple[str, ...], line: str) -> None:
        for what in resources:
            self.part.gaps.append(Gap(what, line))

    def run(self, endpoint_cr: dict) -> None:
        self.store("onlineendpoints", [endpoint_cr])
        self.say(f"kubernetes: listing onlinedeployments in {self.ns}")
        crs = self.v.custom_list("onlinedeployments", self.ns).get("items", [])
        cr = choose_deployment(crs, self.endpoint, self.deployment)
        self.store("onlinedeployments", [cr])
        deployment_name = self.deployment or next(
            (v for v in sorted(_strings(cr.get("spec") or {})) if _name(cr) in (v, f"{self.endpoint}-{v}", f"{v}-{self.endpoint}")), _name(cr))
        self.part.learn("deployment", deployment=deployment_name)
        self.part.learn("deployment", deployment_cr=_name(cr))

        k8s = None
        try:
            self.say(f"kubernetes: listing Deployments in {self.ns} (the one the OnlineDeployment owns)")
            k8s = choose_k8s_deployment(self.r.json(self.r.apps.list_namespaced_deployment, self.ns).get("items", []), cr, deployment_name)
        except CallFailed as failed:
            self.gap(("deployments", "replicasets", "pods", "container_logs"), failed.line)
        replicasets: list[dict] = []
        pods: list[dict] = []
        if k8s is not None:
            self.store("deployments", [k8s])
            template_labels = (((k8s.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            self.part.learn("deployment", service=template_labels.get("azuremlappname") or _name(k8s))
            replicasets, pods = self._workload(k8s)
        elif not any(g.what == "deployments" for g in self.part.gaps):
            self.gap(("deployments", "replicasets", "pods", "container_logs"),
                     f"no Deployment in {self.ns} belongs to OnlineDeployment {_name(cr)} (its pods were never created?)")
        self._events(k8s, replicasets, pods)
        self._instancetypes()
        self._nodes()
        self._networkpolicies()
        ext_pods = self._extension()
        self._logs(pods, ext_pods)
        self.part.learn("deployment", storage_manifests=tuple(_manifest_urls(pods or ([k8s] if k8s else []))))

    def _workload(self, k8s: dict) -> tuple[list[dict], list[dict]]:
        selector = selector_text(k8s)
        uid = (k8s.get("metadata") or {}).get("uid")
        replicasets = []
        data = self.r.try_json("replicasets", self.r.apps.list_namespaced_replica_set, self.ns, label_selector=selector)
        if data is not None:
            replicasets = [rs for rs in data.get("items", []) if owned_by(rs, uid)]
            self.store("replicasets", replicasets)
        self.say(f"kubernetes: listing pods labelled {selector}")
        pods = []
        data = self.r.try_json("pods", self.r.core.list_namespaced_pod, self.ns, label_selector=selector)
        if data is not None:
            rs_uids = {(rs.get("metadata") or {}).get("uid") for rs in replicasets}
            items = data.get("items", [])
            pods = [p for p in items if any(owned_by(p, u) for u in rs_uids)] if rs_uids else items
            self.store("pods", pods)
            self.part.learn("deployment", pods=tuple(_name(p) for p in pods))
        return replicasets, pods

    def _events(self, k8s, replicasets, pods) -> None:
        # The v1 collector's events (a v2 deployment mounts no claim): field-selected by name when
        # that takes a few calls, and kept by the one filter.
        objects = ServiceObjects(_name(k8s) if k8s else "", k8s, tuple(replicasets), tuple(pods), ())
        events = service_event_list(self.r, self.ns, objects, lambda line: self.say(f"kubernetes: {line}"))
        if events is not None:
            self.store("events", events)

    def _instancetypes(self) -> None:
        # Cluster-scoped in the extension's CRD (the public InstanceType objects carry no namespace).
        try:
            items = self.v.custom_list("instancetypes", None).get("items", [])
        except CallFailed as failed:
            self.gap(("instancetypes",), failed.line)
            return
        self.store("instancetypes", items)

    def _nodes(self) -> None:
        data = self.r.try_json("nodes", self.r.core.list_node)
        if data is not None:
            self.store("nodes", [node_summary(n) for n in data.get("items", [])])

    def _networkpolicies(self) -> None:
        items: list[dict] = []
        for ns in dict.fromkeys((self.ns, EXTENSION_NAMESPACE)):
            try:
                data = self.r.json(self.v.networking.list_namespaced_network_policy, ns)
            except CallFailed as failed:
                self.gap(("networkpolicies",), f"{ns}: {failed.line}")
                return
            items += [dict(p, metadata={**(p.get("metadata") or {}), "namespace": ns}) for p in data.get("items", [])]
        self.store("networkpolicies", items)

    def _extension(self) -> list[dict]:
        self.say(f"kubernetes: reading the extension's state in namespace {EXTENSION_NAMESPACE}")
        pods: list[dict] = []
        data = self.r.try_json("extension-pods", self.r.core.list_namespaced_pod, EXTENSION_NAMESPACE)
        if data is not None:
            pods = data.get("items", [])
            self.store("extension-pods", pods)
            fe = [p for p in pods if ((p.get("metadata") or {}).get("labels") or {}).get("azuremlappname") == "azureml-fe"]
            self.store("frontend-pods", fe)
        data = self.r.try_json("extension-deployments", self.r.apps.list_namespaced_deployment, EXTENSION_NAMESPACE)
        if data is not None:
            self.store("extension-deployments", data.get("items", []))
        data = self.r.try_json("extension-events", self.r.core.list_namespaced_event, EXTENSION_NAMESPACE)
        if data is not None:
            self.store("extension-events", [e for e in data.get("items", []) if e.get("type") == "Warning"])
        try:
            cm = self.r.json(self.r.core.read_namespaced_config_map, HEALTHCHECK_CONFIGMAP, EXTENSION_NAMESPACE)
            self.store("extension-configmaps", [cm])
        except CallFailed as failed:
            if failed.status != 404:  # absent on healthy clusters of some versions: nothing to say
                self.gap(("extension-configmaps",), failed.line)
        return pods

    def _logs(self, pods: list[dict], ext_pods: list[dict]) -> None:
        from aml_doctor.views.v2views import is_identity_proxy, is_router_v2, pod_not_serving

        wanted = [(p, self.ns, None) for p in pods]
        health = [p for p in ext_pods if ((p.get("metadata") or {}).get("labels") or {}).get("app") == "healthcheck" or _name(p) == "healthcheck"]
        wanted += [(p, EXTENSION_NAMESPACE, None) for p in health[:1]]
        broken = [p for p in ext_pods if (is_router_v2(p) or is_identity_proxy(p)) and pod_not_serving(p)
                  and (p.get("status") or {}).get("containerStatuses")]
        wanted += [(p, EXTENSION_NAMESPACE, None) for p in broken[:2]]
        failures: dict[str, list[str]] = {}
        extension_logs = 0
        for pod, ns, _ in wanted:
            name = _name(pod)
            for container, previous in every_log(pod):  # the single-service choice, as v1's
                if ns == EXTENSION_NAMESPACE and not previous:
                    extension_logs += 1
                    if extension_logs > MAX_EXTENSION_LOGS:
                        break
                # "is waiting to start": nothing to read yet (PodInitializing); its state says why.
                if not read_log(self.r, self.part, failures, name, ns, container, previous, self.log_lines,
                                nothing_yet=("is waiting to start",)):
                    log_gaps(self.part, failures)
                    return
        log_gaps(self.part, failures)


def _manifest_urls(holders: list[dict]) -> list[str]:
    urls: list[str] = []
    for holder in holders:
        spec = holder.get("spec") or {}
        spec = (spec.get("template") or {}).get("spec") or spec
        for container in spec.get("initContainers") or []:
            for env in container.get("env") or []:
                if env.get("name") == "STORAGE_MANIFEST_URL" and env.get("value") and env["value"] not in urls:
                    urls.append(env["value"])
    return urls


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2)
