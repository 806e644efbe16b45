"""Write the v2 scenario bundles (tests/scenarios/v2-*): Kubernetes online endpoints on the AzureML
extension, and one managed online endpoint. Run ``python tests/scenarios/v2-make.py`` after a change;
the bundles are committed, so tests never run this.

Every bundle starts from one healthy deployment and changes what its failure changes. What the
public dumps confirm is copied from them (shared/real-world/):

* the deployment pod's metadata and init container, verbatim in shape from
  Azure/MachineLearningNotebooks#1900: ``generateName``, the labels ``azuremlappname``,
  ``isazuremlapp: "true"``, ``ml.azure.com/compute`` and ``ml.azure.com/deployment-name`` (that
  label's value is cut in the dump), the pull secret ``<...>-registry.azurecr.io``, the init
  container ``storageinitializer-modeldata`` with its image, its STORAGE_* env and 100m/500Mi;
* the ``InstanceType`` CR (``amlarc.azureml.com/v1alpha1``, ``spec.nodeSelector``, ``spec.resources``);
* the ``azureml`` namespace's pods, their names and labels (VijayRod/demo, ``kubectl get all -n
  azureml --show-labels``, extension 1.1.71), including ``azureml-fe-v2`` at 4/4 and the
  completed ``healthcheck`` pod.

What no public dump shows is invented here and named in each bundle's NOTES.md: the
``onlineendpoints``/``onlinedeployments`` CRs' fields and apiVersion, the owner reference from the
Kubernetes Deployment to the OnlineDeployment CR, the main container's name (varied on purpose:
``inference-server``, ``online-deployment``), the identity sidecar's name, the Deployment's name
pattern (varied), the STORAGE_MANIFEST_URL blob's content, and the storage initializer's log
lines. No rule may depend on any of them; the rules read states, events, resources and the
storage index.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import uuid
from pathlib import Path

HERE = Path(__file__).parent
WS = "mlops-prod-ws"
NS = "ml-inference"  # the namespace chosen when the Kubernetes compute was attached
COMPUTE = "k8s-inference"
ENDPOINT = "credit-ep"
DEPLOYMENT = "blue"
ACR = "mlopsprodacr7f3c21"
IMAGE = f"{ACR}.azurecr.io/azureml/azureml_3f5c1d2e9a8b4c7d6e5f4a3b2c1d0e9f"
ACCOUNT = "mlopsprodstore4d2e"
BLOBSTORE = "azureml-blobstore-6f1c2a9e-4b7d-4e21-9c3a-5d8e7f6a1b2c"
MODEL_DIR = "LocalUpload/9a1b2c3d4e5f60718293a4b5c6d7e8f9/model"
CODE_DIR = "LocalUpload/0f1e2d3c4b5a69788796a5b4c3d2e1f0/onlinescoring"
T0 = "2026-11-20T09:00:00Z"


def at(seconds: int) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"2026-11-20T{9 + h:02d}:{m:02d}:{s:02d}Z"


def uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def hex32(*parts: str) -> str:
    return hashlib.md5("/".join(parts).encode()).hexdigest()


def klist(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# ----------------------------------------------------------------------------- the extension
def extension_pod(name: str, rs_hash: str, ready: str, labels: dict, containers: list[str], phase="Running",
                  node="aks-nodepool1-31718369-vmss000000") -> dict:
    full = f"{name}-{rs_hash}" if rs_hash else name
    statuses = [{"name": c, "ready": phase == "Running", "restartCount": 0, "started": phase == "Running",
                 "image": f"mcr.microsoft.com/azureml/amlarc/docker/{c}:1.1.71", "imageID": "",
                 "state": ({"running": {"startedAt": at(-9000)}} if phase == "Running"
                           else {"terminated": {"reason": "Completed", "exitCode": 0, "startedAt": at(-9900), "finishedAt": at(-9800)}})}
                for c in containers]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": full, "namespace": "azureml", "uid": uid("pod", full),
                     "creationTimestamp": at(-9100), "labels": {**labels, **({"pod-template-hash": rs_hash.split("-")[0]} if rs_hash else {})}},
        "spec": {"nodeName": node, "containers": [{"name": c, "image": f"mcr.microsoft.com/azureml/amlarc/docker/{c}:1.1.71"} for c in containers]},
        "status": {"phase": "Succeeded" if phase == "Completed" else phase, "containerStatuses": statuses,
                   "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}]},
    }
    if rs_hash:
        rs = f"{name}-{rs_hash.split('-')[0]}"
        pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": uid("rs", rs), "controller": True}]
    return pod


SYSTEM = {"ml.azure.com/amlarc-system": "true", "ml.azure.com/billing-category": "azureml-system"}
# Names, hashes and labels as `kubectl get all -n azureml --show-labels` printed them (VijayRod/demo).
FE_LABELS = {"azuremlappname": "azureml-fe", "azuremlappversion": "v2", **SYSTEM, "ml.azure.com/infra-app": "azureml-fe"}


def fe_pod(suffix: str = "6jk9c", node="aks-nodepool1-31718369-vmss000001") -> dict:
    return extension_pod("azureml-fe-v2", f"5868d64648-{suffix}", "4/4", FE_LABELS, ["envoy", "xds", "clb", "fe-metrics"], node=node)


def extension_pods() -> list[dict]:
    return [
        extension_pod("amlarc-identity-controller", "cb86645b9-qhmhc", "2/2",
                      {"amlarc-component": "identity", "amlarc-identity-component": "identity-controller", **SYSTEM,
                       "ml.azure.com/infra-app": "identity-controller"}, ["identity-controller", "kube-rbac-proxy"]),
        extension_pod("amlarc-identity-proxy", "5dd64f65f4-ds8t2", "2/2",
                      {"amlarc-component": "identity", "amlarc-identity-component": "identity-proxy", **SYSTEM,
                       "ml.azure.com/infra-app": "identity-proxy"}, ["identity-proxy", "kube-rbac-proxy"]),
        fe_pod(),
        extension_pod("gateway", "7d4c4f7d77-5spfc", "2/2", {"app": "gateway", **SYSTEM}, ["gateway", "kube-rbac-proxy"]),
        extension_pod("healthcheck", "", "0/1", {"app": "healthcheck", **SYSTEM}, ["healthcheck"], phase="Completed"),
        extension_pod("inference-operator-controller-manager", "58f676cdcd-77p5r", "2/2",
                      {"control-plane": "inference-operator-controller-manager", **SYSTEM, "ml.azure.com/infra-app": "inference-operator"},
                      ["manager", "kube-rbac-proxy"]),
        extension_pod("metrics-controller-manager", "5df854d9d6-4xk5s", "2/2",
                      {"amlarc-controller": "metrics-controller", **SYSTEM, "ml.azure.com/infra-app": "metrics-controller"},
                      ["manager", "kube-rbac-proxy"]),
        extension_pod("relayserver", "6c9f7d5b8-x2k4q", "1/1", {"app": "relayserver", **SYSTEM}, ["relayserver"]),
    ]


def extension_deployment(name: str, replicas: int, ready: int, labels: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "azureml", "uid": uid("deploy-azureml", name), "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {k: v for k, v in labels.items() if k != "app.kubernetes.io/managed-by"}}},
            "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                       **({"unavailableReplicas": replicas - ready} if replicas > ready else {})}}


def extension_deployments(fe_replicas=1, fe_ready=1, proxy_ready=1) -> list[dict]:
    return [
        extension_deployment("amlarc-identity-proxy", 1, proxy_ready, {"amlarc-component": "identity", "app.kubernetes.io/managed-by": "Helm", "ml.azure.com/amlarc-system": "true"}),
        extension_deployment("azureml-fe-v2", fe_replicas, fe_ready, {"app.kubernetes.io/managed-by": "Helm", "azuremlappname": "azureml-fe", "ml.azure.com/amlarc-system": "true"}),
        extension_deployment("inference-operator-controller-manager", 1, 1, {"app.kubernetes.io/managed-by": "Helm", "control-plane": "inference-operator-controller-manager", "ml.azure.com/amlarc-system": "true"}),
    ]


# ----------------------------------------------------------------------------- the user's deployment
class V2:
    """One Kubernetes online deployment; the scenarios change its fields before writing."""

    def __init__(self, *, k8s_name=f"{ENDPOINT}-{DEPLOYMENT}", cr_name=f"{ENDPOINT}-{DEPLOYMENT}", main="inference-server",
                 instance_type="defaultinstancetype", owner_ref=True):
        self.k8s_name, self.cr_name, self.main, self.instance_type, self.owner_ref = k8s_name, cr_name, main, instance_type, owner_ref
        self.rs_hash = hex32(k8s_name)[:9].replace("0", "7")
        self.pod_name = f"{k8s_name}-{self.rs_hash}-{hex32(k8s_name, 'pod')[:5]}"
        self.manifest_blob = f"credit-model_{k8s_name}_model_config_map.json_{hex32(k8s_name, 'manifest')}"
        self.model_files = {f"{BLOBSTORE}/{MODEL_DIR}/model.pkl": 48_214_016, f"{BLOBSTORE}/{MODEL_DIR}/MLmodel": 412}
        self.code_files = {f"{BLOBSTORE}/{CODE_DIR}/score.py": 1_804}
        self.instancetypes = [
            # The extension's default when a deployment names none (learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types).
            {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType", "metadata": {"name": "defaultinstancetype", "uid": uid("it", "default")},
             "spec": {"resources": {"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "100m", "memory": "2Gi"}}}},
            {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType", "metadata": {"name": "standard-cpuproc", "uid": uid("it", "cpuproc")},
             "spec": {"nodeSelector": {"agentpool": "nodepool1"},
                      "resources": {"limits": {"cpu": "3", "memory": "15Gi"}, "requests": {"cpu": "1100m", "memory": "1500Mi"}}}},
        ]
        self.nodes = [node(f"aks-nodepool1-31718369-vmss00000{i}") for i in range(3)]
        self.pod_resources = None  # None: the instance type's
        self.state = "Succeeded"
        self.error = None
        self.model_ref = "azureml:credit-model:3"
        self.environment_ref = "azureml:credit-env:4"
        self.compute_type = "Kubernetes"
        self.init_state = "done"  # done | crashloop | running | restarted-once | oom
        self.init_log = STORAGE_INIT_OK
        self.init_previous_log = None
        self.main_state = "ready"  # ready | waiting-init | pending | crashloop
        self.main_log = INFERENCE_SERVER_OK
        self.main_previous_log = None
        self.pod_phase = "Running"
        self.events: list[dict] = []
        self.extra_events: list[dict] = []
        self.extension_pods = extension_pods()
        self.extension_deployments = extension_deployments()
        self.extension_events: list[dict] = []
        self.networkpolicies: list[dict] = []
        self.collected_at = at(1500)
        self.pod_started = at(60)
        self.init_started = at(75)
        self.operation = ""
        self.texts: dict[str, str] = {}
        self.index_override: dict[str, dict] = {}
        self.build_log = None
        self.notes_confirmed: list[str] = []
        self.notes_inferred: list[str] = []
        self.drop_cluster = False
        self.scale = {"type": "target_utilization", "min_instances": 1, "max_instances": 1}
        self.request_settings = {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1, "max_queue_wait_ms": 500}

    # -------------------------------------------------------------- objects
    def it_resources(self) -> dict:
        for it in self.instancetypes:
            if it["metadata"]["name"] == self.instance_type:
                return copy.deepcopy(it["spec"]["resources"])
        return {"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "100m", "memory": "2Gi"}}

    def it_node_selector(self) -> dict:
        for it in self.instancetypes:
            if it["metadata"]["name"] == self.instance_type:
                return dict(it["spec"].get("nodeSelector") or {})
        return {}

    def cr_endpoint(self) -> dict:
        return {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "OnlineEndpoint",
                "metadata": {"name": ENDPOINT, "namespace": NS, "uid": uid("oe", ENDPOINT), "creationTimestamp": at(-600)},
                "spec": {"authMode": "Key", "computeName": COMPUTE, "workspace": WS,
                         "trafficRules": [{"deploymentName": DEPLOYMENT, "percent": 100}]},
                "status": {"provisioningState": "Succeeded"}}

    def cr_deployment(self) -> dict:
        return {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "OnlineDeployment",
                "metadata": {"name": self.cr_name, "namespace": NS, "uid": uid("od", self.cr_name), "creationTimestamp": at(0)},
                "spec": {"endpointName": ENDPOINT, "deploymentName": DEPLOYMENT, "instanceType": self.instance_type,
                         "model": self.model_ref, "environment": self.environment_ref, "scaleSettings": self.scale},
                "status": {"provisioningState": self.state}}

    def labels(self) -> dict:
        # As #1900's pod shows them; ml.azure.com/deployment-name's value is cut in the dump (its value here is inferred).
        return {"azuremlappname": self.k8s_name, "isazuremlapp": "true", "ml.azure.com/compute": COMPUTE,
                "ml.azure.com/deployment-name": DEPLOYMENT}

    def pod_spec(self) -> dict:
        resources = self.pod_resources or self.it_resources()
        spec = {
            "containers": [
                {"name": self.main, "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                 "env": [{"name": "AML_APP_ROOT", "value": "/var/azureml-app/onlinescoring"},
                         {"name": "AZUREML_ENTRY_SCRIPT", "value": "score.py"},
                         {"name": "AZUREML_MODEL_DIR", "value": "/var/azureml-app/azureml-models/credit-model/3"}],
                 "ports": [{"containerPort": 5001, "name": "http", "protocol": "TCP"}],
                 "livenessProbe": {"httpGet": {"path": "/", "port": 5001, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10,
                                   "timeoutSeconds": 2, "successThreshold": 1, "failureThreshold": 30},
                 "readinessProbe": {"httpGet": {"path": "/", "port": 5001, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10,
                                    "timeoutSeconds": 2, "successThreshold": 1, "failureThreshold": 30},
                 "resources": resources,
                 "volumeMounts": [{"mountPath": "/var/azureml-app", "name": "model-mount"}]},
                {"name": "identity-sidecar", "image": "mcr.microsoft.com/azureml/amlarc/docker/identity-sidecar:1.1.71",
                 "resources": {"limits": {"cpu": "50m", "memory": "100Mi"}, "requests": {"cpu": "10m", "memory": "100Mi"}},
                 "volumeMounts": [{"mountPath": "/identity", "name": "identity-token"}]},
            ],
            "imagePullSecrets": [{"name": f"{self.k8s_name}-{ACR}.azurecr.io"}],
            "initContainers": [
                {"name": "storageinitializer-modeldata", "image": "mcr.microsoft.com/mir/mir-storageinitializer:46571814.1631244300887",
                 "imagePullPolicy": "IfNotPresent",
                 "env": [{"name": "STORAGE_MANIFEST_URL", "value": f"https://{ACCOUNT}.blob.core.windows.net/azureml/{self.manifest_blob}"},
                         {"name": "STORAGE_DOWNLOAD_PATH", "value": "/var/azureml-app"},
                         {"name": "STORAGE_CREDENTIAL_CLIENTID", "value": "8406c15d-a748-4360-81ec-bf17ab054b42"},
                         {"name": "STORAGE_CREDENTIAL_TYPE", "value": "Amlarc"},
                         {"name": "STORAGE_CREDENTIAL_ENDPOINT", "value": "https://amlarc-identity-proxy-service.azureml.svc.cluster.local/token"},
                         {"name": "STORAGE_CREDENTIAL_TOKENFILE", "value": "/identity/sidecar_token"}],
                 "resources": {"limits": {"cpu": "100m", "memory": "500Mi"}, "requests": {"cpu": "100m", "memory": "500Mi"}},
                 "volumeMounts": [{"mountPath": "/var/azureml-app", "name": "model-mount"}]},
            ],
            "volumes": [{"name": "model-mount"}, {"name": "identity-token"}],
        }
        selector = self.it_node_selector()
        if selector:
            spec["nodeSelector"] = selector
        if self.pod_phase != "Pending" or self.main_state != "pending":
            spec["nodeName"] = "aks-nodepool1-31718369-vmss000002"
        return spec

    def k8s_deployment(self) -> dict:
        meta = {"name": self.k8s_name, "namespace": NS, "uid": uid("deploy", self.k8s_name), "creationTimestamp": at(0),
                "labels": self.labels(), "generation": 1}
        if self.owner_ref:
            meta["ownerReferences"] = [{"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "OnlineDeployment", "name": self.cr_name,
                                        "uid": uid("od", self.cr_name), "controller": True, "blockOwnerDeletion": True}]
        ready = 1 if self.main_state == "ready" else 0
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": 1, "selector": {"matchLabels": {"azuremlappname": self.k8s_name}},
                         "template": {"metadata": {"labels": self.labels()}, "spec": self.pod_spec()}},
                "status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready, **({} if ready else {"unavailableReplicas": 1}),
                           "conditions": [{"type": "Available", "status": "True" if ready else "False",
                                           "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable"}]}}

    def replicaset(self) -> dict:
        name = f"{self.k8s_name}-{self.rs_hash}"
        ready = 1 if self.main_state == "ready" else 0
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": NS, "uid": uid("rs", name), "labels": {**self.labels(), "pod-template-hash": self.rs_hash},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": self.k8s_name,
                                                  "uid": uid("deploy", self.k8s_name), "controller": True}]},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"azuremlappname": self.k8s_name, "pod-template-hash": self.rs_hash}}},
                "status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready}}

    def pod(self) -> dict:
        rs = f"{self.k8s_name}-{self.rs_hash}"
        init = {"name": "storageinitializer-modeldata", "image": "mcr.microsoft.com/mir/mir-storageinitializer:46571814.1631244300887",
                "imageID": "mcr.microsoft.com/mir/mir-storageinitializer@sha256:" + hex32("si") * 2, "ready": False, "restartCount": 0}
        if self.init_state == "done":
            init.update(ready=True, state={"terminated": {"reason": "Completed", "exitCode": 0, "startedAt": self.init_started, "finishedAt": at(140)}})
        elif self.init_state == "restarted-once":
            init.update(ready=True, restartCount=1, state={"terminated": {"reason": "Completed", "exitCode": 0, "startedAt": at(110), "finishedAt": at(170)}},
                        lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": self.init_started, "finishedAt": at(95)}})
        elif self.init_state == "crashloop":
            init.update(restartCount=6, state={"waiting": {"reason": "CrashLoopBackOff",
                                                           "message": f"back-off 5m0s restarting failed container=storageinitializer-modeldata pod={self.pod_name}_{NS}({uid('pod', self.pod_name)})"}},
                        lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": at(1180), "finishedAt": at(1192)}})
        elif self.init_state == "running":
            init.update(state={"running": {"startedAt": self.init_started}})
        elif self.init_state == "oom":
            init.update(restartCount=4, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}},
                        lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": at(1100), "finishedAt": at(1290)}})
        elif self.init_state == "pending":
            init.update(state={"waiting": {"reason": "PodInitializing"}})
        main = {"name": self.main, "image": IMAGE, "imageID": f"{IMAGE}@sha256:" + hex32("img") * 2, "ready": False, "restartCount": 0, "started": False}
        if self.main_state == "ready":
            main.update(ready=True, started=True, state={"running": {"startedAt": at(150)}})
        elif self.main_state == "waiting-init":
            main.update(state={"waiting": {"reason": "PodInitializing"}})
        elif self.main_state == "crashloop":
            main.update(restartCount=5, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}},
                        lastState={"terminated": {"reason": "Error", "exitCode": 3, "startedAt": at(1200), "finishedAt": at(1214)}})
        sidecar = {"name": "identity-sidecar", "image": "mcr.microsoft.com/azureml/amlarc/docker/identity-sidecar:1.1.71", "imageID": "",
                   "ready": self.main_state != "waiting-init", "restartCount": 0, "started": self.main_state != "waiting-init",
                   "state": {"running": {"startedAt": at(150)}} if self.main_state != "waiting-init" else {"waiting": {"reason": "PodInitializing"}}}
        status = {"phase": self.pod_phase, "startTime": self.pod_started, "hostIP": "10.224.0.6", "podIP": "10.244.2.17",
                  "conditions": [{"type": "Initialized", "status": "True" if self.init_state in ("done", "restarted-once") else "False"},
                                 {"type": "Ready", "status": "True" if self.main_state == "ready" else "False"},
                                 {"type": "PodScheduled", "status": "True"}]}
        if self.main_state == "pending":
            status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                          "message": self.unschedulable_message, "lastTransitionTime": at(61)}]}
        else:
            status["initContainerStatuses"] = [init]
            status["containerStatuses"] = [main, sidecar]
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.pod_name, "generateName": f"{rs}-", "namespace": NS, "uid": uid("pod", self.pod_name),
                             "creationTimestamp": self.pod_started, "labels": {**self.labels(), "pod-template-hash": self.rs_hash},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": uid("rs", rs),
                                                  "controller": True, "blockOwnerDeletion": True}]},
                "spec": self.pod_spec(), "status": status}

    unschedulable_message = ""

    def base_events(self) -> list[dict]:
        rs = f"{self.k8s_name}-{self.rs_hash}"
        out = [event("Deployment", self.k8s_name, "ScalingReplicaSet", f"Scaled up replica set {rs} to 1", 0, component="deployment-controller"),
               event("ReplicaSet", rs, "SuccessfulCreate", f"Created pod: {self.pod_name}", 1, component="replicaset-controller")]
        if self.main_state == "pending":
            return out
        out.append(event("Pod", self.pod_name, "Scheduled", f"Successfully assigned {NS}/{self.pod_name} to aks-nodepool1-31718369-vmss000002", 61,
                         component="default-scheduler"))
        out.append(event("Pod", self.pod_name, "Pulled", 'Container image "mcr.microsoft.com/mir/mir-storageinitializer:46571814.1631244300887" already present on machine', 70,
                         field="spec.initContainers{storageinitializer-modeldata}"))
        out.append(event("Pod", self.pod_name, "Started", "Started container storageinitializer-modeldata", 75, field="spec.initContainers{storageinitializer-modeldata}"))
        if self.init_state in ("done", "restarted-once") and self.main_state in ("ready", "crashloop"):
            out.append(event("Pod", self.pod_name, "Pulled", f'Successfully pulled image "{IMAGE}" in 41.2s', 145, field=f"spec.containers{{{self.main}}}"))
            out.append(event("Pod", self.pod_name, "Started", f"Started container {self.main}", 150, field=f"spec.containers{{{self.main}}}"))
        if self.init_state in ("crashloop", "oom"):
            out.append(event("Pod", self.pod_name, "BackOff", "Back-off restarting failed container storageinitializer-modeldata in pod "
                             f"{self.pod_name}_{NS}({uid('pod', self.pod_name)})", 1192, type_="Warning", count=22,
                             field="spec.initContainers{storageinitializer-modeldata}"))
        return out

    # Sizes over 64 KiB are multiples of 512: the live round trip stores them in Azurite as sparse page blobs.
    def storage_index(self) -> dict:
        index = {f"azureml/{self.manifest_blob}": {"exists": True, "size": 1_131, "last_modified": "2026-11-20T08:59:12Z",
                                                   "kind": "storage-manifest"}}
        for path, size in {**self.model_files, **self.code_files}.items():
            index[path] = {"exists": True, "size": size, "last_modified": "2026-11-18T14:02:41Z", "listed_by": f"azureml/{self.manifest_blob}"}
        for key, value in self.index_override.items():
            index[key] = value
        return index

    def manifest_blob_text(self) -> str:
        # INVENTED: no public sample of this blob exists. The rules never read it; the collector
        # only takes the blob URLs it holds.
        return json.dumps({"Models": [{"Name": "credit-model", "Version": "3",
                                       "Files": [f"https://{ACCOUNT}.blob.core.windows.net/{p}" for p in self.model_files]}],
                           "Code": [f"https://{ACCOUNT}.blob.core.windows.net/{p}" for p in self.code_files],
                           "DownloadPath": "/var/azureml-app"}, indent=2)

    def service_json(self) -> dict:
        data = {"name": DEPLOYMENT, "endpoint": ENDPOINT, "computeType": self.compute_type, "state": self.state,
                "scoringUri": f"http://20.81.23.150/api/v1/endpoint/{ENDPOINT}/score" if self.compute_type == "Kubernetes"
                else f"https://{ENDPOINT}.eastus.inference.ml.azure.com/score",
                "model": self.model_ref, "environment": self.environment_ref, "instanceType": self.instance_type if self.compute_type == "Kubernetes" else "Standard_DS3_v2",
                "trafficPercent": 100, "authMode": "key", "compute": f"azureml:{COMPUTE}" if self.compute_type == "Kubernetes" else "",
                "requestSettings": self.request_settings, "scaleSettings": self.scale,
                "properties": {"AzureAsyncOperationUri": f"https://management.azure.com/subscriptions/5f9e7a1b-3c2d-4e8f-9a0b-1c2d3e4f5a6b/providers/"
                                                         f"Microsoft.MachineLearningServices/locations/eastus/mfeOperationsStatus/od:{uid('op', DEPLOYMENT)}:"
                                                         f"{uid('op2', DEPLOYMENT)}?api-version=2023-04-01-preview"}}
        if self.error:
            data["error"] = self.error
        return data

    def write(self, name: str, notes: str, confirmed: list[str], inferred: list[str]) -> None:
        root = HERE / name
        if root.exists():
            shutil.rmtree(root)
        (root / "kubernetes").mkdir(parents=True)
        (root / "azureml").mkdir()
        platform = "k8s_online_v2" if self.compute_type == "Kubernetes" else "managed_online_v2"
        collected = ["azureml_service", "azureml_logs", "azureml_init_logs"]
        k8s = {}
        if not self.drop_cluster:
            pod = self.pod()
            k8s = {
                "onlineendpoints": [self.cr_endpoint()], "onlinedeployments": [self.cr_deployment()], "instancetypes": self.instancetypes,
                "deployments": [self.k8s_deployment()], "replicasets": [self.replicaset()], "pods": [pod],
                "events": self.events or (self.base_events() + self.extra_events), "nodes": self.nodes,
                "networkpolicies": self.networkpolicies, "extension-pods": self.extension_pods,
                "frontend-pods": [p for p in self.extension_pods if (p["metadata"].get("labels") or {}).get("azuremlappname") == "azureml-fe"],
                "extension-deployments": self.extension_deployments, "extension-events": self.extension_events,
            }
            for resource, items in k8s.items():
                (root / "kubernetes" / f"{resource}.json").write_text(json.dumps(klist(items), indent=1) + "\n")
            collected += list(k8s) + ["container_logs", "storage_index"]
            logs = root / "logs" / self.pod_name
            logs.mkdir(parents=True)
            if self.init_state != "pending" and self.main_state != "pending":
                (logs / "storageinitializer-modeldata.log").write_text(self.init_log)
                if self.init_previous_log is not None:
                    (logs / "storageinitializer-modeldata.previous.log").write_text(self.init_previous_log)
            if self.main_state in ("ready", "crashloop"):
                (logs / f"{self.main}.log").write_text(self.main_log)
                (logs / "identity-sidecar.log").write_text(SIDECAR_LOG)
                if self.main_previous_log is not None:
                    (logs / f"{self.main}.previous.log").write_text(self.main_previous_log)
            if getattr(self, "healthcheck_log", None):
                hc = root / "logs" / "healthcheck"
                hc.mkdir(parents=True)
                (hc / "healthcheck.log").write_text(self.healthcheck_log)
            storage = root / "storage"
            (storage / "azureml").mkdir(parents=True)
            (storage / "index.json").write_text(json.dumps(self.storage_index(), indent=1) + "\n")
            if self.storage_index()[f"azureml/{self.manifest_blob}"].get("exists"):
                (storage / "azureml" / self.manifest_blob).write_text(self.manifest_blob_text())
        if self.build_log is not None:
            path, text = self.build_log
            target = root / "storage" / "azureml" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            collected.append("build_log")
        (root / "azureml" / "service.json").write_text(json.dumps(self.service_json(), indent=1) + "\n")
        (root / "azureml" / "logs.txt").write_text(self.main_log if self.main_state in ("ready", "crashloop") else
                                                     "Logs are not available yet: the container is not running. Try again later.\n")
        (root / "azureml" / "init-logs.txt").write_text(self.init_log if self.init_state != "pending" else
                                                          "Logs are not available yet: the container is not running. Try again later.\n")
        if self.operation:
            (root / "azureml" / "operation.txt").write_text(self.operation)
        for fname, text in self.texts.items():
            (root / "text").mkdir(exist_ok=True)
            (root / "text" / fname).write_text(text)
        manifest = {"format_version": 1, "service": self.k8s_name if self.compute_type == "Kubernetes" else DEPLOYMENT,
                    "namespace": NS if self.compute_type == "Kubernetes" else "", "workspace": WS, "collected_at": self.collected_at,
                    "collector": {"name": "aml-doctor", "version": "0.1.0"}, "collected": sorted(set(collected)),
                    "platform": platform, "endpoint": ENDPOINT, "deployment": DEPLOYMENT,
                    "compute": COMPUTE if self.compute_type == "Kubernetes" else ""}
        if self.drop_cluster:
            manifest["not_collected"] = [{"what": w, "error": "a managed online endpoint has no cluster to read"}
                                         for w in ("pods", "events", "onlinedeployments", "instancetypes", "networkpolicies", "extension-pods",
                                                   "container_logs", "storage_index")]
        (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        lines = [f"# {name}", "", notes.strip(), "", "## Confirmed by public dumps", ""]
        lines += [f"- {c}" for c in COMMON_CONFIRMED + confirmed]
        lines += ["", "## Inferred or invented (no rule depends on these)", ""]
        lines += [f"- {c}" for c in COMMON_INFERRED + inferred]
        (root / "NOTES.md").write_text("\n".join(lines) + "\n")


COMMON_CONFIRMED = [
    "pod labels `azuremlappname`, `isazuremlapp: \"true\"`, `ml.azure.com/compute`, `ml.azure.com/deployment-name` (keys), "
    "`generateName`, the pull secret `<...>-registry.azurecr.io` shape, the init container `storageinitializer-modeldata` "
    "with its image, STORAGE_* env and 100m/500Mi (rw:v2-pod-yaml-instancetype-ignored-01, MachineLearningNotebooks#1900)",
    "`InstanceType` CRs in `amlarc.azureml.com/v1alpha1` with `spec.nodeSelector` and `spec.resources` (same issue)",
    "the `azureml` namespace's pods, names, readiness and labels, `azureml-fe-v2` 4/4, `healthcheck` Completed "
    "(rw:v2-extension-get-all-azureml-namespace-01)",
    "the v2 environment image name `<acr>.azurecr.io/azureml/azureml_<32hex>` (rw:v2-image-build-log-serverless-conda-unsolvable-01)",
]
COMMON_INFERRED = [
    "the `onlineendpoints`/`onlinedeployments` CRs: apiVersion `amlarc.azureml.com/v1alpha1`, every spec and status field",
    "the owner reference from the Kubernetes Deployment to the OnlineDeployment CR",
    "the value of `ml.azure.com/deployment-name` (the deployment's name), the Deployment's and the CR's names",
    "the main container's name and the identity sidecar's name (`identity-sidecar`, from `online-deployment/identity-sidecar` in https://learn.microsoft.com/azure/machine-learning/reference-kubernetes)",
    "the inference server listening on 5001 (the port azureml-fe reaches, MS Docs) and the probe settings (https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online defaults: period 10, failure threshold 30)",
    "the STORAGE_MANIFEST_URL blob's content and every storage-initializer log line",
    "the `relayserver` pod's name hash and the extension containers' names",
    "azureml/service.json: the fields azure-ai-ml's OnlineDeployment gives (provisioning_state as `state`), as the collector writes them",
]

STORAGE_INIT_OK = """\
2026-11-20 09:01:15,402 | storage-initializer | INFO | Reading storage manifest
2026-11-20 09:01:16,118 | storage-initializer | INFO | Got token from credential endpoint
2026-11-20 09:01:16,950 | storage-initializer | INFO | Downloading 3 file(s) to /var/azureml-app
2026-11-20 09:02:19,511 | storage-initializer | INFO | Downloaded 3 file(s), 48214 KB
2026-11-20 09:02:19,512 | storage-initializer | INFO | Storage initialization completed
"""
INFERENCE_SERVER_OK = """\
Azure ML Inferencing HTTP server v1.3.4


Server Settings
---------------
Entry Script Name: /var/azureml-app/onlinescoring/score.py
Model Directory: /var/azureml-app/azureml-models/credit-model/3
Config File: None
Worker Count: 1
Worker Timeout (seconds): 300
Server Port: 5001
Health Port: 5001
Application Insights Enabled: false
Application Insights Key: None
Inferencing HTTP server version: azmlinfsrv/1.3.4
CORS for the specified origins: None
Create dedicated endpoint for health: None


Server Routes
---------------
Liveness Probe: GET   127.0.0.1:5001/
Score:          POST  127.0.0.1:5001/score

2026-11-20 09:02:31,204 I [10] gunicorn.error - Starting gunicorn 22.0.0
2026-11-20 09:02:31,205 I [10] gunicorn.error - Listening at: http://0.0.0.0:5001 (10)
2026-11-20 09:02:31,205 I [10] gunicorn.error - Using worker: sync
2026-11-20 09:02:31,209 I [67] gunicorn.error - Booting worker with pid: 67
2026-11-20 09:02:33,877 I [67] azmlinfsrv - AML_FLASK_ONE_COMPATIBILITY is set. Patched Flask to ensure compatibility with Flask 1.
Initializing logger
2026-11-20 09:02:33,880 I [67] azmlinfsrv - Starting up app insights client
2026-11-20 09:02:35,402 I [67] azmlinfsrv.user_script - Found user script at /var/azureml-app/onlinescoring/score.py
2026-11-20 09:02:35,402 I [67] azmlinfsrv.user_script - run() is not decorated. Server will invoke it with the input in JSON string.
2026-11-20 09:02:35,402 I [67] azmlinfsrv.user_script - Invoking user's init function
2026-11-20 09:02:37,991 I [67] azmlinfsrv.user_script - Users's init has completed successfully
2026-11-20 09:02:37,994 I [67] azmlinfsrv.swagger - Swaggers are prepared for the following versions: [2, 3, 3.1].
2026-11-20 09:02:37,994 I [67] azmlinfsrv - Scoring timeout is found from os.environ: 5000 ms
2026-11-20 09:02:37,995 I [67] azmlinfsrv - AML_FLASK_ONE_COMPATIBILITY is set. Patched Flask to ensure compatibility with Flask 1.
2026-11-20 09:02:48,012 I [67] gunicorn.access - 127.0.0.1 - - [20/Nov/2026:09:02:48 +0000] "GET / HTTP/1.0" 200 7 "-" "kube-probe/1.29"
2026-11-20 09:12:05,377 I [67] gunicorn.access - 10.244.1.9 - - [20/Nov/2026:09:12:05 +0000] "POST /score HTTP/1.0" 200 12 "-" "python-requests/2.32.3"
"""
SIDECAR_LOG = "2026-11-20T09:02:30Z INFO identity sidecar started; token file /identity/sidecar_token refreshed\n"
HEALTHCHECK_OK = None  # a passing report's wording is not public: a healthy bundle has no healthcheck log


def node(name: str, cpu="3860m", memory="11393380Ki", pool="nodepool1") -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"agentpool": pool, "kubernetes.azure.com/agentpool": pool,
                                                  "node.kubernetes.io/instance-type": "Standard_DS3_v2", "kubernetes.io/os": "linux"}},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}, "capacity": {"cpu": "4", "memory": "16393380Ki", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": "v1.29.7", "containerRuntimeVersion": "containerd://1.7.15-1"}}}


def event(kind, name, reason, message, seconds, *, type_="Normal", count=1, component="kubelet", field="", namespace=NS) -> dict:
    ev_name = f"{name}.{hex32(kind, name, reason, message)[:16]}"
    obj = {"kind": kind, "name": name, "namespace": namespace, "uid": uid({"Deployment": "deploy", "ReplicaSet": "rs", "Pod": "pod"}.get(kind, kind), name)}
    if field:
        obj["fieldPath"] = field
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": ev_name, "namespace": namespace, "uid": uid("ev", ev_name)},
            "involvedObject": obj, "reason": reason, "message": message, "type": type_, "count": count,
            "firstTimestamp": at(seconds), "lastTimestamp": at(seconds), "source": {"component": component}, "reportingComponent": component}


def networkpolicy(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NS, "uid": uid("np", name)}, "spec": spec}


DNS_EGRESS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
              "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
AZUREML_NS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "azureml"}}}


# ----------------------------------------------------------------------------- the scenarios
def scenarios() -> None:
    built = []

    def done(name, v, notes, confirmed=(), inferred=()):
        v.write(name, notes, list(confirmed), list(inferred))
        built.append(name)

    # healthy ---------------------------------------------------------------------------------
    done("v2-healthy", V2(), "A healthy Kubernetes online deployment: storage initializer completed, inference server ready, "
         "extension healthy, no NetworkPolicy. Every v2 rule must stay silent.")

    # storage initializer: the manifest blob is missing ------------------------------------------
    v = V2(main="online-deployment")
    v.init_state, v.main_state, v.pod_phase = "crashloop", "waiting-init", "Pending"
    v.index_override = {f"azureml/{v.manifest_blob}": {"exists": False, "kind": "storage-manifest"}}
    for key in list(v.model_files) + list(v.code_files):
        v.index_override[key] = {"exists": False, "note": "not checked: the manifest that lists it is missing"}
    v.index_override = {f"azureml/{v.manifest_blob}": {"exists": False, "kind": "storage-manifest"}}
    v.model_files, v.code_files = {}, {}
    v.init_log = (f"2026-11-20 09:19:41,206 | storage-initializer | INFO | Reading storage manifest\n"
                  f"2026-11-20 09:19:41,902 | storage-initializer | ERROR | Failed to read https://{ACCOUNT}.blob.core.windows.net/azureml/{v.manifest_blob}: "
                  "404 The specified blob does not exist. ErrorCode:BlobNotFound\n")
    v.init_previous_log = v.init_log
    v.state = "Creating"
    done("v2-storage-manifest-blob-missing", v,
         "The blob that STORAGE_MANIFEST_URL names is gone from the workspace storage account: the storage initializer exits 1 "
         "on every start (Init:CrashLoopBackOff) and the inference server never starts. AML025 must rank first.",
         inferred=["the BlobNotFound log line (its wording is Azure Storage's; the storage initializer's own format is unknown)"])

    v = V2()
    v.init_state, v.init_previous_log = "restarted-once", ("2026-11-20 09:01:15,402 | storage-initializer | ERROR | Failed to read "
                                                           f"https://{ACCOUNT}.blob.core.windows.net/azureml/{v.manifest_blob}: 503 Server Busy\n")
    done("v2-storage-init-restarted-recovered", v,
         "Near-miss of v2-storage-manifest-blob-missing: the storage initializer failed once (a 503 from storage), restarted, "
         "completed, and the deployment is ready. No v2 rule may fire.")

    # storage initializer: a model file the manifest lists is missing ----------------------------
    v = V2(k8s_name="blue-credit-ep", main="online-deployment")
    v.init_state, v.main_state, v.pod_phase = "crashloop", "waiting-init", "Pending"
    missing = f"{BLOBSTORE}/{MODEL_DIR}/model.pkl"
    v.index_override = {missing: {"exists": False, "listed_by": f"azureml/{v.manifest_blob}"}}
    v.init_log = ("2026-11-20 09:19:41,206 | storage-initializer | INFO | Reading storage manifest\n"
                  "2026-11-20 09:19:42,011 | storage-initializer | INFO | Downloading 3 file(s) to /var/azureml-app\n"
                  f"2026-11-20 09:19:42,377 | storage-initializer | ERROR | Failed to download https://{ACCOUNT}.blob.core.windows.net/{missing}: "
                  "404 The specified blob does not exist. ErrorCode:BlobNotFound\n")
    v.state = "Failed"
    v.error = {"code": "BadArgument", "message": "Unable to download user model. Please check the model and its files exist."}
    done("v2-storage-model-file-missing", v,
         "The manifest blob exists, but one model file it lists was deleted from the default datastore's container: the storage "
         "initializer fails on that file. AML025 must rank first and name the file.",
         inferred=["the model's blob paths under `azureml-blobstore-<guid>/LocalUpload/...` (the v2 default datastore layout)",
                   "BadArgument 'Unable to download user model' as the deployment's error (the docs' sub-case text)"])

    v = V2(k8s_name="blue-credit-ep")
    v.index_override = {f"azureml/credit-model_blue-credit-ep_model_config_map.json_{hex32('old')}": {"exists": False, "kind": "storage-manifest"}}
    done("v2-storage-stale-manifest-missing", v,
         "Near-miss of v2-storage-model-file-missing: an older deployment's manifest blob is missing from the index, but the pod's "
         "STORAGE_MANIFEST_URL names another one that exists, with every file present; the deployment is ready. AML025 stays silent.")

    # storage initializer: the identity proxy gives no token --------------------------------------
    v = V2(k8s_name="credit-ep-blue")
    v.init_state, v.main_state, v.pod_phase = "crashloop", "waiting-init", "Pending"
    for p in v.extension_pods:
        if p["metadata"]["name"].startswith("amlarc-identity-proxy"):
            cs = p["status"]["containerStatuses"][0]
            cs.update(ready=False, restartCount=9, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=identity-proxy"}},
                      lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": at(1100), "finishedAt": at(1101)}})
            p["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    v.extension_deployments = extension_deployments(proxy_ready=0)
    v.init_log = ("2026-11-20 09:19:41,206 | storage-initializer | INFO | Reading storage manifest\n"
                  "2026-11-20 09:19:41,411 | storage-initializer | ERROR | Failed to get token from "
                  "https://amlarc-identity-proxy-service.azureml.svc.cluster.local/token: 503 Service Unavailable\n")
    v.state = "Creating"
    done("v2-storage-token-failed", v,
         "The identity proxy in `azureml` is crash-looping, so the storage initializer gets no token for the storage account and "
         "exits 1. AML026 must rank first and point at amlarc-identity-proxy.",
         inferred=["the identity proxy's container names and its crash", "the token-failure log line"])

    v = V2(k8s_name="credit-ep-blue")
    for p in v.extension_pods:
        if p["metadata"]["name"].startswith("amlarc-identity-proxy"):
            p["status"]["containerStatuses"][0].update(restartCount=2, lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": at(-800), "finishedAt": at(-790)}})
    done("v2-identity-proxy-restarted-ready", v,
         "Near-miss of v2-storage-token-failed: the identity proxy restarted twice before this deployment, is ready now, and the "
         "storage initializer completed. AML026 stays silent.")

    # a NetworkPolicy blocks 9999 to the identity proxy -------------------------------------------
    v = V2()
    v.init_state, v.main_state, v.pod_phase = "crashloop", "waiting-init", "Pending"
    v.networkpolicies = [networkpolicy("default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [DNS_EGRESS]})]
    v.init_log = ("2026-11-20 09:19:41,206 | storage-initializer | INFO | Reading storage manifest\n"
                  "2026-11-20 09:20:11,214 | storage-initializer | ERROR | Failed to get token from "
                  "https://amlarc-identity-proxy-service.azureml.svc.cluster.local/token: connection timed out\n")
    v.state = "Creating"
    done("v2-networkpolicy-blocks-identity-proxy", v,
         "A default-deny egress NetworkPolicy in the compute namespace allows only DNS: the deployment's pods cannot reach the "
         "identity proxy in `azureml` (port 9999), so the storage initializer gets no token. AML028 must rank first.",
         confirmed=["the in-cluster ports: model pods reach amlarc-identity-proxy on 9999, azureml-fe reaches model pods on 5001 "
                    "(MS Docs, 'In-cluster communication requirements')"],
         inferred=["the timeout log line"])

    v = V2()
    v.networkpolicies = [networkpolicy("default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress", "Ingress"],
                                                               "egress": [DNS_EGRESS, {"to": [AZUREML_NS], "ports": [{"port": 9999, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]},
                                                                          {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443, "protocol": "TCP"}]}],
                                                               "ingress": [{"from": [AZUREML_NS], "ports": [{"port": 5001, "protocol": "TCP"}]}]})]
    done("v2-networkpolicy-allows-extension", v,
         "Near-miss of both NetworkPolicy scenarios: a strict policy that allows exactly what the extension needs (egress to "
         "`azureml` on 9999, ingress from `azureml` on 5001, DNS). The deployment is ready; AML028 stays silent.")

    # a NetworkPolicy blocks 5001 from azureml-fe ------------------------------------------------
    v = V2(k8s_name="blue-credit-ep", main="online-deployment")
    v.networkpolicies = [networkpolicy("same-namespace-only", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]})]
    v.texts = {"invoke.txt": ("$ az ml online-endpoint invoke -n credit-ep -d blue --request-file sample.json\n"
                              "ERROR: (None) Response status code does not indicate success: 503 (Service Unavailable).\n"
                              "upstream connect error or disconnect/reset before headers. reset reason: connection timeout\n")}
    done("v2-networkpolicy-blocks-scoring", v,
         "The deployment is ready, but an ingress NetworkPolicy admits only pods of its own namespace: azureml-fe-v2 in `azureml` "
         "cannot reach the model pods on 5001, and every request answers 503. AML028 must rank first.",
         confirmed=["envoy's `upstream connect error or disconnect/reset before headers` wording (azureml-fe-v2 runs envoy: https://learn.microsoft.com/azure/machine-learning/reference-kubernetes)"],
         inferred=["the exact status azureml-fe returns when the upstream connection times out"])

    # the storage initializer downloads a large model with 100m CPU --------------------------------
    v = V2()
    v.init_state, v.main_state, v.pod_phase = "running", "waiting-init", "Pending"
    v.model_files = {f"{BLOBSTORE}/{MODEL_DIR}/model.safetensors": 14_763_212_288, f"{BLOBSTORE}/{MODEL_DIR}/config.json": 1_204}
    v.init_log = ("2026-11-20 09:01:15,402 | storage-initializer | INFO | Reading storage manifest\n"
                  "2026-11-20 09:01:16,118 | storage-initializer | INFO | Got token from credential endpoint\n"
                  "2026-11-20 09:01:16,950 | storage-initializer | INFO | Downloading 3 file(s) to /var/azureml-app\n")
    v.state = "Creating"
    v.collected_at = at(1800)
    done("v2-storage-slow-download", v,
         "A 14 GiB model, downloaded by a storage initializer limited to 100m CPU and 500Mi: after 29 minutes it is still "
         "running and the inference server has not started. AML027 must rank first.",
         inferred=["that 100m CPU makes a download this slow (no public source states it; a crictl workaround circulates in public code)"])

    v = V2()
    v.init_state, v.main_state, v.pod_phase = "running", "waiting-init", "Pending"
    v.init_log = "2026-11-20 09:01:15,402 | storage-initializer | INFO | Reading storage manifest\n"
    v.collected_at = at(120)
    done("v2-storage-init-just-started", v,
         "Near-miss of v2-storage-slow-download: the storage initializer started 45 s ago for a 48 MB model. Nothing is wrong yet.")

    # the instance type does not fit the nodes --------------------------------------------------
    v = V2(k8s_name="credit-ep-blue", instance_type="standard-cpuxlarge")
    v.instancetypes.append({"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType",
                            "metadata": {"name": "standard-cpuxlarge", "uid": uid("it", "xl")},
                            "spec": {"resources": {"limits": {"cpu": "8", "memory": "32Gi"}, "requests": {"cpu": "8", "memory": "32Gi"}}}})
    v.main_state, v.pod_phase = "pending", "Pending"
    v.unschedulable_message = "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    v.extra_events = [event("Pod", v.pod_name, "FailedScheduling", v.unschedulable_message, 61, type_="Warning", count=31, component="default-scheduler")]
    v.state = "Failed"
    v.error = {"code": "OutOfQuota", "message": "Kubernetes unschedulable. Details:0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory."}
    done("v2-instancetype-too-large", v,
         "The deployment's instance type asks for 8 CPU and 32Gi; every node has 3.86 CPU and 10.9Gi allocatable. The pod stays "
         "Pending and AzureML reports `OutOfQuota: Kubernetes unschedulable`. AML029 must rank first.",
         confirmed=["`OutOfQuota: Kubernetes unschedulable. Details:0/1 nodes are available: ...` (troubleshooting page)"])

    v = V2(k8s_name="credit-ep-blue", instance_type="standard-cpuproc")
    v.pod_resources = {"limits": {"cpu": "100m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "512Mi"}}
    done("v2-instancetype-resources-differ-running", v,
         "Near-miss of the instance-type scenarios, after #1900: the pod's resources (100m/512Mi) differ from its InstanceType "
         "(1100m/1500Mi), but the pod is scheduled and ready. AML029 only reports pods that do not fit; it stays silent.")

    v = V2(instance_type="gpu-nc4")
    v.instancetypes.append({"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType", "metadata": {"name": "gpu-nc4", "uid": uid("it", "nc4")},
                            "spec": {"nodeSelector": {"agentpool": "gpuproc2"},
                                     "resources": {"limits": {"cpu": "1", "memory": "20Gi"}, "requests": {"cpu": "700m", "memory": "1900Mi"}}}})
    v.main_state, v.pod_phase = "pending", "Pending"
    v.unschedulable_message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    v.extra_events = [event("Pod", v.pod_name, "FailedScheduling", v.unschedulable_message, 61, type_="Warning", count=12, component="default-scheduler")]
    v.state = "Failed"
    v.error = {"code": "PodUnschedulable", "message": "No node matches the node affinity selector of the pod."}
    done("v2-instancetype-nodeselector-no-node", v,
         "The instance type selects `agentpool=gpuproc2` (#1900's InstanceType), but the cluster has only `nodepool1` nodes: the "
         "pod cannot be placed and AzureML reports PodUnschedulable. AML029 must rank first.",
         confirmed=["the InstanceType `standard-nc4` with `nodeSelector: {agentpool: gpuproc2}` (#1900)"],
         inferred=["the PodUnschedulable message text"])

    # azureml-fe-v2 cannot be scheduled (HA on two nodes) ----------------------------------------
    v = V2()
    v.nodes = v.nodes[:2]
    pending = []
    for suffix in ("7tq2m", "b8w4z"):
        p = fe_pod(suffix)
        p["spec"].pop("nodeName", None)
        p["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                          "message": "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."}]}
        pending.append(p)
    running2 = fe_pod("k2d9x", node="aks-nodepool1-31718369-vmss000000")
    v.extension_pods = [p for p in v.extension_pods if not p["metadata"]["name"].startswith("azureml-fe-v2")] + [fe_pod(), running2] + pending
    v.extension_deployments = extension_deployments(fe_replicas=4, fe_ready=2)
    v.extension_events = [event("Pod", p["metadata"]["name"], "FailedScheduling", "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
                                30, type_="Warning", count=45, component="default-scheduler", namespace="azureml") for p in pending]
    v.healthcheck_log = ("Status: Passed Name: kube-version ErrorCode: ErrorMessage:\n"
                         "Status: Failed Name: nodes ErrorCode: E40002 ErrorMessage: INSUFFICIENT_NODE\n")
    v.state = "Failed"
    v.error = {"code": "BadArgument", "message": "Azureml-fe for kubernetes online endpoint isn't ready. This component should have at least one healthy replica on the cluster."}
    v.init_state, v.main_state, v.pod_phase = "done", "ready", "Running"
    done("v2-azureml-fe-unschedulable-ha", v,
         "The extension was installed with inferenceRouterHA on a two-node cluster: azureml-fe-v2 wants more replicas than nodes "
         "and its pod anti-affinity leaves two Pending. AML030 must rank first.",
         confirmed=["`Status: Failed Name: <checker> ErrorCode: E4xxxx ErrorMessage: ...` report lines (AML-Kubernetes#293)",
                    "E40002 INSUFFICIENT_NODE for inferenceRouterHA on fewer than three nodes (AML-Kubernetes troubleshooting)"],
         inferred=["four replicas and required anti-affinity per node for the HA router", "the healthcheck pod's log as the report's carrier"])

    v = V2()
    old = event("Pod", "azureml-fe-v2-5868d64648-6jk9c", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.", -8000,
                type_="Warning", count=3, component="default-scheduler", namespace="azureml")
    v.extension_events = [old]
    done("v2-azureml-fe-scheduled-late", v,
         "Near-miss of v2-azureml-fe-unschedulable-ha: the router pod waited for a node once, long ago, and runs 4/4 now. AML030 stays silent.")

    # azureml-fe-v2 crash-loops --------------------------------------------------------------------
    v = V2(k8s_name="blue-credit-ep")
    p = next(p for p in v.extension_pods if p["metadata"]["name"].startswith("azureml-fe-v2"))
    envoy = p["status"]["containerStatuses"][0]
    envoy.update(ready=False, restartCount=14, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=envoy"}},
                 lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": at(1400), "finishedAt": at(1401)}})
    p["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
    v.extension_deployments = extension_deployments(fe_ready=0)
    v.state = "Failed"
    v.error = {"code": "ScoringFeUnhealthy", "message": "The azureml-fe system service that runs in the cluster isn't found or is unhealthy."}
    done("v2-azureml-fe-crashloop", v,
         "azureml-fe-v2's envoy container crash-loops (3/4 ready): the router cannot serve and AzureML reports ScoringFeUnhealthy. "
         "AML030 must rank first.", inferred=["the container names inside azureml-fe-v2 (https://learn.microsoft.com/azure/machine-learning/reference-kubernetes lists envoy, xds, clb)"])

    v = V2(k8s_name="blue-credit-ep")
    p = next(p for p in v.extension_pods if p["metadata"]["name"].startswith("azureml-fe-v2"))
    p["status"]["containerStatuses"][0].update(restartCount=2, lastState={"terminated": {"reason": "Error", "exitCode": 1, "startedAt": at(-700), "finishedAt": at(-690)}})
    done("v2-azureml-fe-restarted-ready", v,
         "Near-miss of v2-azureml-fe-crashloop: envoy restarted twice an hour before the deployment and is 4/4 ready now. AML030 stays silent.")

    # a registry model on a Kubernetes endpoint -----------------------------------------------------
    v = V2()
    v.model_ref = "azureml://registries/azureml/models/distilbert-base-uncased-finetuned-sst-2-english/versions/11"
    v.drop_cluster = False
    v.init_state, v.main_state, v.pod_phase = "crashloop", "waiting-init", "Pending"
    v.init_log = ("2026-11-20 09:19:41,206 | storage-initializer | INFO | Reading storage manifest\n"
                  "2026-11-20 09:19:41,902 | storage-initializer | ERROR | Failed to download model azureml://registries/azureml/models/"
                  "distilbert-base-uncased-finetuned-sst-2-english/versions/11: 403 This request is not authorized to perform this operation. "
                  "ErrorCode:AuthorizationFailure\n")
    v.state = "Failed"
    v.texts = {"deployment.yml": ("$schema: https://azuremlschemas.azureedge.net/latest/kubernetesOnlineDeployment.schema.json\n"
                                  "name: blue\nendpoint_name: credit-ep\n"
                                  "model: azureml://registries/azureml/models/distilbert-base-uncased-finetuned-sst-2-english/versions/11\n"
                                  "instance_type: defaultinstancetype\ninstance_count: 1\n")}
    done("v2-registry-model-on-kubernetes", v,
         "The deployment uses a model from the `azureml` registry (the model catalog), which Kubernetes online endpoints do not "
         "support. AML031 must rank first.",
         confirmed=["\"Models (including the foundational model) from the Model Catalog and Registry aren't supported on Kubernetes "
                    "online endpoints\" (how-to-attach-kubernetes-anywhere)", "the kubernetesOnlineDeployment YAML schema URL and keys"],
         inferred=["what the storage initializer prints for a registry model (the 403 line is invented)"])

    v = V2(k8s_name="credit-ep-blue")
    v.texts = {"deployment.yml": ("$schema: https://azuremlschemas.azureedge.net/latest/kubernetesOnlineDeployment.schema.json\n"
                                  "name: blue\nendpoint_name: credit-ep\nmodel: azureml:credit-model:3\n"
                                  "environment: azureml://registries/azureml/environments/sklearn-1.5/versions/14\n"
                                  "instance_type: defaultinstancetype\n")}
    v.environment_ref = "azureml://registries/azureml/environments/sklearn-1.5/versions/14"
    done("v2-workspace-model-on-kubernetes", v,
         "Near-miss of v2-registry-model-on-kubernetes: a workspace model (`azureml:credit-model:3`) with a curated environment from "
         "the `azureml` registry; the deployment is ready. The documented limit is on models, so AML031 stays silent.")

    # scoring: 504 after the default 5 s request timeout -----------------------------------------------
    v = V2(main="online-deployment")
    v.main_log = INFERENCE_SERVER_OK + (
        '2026-11-20 09:20:11,905 I [67] gunicorn.access - 10.244.1.9 - - [20/Nov/2026:09:20:04 +0000] "POST /score HTTP/1.0" 200 41 "-" "python-requests/2.32.3"\n'
        "2026-11-20 09:20:11,906 I [67] azmlinfsrv - POST /score 200 7412.338ms 41\n")
    v.texts = {"invoke.txt": ("$ az ml online-endpoint invoke -n credit-ep -d blue --request-file batch-64.json\n"
                              "ERROR: (None) Response status code does not indicate success: 504 (Gateway Timeout). upstream request timeout\n")}
    done("v2-scoring-504-request-timeout", v,
         "run() takes 7.4 s for a 64-row batch; the deployment keeps request_settings.request_timeout_ms at its default of 5000, so "
         "azureml-fe answers 504 while the server still finishes with 200. AML032 must rank first.",
         confirmed=["504: 'The default timeout setting is 5 seconds' and request_timeout_ms default 5000 (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints)",
                    "`Scoring timeout is found from os.environ` and gunicorn access-log lines (azureml-inference-server-http)"],
         inferred=["the `POST /score 200 7412.338ms` timing line's exact format"])

    v = V2(main="online-deployment")
    v.texts = {"invoke.txt": ("$ az ml online-endpoint invoke -n credit-ep -d blue --request-file sample.json\n"
                              '{"predictions": [0, 1, 0]}\n')}
    done("v2-scoring-200", v,
         "Near-miss of v2-scoring-504-request-timeout: the same invoke answers 200 within the timeout. AML032 stays silent.")

    # a retry after a failed first deployment: 'unrecoverable state' hides the cause ---------------------
    v = V2()
    v.main_state = "crashloop"
    v.main_log = INFERENCE_SERVER_OK.split("2026-11-20 09:02:37,991")[0] + (
        "2026-11-20 09:20:01,117 E [67] azmlinfsrv - User's init function failed\n"
        "2026-11-20 09:20:01,118 E [67] azmlinfsrv - Encountered Exception Traceback (most recent call last):\n"
        '  File "/opt/miniconda/envs/amlenv/lib/python3.10/site-packages/azureml_inference_server_http/server/user_script.py", line 117, in invoke_init\n'
        "    self._user_init()\n"
        '  File "/var/azureml-app/onlinescoring/score.py", line 14, in init\n'
        '    threshold = float(os.environ["CREDIT_THRESHOLD"])\n'
        '  File "/opt/miniconda/envs/amlenv/lib/python3.10/os.py", line 680, in __getitem__\n'
        "    raise KeyError(key) from None\n"
        "KeyError: 'CREDIT_THRESHOLD'\n")
    v.main_previous_log = v.main_log
    v.state = "Failed"
    v.error = {"code": "BadRequest", "message": "The request is invalid.",
               "details": [{"code": "InferencingClientCallFailed", "message": '{"errors": {"": ["Specified deployment [blue] failed during initial provisioning and is in an unrecoverable state. Delete and re-create."]}, "title": "One or more validation errors occurred."}'}]}
    v.operation = ("(BadRequest) The request is invalid.\nCode: BadRequest\nMessage: The request is invalid.\n"
                   "Exception Details:\t(InferencingClientCallFailed) { \"errors\": { \"\": [ \"Specified deployment [blue] failed during initial "
                   "provisioning and is in an unrecoverable state. Delete and re-create.\" ] }, \"title\": \"One or more validation errors occurred.\" }\n"
                   "\tCode: InferencingClientCallFailed\n"
                   "Additional Information:Type: ComponentName\nInfo: {\n    \"value\": \"managementfrontend\"\n}\n")
    done("v2-unrecoverable-after-failed-init", v,
         "The first deployment failed because init() raises KeyError; the user fixed nothing and retried, and AzureML answers "
         "'failed during initial provisioning and is in an unrecoverable state' (InferencingClientCallFailed). The KeyError is the "
         "root cause; AML033 reports the retry's answer as a consequence, and the InferencingClientCallFailed signature must not "
         "claim the extension is unreachable.",
         confirmed=["the whole error shape and the 'unrecoverable state' wording (AML Endpoint Deployment troubleshooting note, 2023-03-16)"],
         inferred=["the init() KeyError as the first failure (any first failure would do)"])

    v = V2()
    v.main_state = "crashloop"
    v.main_log = v.main_log.split("2026-11-20 09:02:37,991")[0] + (
        "2026-11-20 09:20:01,117 E [67] azmlinfsrv - User's init function failed\n"
        "2026-11-20 09:20:01,118 E [67] azmlinfsrv - Encountered Exception Traceback (most recent call last):\n"
        '  File "/var/azureml-app/onlinescoring/score.py", line 14, in init\n'
        '    threshold = float(os.environ["CREDIT_THRESHOLD"])\n'
        "KeyError: 'CREDIT_THRESHOLD'\n")
    v.state = "Failed"
    v.error = {"code": "ResourceNotReady", "message": "User container has crashed or terminated."}
    done("v2-init-keyerror-first-failure", v,
         "Near-miss of v2-unrecoverable-after-failed-init: the same first failure without a retry; no 'unrecoverable state' answer. "
         "AML033 stays silent.")

    # image build failure: the real conda log -----------------------------------------------------------
    real = HERE.parents[2] / "shared" / "real-world" / "v2-image-build-log-serverless-conda-unsolvable-01.txt"
    v = V2()
    v.drop_cluster = True
    v.compute_type = "Kubernetes"
    v.state = "Failed"
    v.main_state = v.init_state = "pending"
    v.error = {"code": "ImageBuildFailure", "message": "Image build failed. For more details, check log file azureml/ImageLogs/imgbldrun_7cd3461/build.log."}
    v.operation = ("(ImageBuildFailure) Image build failed. For more details, check log file azureml/ImageLogs/imgbldrun_7cd3461/build.log.\n"
                   "Code: ImageBuildFailure\nMessage: Image build failed. The build log is available in the workspace blob store "
                   "under the path \"/azureml/ImageLogs/imgbldrun_7cd3461/build.log\"\n")
    if real.is_file():
        v.build_log = ("ImageLogs/imgbldrun_7cd3461/build.log", _build_log_from(real.read_text()))
    done("v2-image-build-conda-unsolvable", v,
         "The environment's conda file cannot be solved (pytorch-cuda): the image never builds, so nothing reaches the cluster. "
         "The build log is the real one in rw:v2-image-build-log-serverless-conda-unsolvable-01. AML001 must rank first.",
         confirmed=["the whole build log (Kyrsang/automl-conda-yml-debug README, run imgbldrun_7cd3461)"],
         inferred=["the ImageBuildFailure message text around the log path"])
    _fix_manifest_for_build(HERE / "v2-image-build-conda-unsolvable")

    if real.is_file():
        v = V2()
        v.drop_cluster = True
        v.main_state = v.init_state = "pending"
        v.state = "Creating"
        head = "\n".join(_build_log_from(real.read_text()).splitlines()[:8])
        v.build_log = ("ImageLogs/imgbldrun_5be0a12/build.log", head + "\n2024-10-15T00:41:07: Successfully built 6d3f2a1c9b7e\n"
                       "2024-10-15T00:41:07: Successfully tagged eunsangacr.azurecr.io/azureml/azureml_c248495abd8eaaa562bfe1fd02341bdd:latest\n")
        done("v2-image-build-warnings-only", v,
             "Near-miss of v2-image-build-conda-unsolvable: a build log with the real log's registry-login warnings "
             "(WARNING! Using --password via the CLI is insecure) that ends in a successful tag; the deployment is still "
             "being created. AML001 stays silent.",
             confirmed=["the log's first lines (the same real build log)"], inferred=["the two 'Successfully' lines"])
        _fix_manifest_for_build(HERE / "v2-image-build-warnings-only", "the image is still being built: no pods yet")

    v = V2()
    v.compute_type = "Managed"
    v.drop_cluster = True
    done("v2-managed-healthy", v,
         "Near-miss of v2-managed-import-error: a managed online deployment that started and serves. No rule may fire; the "
         "cluster rules are not checked.")

    # managed online endpoint: no cluster, azure-ai-ml's state and logs only ---------------------------
    v = V2()
    v.compute_type = "Managed"
    v.drop_cluster = True
    v.main_state = "crashloop"
    v.init_state = "done"
    v.main_log = INFERENCE_SERVER_OK.split("2026-11-20 09:02:35,402 I [67] azmlinfsrv.user_script - Found")[0] + (
        "2026-11-20 09:20:01,114 I [67] azmlinfsrv.user_script - Found user script at /var/azureml-app/onlinescoring/score.py\n"
        "2026-11-20 09:20:01,115 E [67] azmlinfsrv - Traceback (most recent call last):\n"
        '  File "/var/azureml-app/onlinescoring/score.py", line 3, in <module>\n'
        "    import lightgbm\n"
        "ModuleNotFoundError: No module named 'lightgbm'\n")
    v.state = "Failed"
    v.error = {"code": "ResourceNotReady", "message": "User container has crashed or terminated."}
    done("v2-managed-import-error", v,
         "A managed online deployment whose score.py imports a package the environment lacks. There is no cluster: the evidence is "
         "azure-ai-ml's deployment state and both log containers. AML004 must rank first; the cluster rules are not checked.",
         confirmed=["`ResourceNotReady` 'User container has crashed or terminated' (troubleshooting page)"],
         inferred=["every log line"])
    print("\n".join(built))


def _build_log_from(readme: str) -> str:
    """The build log inside the real README: its fenced block from "Starting Image Build" on, verbatim."""
    start = readme.find("======Starting Image Build")
    end = readme.find("```", start)
    return readme[start:end] if start >= 0 and end > start else readme


def _fix_manifest_for_build(root: Path, why: str = "the image never built, so the deployment has no pods") -> None:
    data = json.loads((root / "manifest.json").read_text())
    data["not_collected"] = [{"what": w, "error": why} for w in ("pods", "events")]
    (root / "manifest.json").write_text(json.dumps(data, indent=1) + "\n")


# ----------------------------------------------------------------------------- migrate-check
def v1_service_deployment(name: str, namespace: str) -> dict:
    """A v1 web service's Deployment: `azuremlappname=<service>` and `isazuremlapp=true` on the
    pod template (the v1 how-to-use-azure-ad-identity doc's selector)."""
    labels = {"azuremlappname": name, "isazuremlapp": "true"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": uid("v1", namespace, name), "labels": {"azuremlappname": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"azuremlappname": name}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": IMAGE}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}


def v1_frontend(namespace: str = "default") -> tuple[dict, list[dict]]:
    """The v1 azureml-fe in `default`: three pods `azureml-fe-5d6f8b7f4-*` (rw:v1-azureml-fe-get-pods-default-ns-screenshot-01)."""
    labels = {"azuremlappname": "azureml-fe"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "azureml-fe", "namespace": namespace, "uid": uid("v1fe", namespace), "labels": labels},
                  "spec": {"replicas": 3, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}},
                  "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}}
    pods = []
    for suffix in ("8xq2n", "k7w4d", "t2m9c"):
        pod = extension_pod("azureml-fe", f"5d6f8b7f4-{suffix}", "4/4", labels, ["azureml-fe", "kubeproxy", "nginx", "fe-metrics"])
        pod["metadata"]["namespace"] = namespace
        pods.append(pod)
    return deployment, pods


def write_migrate(name: str, notes: str, *, deployments: list[dict], frontend: list[dict], endpoints: list[dict] | None,
                  workspace_info: dict, compute_namespace: str = "", confirmed=(), inferred=()) -> None:
    root = HERE / name
    if root.exists():
        shutil.rmtree(root)
    (root / "kubernetes").mkdir(parents=True)
    (root / "kubernetes" / "deployments.json").write_text(json.dumps(klist(deployments), indent=1) + "\n")
    (root / "kubernetes" / "frontend-pods.json").write_text(json.dumps(klist(frontend), indent=1) + "\n")
    collected = ["deployments", "frontend-pods"]
    not_collected = []
    if endpoints is not None:
        (root / "kubernetes" / "onlineendpoints.json").write_text(json.dumps(klist(endpoints), indent=1) + "\n")
        collected.append("onlineendpoints")
    else:
        not_collected.append({"what": "onlineendpoints", "error": "the cluster has no amlarc.azureml.com API group: the AzureML extension is not installed"})
    manifest = {"format_version": 1, "service": "", "namespace": compute_namespace, "workspace": WS, "collected_at": at(0),
                "collector": {"name": "aml-doctor", "version": "0.1.0"}, "collected": collected, "not_collected": not_collected,
                "mode": "migrate-check", "platform": "aks_v1", "compute_namespace": compute_namespace, "workspace_info": workspace_info}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    lines = [f"# {name}", "", notes.strip(), "", "## Confirmed by public sources", ""] + [f"- {c}" for c in confirmed]
    lines += ["", "## Inferred or invented (no rule depends on these)", ""] + [f"- {c}" for c in inferred]
    (root / "NOTES.md").write_text("\n".join(lines) + "\n")


def migrate_scenarios() -> None:
    v1 = [v1_service_deployment("credit-risk-svc", f"azureml-{WS}"), v1_service_deployment("churn-svc", f"azureml-{WS}")]
    ok_ws = {"name": WS, "v1_legacy_mode": False, "public_network_access": "Enabled", "private_endpoints": 0}
    v2fe = [fe_pod()]
    write_migrate("v2-migrate-clean", "A cluster that ran v1 services, with their azureml-fe removed and the v2 extension installed "
                  "(its azureml-fe-v2 in `azureml`); the v2 compute uses its own namespace; the workspace is public. migrate-check "
                  "finds nothing.", deployments=v1, frontend=v2fe, endpoints=[], workspace_info=ok_ws, compute_namespace=NS)
    fe, fe_pods = v1_frontend()
    write_migrate("v2-migrate-v1-frontend", "A v1 cluster: azureml-fe runs in `default`. Installing the extension here fails its "
                  "health check with E45004/E45005 (AZUREML_FE_ROLE_CONFLICT, AZUREML_FE_DEPLOYMENT_CONFLICT) and Helm's "
                  "'invalid ownership metadata'. AML034 must rank first.", deployments=v1 + [fe], frontend=fe_pods, endpoints=None,
                  workspace_info=ok_ws, compute_namespace=NS,
                  confirmed=["three azureml-fe-5d6f8b7f4-* pods in `default` (rw:v1-azureml-fe-get-pods-default-ns-screenshot-01)",
                             "E45004/E45005 and the fixes (https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md)"])
    write_migrate("v2-migrate-namespace-reuse", "The v2 compute is to be attached with namespace `azureml-mlops-prod-ws`, the v1 "
                  "namespace of this workspace, where v1 services still run. AML035 must rank first.", deployments=v1, frontend=v2fe,
                  endpoints=[], workspace_info=ok_ws, compute_namespace=f"azureml-{WS}",
                  confirmed=["\"The namespace for v1 compute follows the pattern: azureml-<workspace-name>\" and a v2 compute should not reuse it (https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md)"])
    ep = V2().cr_endpoint()
    ep["metadata"]["name"] = "credit-risk-svc"
    write_migrate("v2-migrate-shared-urls", "The extension was installed over the v1 cluster (azureml-fe upgraded) and a v2 endpoint "
                  "was created with the name of a v1 service, `credit-risk-svc`: the scoring URLs of the two computes are not "
                  "segregated. AML036 must rank first.", deployments=v1, frontend=v2fe, endpoints=[ep], workspace_info=ok_ws,
                  compute_namespace=NS,
                  confirmed=["\"The scoring URL for AKSCompute and the scoring URL for Kubernetes compute are not segregated\" "
                             "(Azure/AML-Kubernetes docs/attach-compute-on-aks-v1-cluster.md)"],
                  inferred=["that a shared name is where the overlap bites"])
    write_migrate("v2-migrate-legacy-mode", "The workspace has a private endpoint, so it has v1_legacy_mode on, which prevents v2 "
                  "APIs. AML037 must rank first.", deployments=v1, frontend=v2fe, endpoints=[],
                  workspace_info={"name": WS, "v1_legacy_mode": True, "public_network_access": "Disabled", "private_endpoints": 1},
                  compute_namespace=NS,
                  confirmed=["\"If your workspace uses a private endpoint, it will automatically have the v1_legacy_mode flag enabled, "
                             "preventing usage of v2 APIs\" (how-to-migrate-from-v1)"])


if __name__ == "__main__":
    scenarios()
    migrate_scenarios()
