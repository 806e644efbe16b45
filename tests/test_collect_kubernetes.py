"""The live Kubernetes collector, run with the real ``kubernetes`` client against the API-server
emulator on 127.0.0.1 (nothing is mocked: the client sends real HTTP and parses real answers).

The cluster below is a v1 AzureML web service as https://liupeirong.github.io/amlKubernetesDeployment
describes it: Deployment named after the service in ``azureml-<workspace>``, pods labelled ``azuremlappname``, the scoring container's
``InitContainerConfig`` env var naming the ``<service><id>-config`` ConfigMap, the ``staging``
PVC bound to a blobfuse FlexVolume PV on container ``azureml``.
"""

from __future__ import annotations

import json
import socket
import time
import zlib

import pytest
from aml_doctor.collect.kubernetes import ServiceNotFound, collect_kubernetes
from aml_doctor.collect.part import ClusterRecord
from emulators.kube_apiserver import KubeApiServer

NS = "azureml-myws"
SERVICE = "myservice"
POD = "myservice-6d8f7b9c5d-x7k2p"
RS = "myservice-6d8f7b9c5d"
CONFIGMAP = "myservice1a2b3c-config"
CLAIM = "myservice1a2b3c-pvc"
IMAGE = "myacr.azurecr.io/azureml/azureml_0123456789abcdef0123456789abcdef"
# AzureML does not document the init container's name or image; the collector relies on neither.
INIT = "amlappinit"
INIT_IMAGE = "mcr.microsoft.com/azureml/initcontainer:1"
SECRET_VALUE = "c3RvcmFnZS1rZXktdGhhdC1tdXN0LW5ldmVyLWxlYWs="
T0 = "2026-11-20T09:14:02Z"

PREVIOUS_LOG = """\
2026-11-20T09:41:05,102431726+00:00 - gunicorn/run 
2026-11-20T09:41:05,102917534+00:00 - rsyslog/run 
2026-11-20T09:41:05,104052948+00:00 - nginx/run 
Starting gunicorn 19.6.0
Listening at: http://127.0.0.1:31311 (10)
Using worker: sync
worker timeout is set to 300
Booting worker with pid: 37
Initializing logger
Starting up app insights client
Invoking user's init function
User's init function failed
Encountered Exception Traceback (most recent call last):
  File "/var/azureml-app/main.py", line 88, in init
    model = joblib.load(model_path)
FileNotFoundError: [Errno 2] No such file or directory: '/var/azureml-app/azureml-models/mymodel/3/model.pkl'
Worker exiting (pid: 37)
Shutting down: Master
Reason: Worker failed to boot.
2026-11-20T09:41:12,514011930+00:00 - gunicorn/finish 3 0
2026-11-20T09:41:12,515104127+00:00 - Exit code 3 is not normal. Killing image.
"""
CURRENT_LOG = "\n".join(PREVIOUS_LOG.splitlines()[:9]) + "\n"
INIT_LOG = "WARNING:__main__:no config found, using configfile\n"

INIT_CONTAINER_CONFIG = {
    "Models": [
        {
            "mymodel:3": [
                {
                    "Path": "ExperimentRun/dcid.7f1c2e3a-5b6d-4e8f-9a0b-1c2d3e4f5a6b/outputs/model.pkl",
                    "Content": None,
                    "ContainerPath": "./azureml-models/mymodel/3/model.pkl",
                    "UnpackType": 0,
                }
            ]
        }
    ],
    "Dependency": [
        {"Path": "LocalUpload/2d5f8e1a9c3b4d7e/tmp2d5f8e1a.py", "Content": None, "ContainerPath": "/main.py", "UnpackType": 0},
        {"Path": "LocalUpload/2d5f8e1a9c3b4d7e/2d5f8e1a9c3b4d7e.tar.gz", "Content": None, "ContainerPath": "/", "UnpackType": 1},
    ],
    "MountPath": "/var/azureml-app",
}


def _meta(name: str, namespace: str | None = None, **extra) -> dict:
    meta = {"creationTimestamp": T0, "name": name, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _pod_spec(service: str, claim: str, configmap: str) -> dict:
    return {
        "containers": [
            {
                "name": service,
                "image": IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "env": [
                    {"name": "InitContainerConfig", "value": configmap},
                    {"name": "AML_APP_ROOT", "value": "/var/azureml-app"},
                    {"name": "AZUREML_ENTRY_SCRIPT", "value": "main.py"},
                ],
                "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/", "port": 5001, "scheme": "HTTP"},
                                  "initialDelaySeconds": 310, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 2},
                "ports": [{"containerPort": 5001, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "100m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "512Mi"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [{"mountPath": "/var/azureml-app", "name": "staging", "readOnly": True}],
            }
        ],
        "initContainers": [
            {
                "name": INIT,
                "image": INIT_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [{"mountPath": "/var/azureml-app", "name": "staging"}],
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "volumes": [{"name": "staging", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}],
    }


def service_objects(service: str, namespace: str, *, pod: str, rs: str, claim: str, configmap: str, crashing: bool) -> list[dict]:
    """Deployment, ReplicaSet and pod of one v1 web service."""
    labels = {"azuremlappname": service}
    deployment_uid = f"0b7c3f52-{zlib.crc32(service.encode()) % 10**4:04d}-4a6e-9d1f-2c8e5a7b3d90"
    spec = _pod_spec(service, claim, configmap)
    waiting = {"message": f"back-off 5m0s restarting failed container={service} pod={pod}_{namespace}(8e2d1c4b-6f3a-4b9e-a1d7-3c5f9e2b7a10)",
               "reason": "CrashLoopBackOff"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(service, namespace, generation=1, labels=dict(labels), uid=deployment_uid,
                              annotations={"deployment.kubernetes.io/revision": "1"}),
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": dict(labels)},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)}, "spec": spec},
            },
            "status": {
                "conditions": [
                    {"lastTransitionTime": T0, "lastUpdateTime": T0, "message": "Deployment does not have minimum availability.",
                     "reason": "MinimumReplicasUnavailable", "status": "False", "type": "Available"},
                    {"lastTransitionTime": T0, "lastUpdateTime": T0, "message": f'ReplicaSet "{rs}" is progressing.',
                     "reason": "ReplicaSetUpdated", "status": "True", "type": "Progressing"},
                ],
                "observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1, "updatedReplicas": 1,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": _meta(rs, namespace, generation=1, labels={**labels, "pod-template-hash": rs.rsplit("-", 1)[1]},
                              ownerReferences=[{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                                "kind": "Deployment", "name": service, "uid": deployment_uid}]),
            "spec": {"replicas": 1, "selector": {"matchLabels": {**labels, "pod-template-hash": rs.rsplit("-", 1)[1]}},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": spec}},
            "status": {"fullyLabeledReplicas": 1, "observedGeneration": 1, "replicas": 1},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta(pod, namespace, generateName=rs + "-", labels={**labels, "pod-template-hash": rs.rsplit("-", 1)[1]},
                              ownerReferences=[{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                                "kind": "ReplicaSet", "name": rs, "uid": f"5e1a9c7d-{zlib.crc32(rs.encode()) % 10**4:04d}-4f2b-8e6d-1a3c5e7b9d20"}]),
            "spec": {**spec, "nodeName": "aks-agentpool-31415926-vmss000000"},
            "status": {
                "conditions": [
                    {"lastTransitionTime": T0, "status": "True", "type": "Initialized"},
                    {"lastTransitionTime": T0, "message": f"containers with unready status: [{service}]",
                     "reason": "ContainersNotReady", "status": "False", "type": "Ready"},
                    {"lastTransitionTime": T0, "status": "True", "type": "PodScheduled"},
                ],
                "initContainerStatuses": [
                    {"containerID": "containerd://3f9a1b7c5d2e8f4a6b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a",
                     "image": INIT_IMAGE, "imageID": INIT_IMAGE + "@sha256:" + "ab" * 32, "lastState": {}, "name": INIT,
                     "ready": True, "restartCount": 0,
                     "state": {"terminated": {"containerID": "containerd://3f9a1b7c5d2e8f4a6b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a",
                                              "exitCode": 0, "finishedAt": "2026-11-20T09:14:30Z", "reason": "Completed",
                                              "startedAt": "2026-11-20T09:14:20Z"}}}
                ],
                "containerStatuses": [
                    {"containerID": "containerd://9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c",
                     "image": IMAGE, "imageID": IMAGE + "@sha256:" + "cd" * 32, "name": service, "ready": False,
                     "restartCount": 6, "started": False,
                     "lastState": {"terminated": {"containerID": "containerd://9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c",
                                                  "exitCode": 3, "finishedAt": "2026-11-20T09:41:12Z", "reason": "Error",
                                                  "startedAt": "2026-11-20T09:41:05Z"}},
                     "state": {"waiting": waiting} if crashing else {"running": {"startedAt": "2026-11-20T09:46:20Z"}}}
                ],
                "hostIP": "10.240.0.4", "phase": "Running", "podIP": "10.244.1.17", "podIPs": [{"ip": "10.244.1.17"}],
                "qosClass": "Guaranteed", "startTime": T0,
            },
        },
    ]


def _event(namespace: str, kind: str, name: str, reason: str, message: str, type_: str = "Warning", count: int = 1) -> dict:
    return {
        "apiVersion": "v1", "kind": "Event", "count": count, "type": type_, "reason": reason, "message": message,
        "firstTimestamp": T0, "lastTimestamp": "2026-11-20T09:41:13Z",
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": name, "namespace": namespace},
        "metadata": _meta(f"{name}.{zlib.crc32((name + reason).encode()):08x}{zlib.crc32(reason.encode()):08x}", namespace),
        "source": {"component": "kubelet", "host": "aks-agentpool-31415926-vmss000000"},
        "reportingComponent": "", "reportingInstance": "",
    }


def _node(name: str, *, gpu: bool) -> dict:
    allocatable = {"cpu": "1900m", "ephemeral-storage": "119703055367", "memory": "12881168Ki", "pods": "110"}
    capacity = {"cpu": "2", "ephemeral-storage": "129886128Ki", "memory": "16393488Ki", "pods": "110"}
    if gpu:
        allocatable["nvidia.com/gpu"] = capacity["nvidia.com/gpu"] = "1"
    node = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": _meta(name, labels={"agentpool": "gpupool" if gpu else "agentpool", "kubernetes.io/hostname": name,
                                         "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "Standard_NC6s_v3" if gpu else "Standard_DS2_v2"},
                          annotations={"node.alpha.kubernetes.io/ttl": "0"}),
        "spec": {"podCIDR": "10.244.1.0/24", "providerID": f"azure:///subscriptions/x/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"},
        "status": {
            "addresses": [{"address": "10.240.0.4", "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
            "allocatable": allocatable, "capacity": capacity,
            "conditions": [
                {"lastHeartbeatTime": T0, "lastTransitionTime": T0, "message": "kubelet has sufficient memory available",
                 "reason": "KubeletHasSufficientMemory", "status": "False", "type": "MemoryPressure"},
                {"lastHeartbeatTime": T0, "lastTransitionTime": T0, "message": "kubelet is posting ready status",
                 "reason": "KubeletReady", "status": "True", "type": "Ready"},
            ],
            "images": [{"names": [IMAGE], "sizeBytes": 1834128841}],
            "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.15-1", "kernelVersion": "5.15.0-1064-azure",
                         "kubeProxyVersion": "v1.29.7", "kubeletVersion": "v1.29.7", "operatingSystem": "linux",
                         "osImage": "Ubuntu 22.04.4 LTS"},
        },
    }
    if gpu:
        node["spec"]["taints"] = [{"effect": "NoSchedule", "key": "sku", "value": "gpu"}]
    return node


def azureml_cluster(other_services: int = 0) -> tuple[list[dict], dict[tuple[str, str, str, bool], str]]:
    """The objects and logs of a cluster running ``myservice`` (crashing) and ``other_services``
    other web services in the same namespace, each with its own pod, ReplicaSet and event."""
    objects = service_objects(SERVICE, NS, pod=POD, rs=RS, claim=CLAIM, configmap=CONFIGMAP, crashing=True)
    objects += [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(CONFIGMAP, NS),
         # The data key's name is not documented; the collector reads whichever key holds the JSON.
         "data": {"config.json": json.dumps(INIT_CONTAINER_CONFIG, indent=4)}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": _meta(CLAIM, NS, annotations={"pv.kubernetes.io/bind-completed": "yes"}, finalizers=["kubernetes.io/pvc-protection"]),
         "spec": {"accessModes": ["ReadOnlyMany"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "",
                  "volumeMode": "Filesystem", "volumeName": CLAIM},
         "status": {"accessModes": ["ReadOnlyMany"], "capacity": {"storage": "1Gi"}, "phase": "Bound"}},
        {"apiVersion": "v1", "kind": "PersistentVolume",
         "metadata": _meta(CLAIM, finalizers=["kubernetes.io/pv-protection"]),
         "spec": {"accessModes": ["ReadOnlyMany"], "capacity": {"storage": "1Gi"},
                  "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": CLAIM, "namespace": NS},
                  "flexVolume": {"driver": "azure/blobfuse", "options": {"container": "azureml", "mountoptions": "--file-cache-timeout-in-seconds=120"},
                                 "secretRef": {"name": "myservice1a2b3c-blobfusecreds"}},
                  "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
         "status": {"phase": "Bound"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta("myservice1a2b3c-blobfusecreds", NS), "type": "azure/blobfuse",
         "data": {"accountname": "YW1sd3Mxc3RvcmFnZQ==", "accountkey": SECRET_VALUE}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(SERVICE, NS, labels={"azuremlappname": SERVICE}),
         "spec": {"clusterIP": "10.0.142.17", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 5001, "nodePort": 31872}],
                  "selector": {"azuremlappname": SERVICE}, "type": "NodePort"}, "status": {"loadBalancer": {}}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(SERVICE, NS, labels={"azuremlappname": SERVICE}),
         "subsets": [{"notReadyAddresses": [{"ip": "10.244.1.17", "nodeName": "aks-agentpool-31415926-vmss000000",
                                              "targetRef": {"kind": "Pod", "name": POD, "namespace": NS}}],
                      "ports": [{"port": 5001, "protocol": "TCP"}]}]},
        _event(NS, "Pod", POD, "Scheduled", f"Successfully assigned {NS}/{POD} to aks-agentpool-31415926-vmss000000", "Normal"),
        _event(NS, "Pod", POD, "Pulled", f'Container image "{IMAGE}" already present on machine', "Normal", 7),
        _event(NS, "Pod", POD, "BackOff", "Back-off restarting failed container", count=112),
        _node("aks-agentpool-31415926-vmss000000", gpu=False),
        _node("aks-gpupool-27182818-vmss000000", gpu=True),
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": _meta("azureml-fe-5d6f8b7f4-qk8zn", "default", labels={"azuremlappname": "azureml-fe"}),
         "spec": {"containers": [{"name": "azureml-fe", "image": "mcr.microsoft.com/azureml/azureml-fe:1"}]},
         "status": {"phase": "Running"}},
    ]
    logs = {
        (NS, POD, SERVICE, False): CURRENT_LOG,
        (NS, POD, SERVICE, True): PREVIOUS_LOG,
        (NS, POD, INIT, False): INIT_LOG,
    }
    for i in range(other_services):
        name = f"scorer{i:04d}"
        others = service_objects(name, NS, pod=f"{name}-7b9c5d6f8d-p4t6w", rs=f"{name}-7b9c5d6f8d",
                                 claim=f"{name}9f8e7d-pvc", configmap=f"{name}9f8e7d-config", crashing=False)
        objects += others
        objects.append(_event(NS, "Pod", f"{name}-7b9c5d6f8d-p4t6w", "Pulled", f'Container image "{IMAGE}" already present on machine', "Normal"))
    return objects, logs


def emulator(other_services: int = 0) -> KubeApiServer:
    objects, logs = azureml_cluster(other_services)
    api = KubeApiServer(objects)
    for (ns, pod, container, previous), text in logs.items():
        api.set_log(ns, pod, container, text, previous=previous)
    return api


@pytest.fixture
def api():
    with emulator(other_services=1) as server:
        yield server


@pytest.fixture
def kubeconfig(api, tmp_path):
    return api.write_kubeconfig(str(tmp_path / "kubeconfig"))


def collect(kubeconfig: str, **kwargs):
    kwargs.setdefault("namespace", NS)
    return collect_kubernetes(SERVICE, kubeconfig=kubeconfig, context=None, log_lines=1000, request_timeout=5.0, **kwargs)


def test_collects_the_service_objects_as_kubectl_lists(api, kubeconfig):
    part = collect(kubeconfig)

    assert part.gaps == []
    assert sorted(part.collected) == sorted([
        "deployments", "replicasets", "pods", "configmaps", "persistentvolumeclaims", "persistentvolumes",
        "services", "endpoints", "events", "nodes", "frontend-pods", "container_logs"])
    pods = part.files["kubernetes/pods.json"]
    assert (pods["apiVersion"], pods["kind"]) == ("v1", "List")
    assert [p["metadata"]["name"] for p in pods["items"]] == [POD]  # not the other service's pod
    pod = pods["items"][0]
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")  # put back on each item, as kubectl does
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 3
    assert pod["metadata"]["creationTimestamp"] == T0
    assert [c["name"] for c in pod["spec"]["initContainers"]] == [INIT]
    deployments = part.files["kubernetes/deployments.json"]["items"]
    assert [(d["kind"], d["apiVersion"], d["metadata"]["name"]) for d in deployments] == [("Deployment", "apps/v1", SERVICE)]
    assert [rs["metadata"]["name"] for rs in part.files["kubernetes/replicasets.json"]["items"]] == [RS]
    assert part.files["kubernetes/configmaps.json"]["items"][0]["metadata"]["name"] == CONFIGMAP
    pv = part.files["kubernetes/persistentvolumes.json"]["items"][0]
    assert pv["spec"]["flexVolume"]["driver"] == "azure/blobfuse"
    assert part.files["kubernetes/persistentvolumeclaims.json"]["items"][0]["spec"]["volumeName"] == CLAIM
    assert part.files["kubernetes/services.json"]["items"][0]["spec"]["type"] == "NodePort"
    assert part.files["kubernetes/endpoints.json"]["items"][0]["subsets"][0]["notReadyAddresses"][0]["ip"] == "10.244.1.17"
    assert [p["metadata"]["name"] for p in part.files["kubernetes/frontend-pods.json"]["items"]] == ["azureml-fe-5d6f8b7f4-qk8zn"]


def test_events_are_only_those_of_the_service(api, kubeconfig):
    events = collect(kubeconfig).files["kubernetes/events.json"]["items"]
    assert sorted(e["reason"] for e in events) == ["BackOff", "Pulled", "Scheduled"]
    assert {e["involvedObject"]["name"] for e in events} == {POD}


def test_nodes_are_trimmed_to_capacity_taints_and_conditions(api, kubeconfig):
    nodes = collect(kubeconfig).files["kubernetes/nodes.json"]["items"]
    gpu = next(n for n in nodes if n["metadata"]["name"] == "aks-gpupool-27182818-vmss000000")
    assert gpu["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert gpu["spec"]["taints"] == [{"effect": "NoSchedule", "key": "sku", "value": "gpu"}]
    assert gpu["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "Standard_NC6s_v3"
    assert {c["type"] for c in gpu["status"]["conditions"]} == {"MemoryPressure", "Ready"}
    assert gpu["status"]["nodeInfo"]["kubeletVersion"] == "v1.29.7"
    assert "images" not in gpu["status"] and "addresses" not in gpu["status"] and "annotations" not in gpu["metadata"]


def test_the_cluster_record_names_the_namespace_image_pods_and_blob_paths(api, kubeconfig):
    part = collect(kubeconfig)
    assert not hasattr(part, "facts")  # handed over as typed records, not loose keys
    assert part.cluster == ClusterRecord(
        namespace=NS, pods=(POD,), scoring_image=IMAGE, configmap=CONFIGMAP, init_container_config=INIT_CONTAINER_CONFIG,
        blob_paths=("ExperimentRun/dcid.7f1c2e3a-5b6d-4e8f-9a0b-1c2d3e4f5a6b/outputs/model.pkl",
                    "LocalUpload/2d5f8e1a9c3b4d7e/tmp2d5f8e1a.py",
                    "LocalUpload/2d5f8e1a9c3b4d7e/2d5f8e1a9c3b4d7e.tar.gz"))


def test_logs_current_and_previous_for_every_container_init_included(api, kubeconfig):
    part = collect(kubeconfig)
    logs = {path: data.decode() for path, data in part.files.items() if path.startswith("logs/")}
    assert logs == {
        f"logs/{POD}/{SERVICE}.log": CURRENT_LOG,
        f"logs/{POD}/{SERVICE}.previous.log": PREVIOUS_LOG,
        f"logs/{POD}/{INIT}.log": INIT_LOG,
    }  # the init container never restarted: no previous log, and no gap for it
    log_queries = [r.query for r in api.requests if r.path.endswith("/log")]
    assert {q["tailLines"] for q in log_queries} == {"1000"}
    # A previous instance is asked for only where the status shows a restart.
    assert sorted((q["container"], q.get("previous", "")) for q in log_queries) == [
        (INIT, ""), (SERVICE, ""), (SERVICE, "true")]


def test_log_lines_cuts_the_tail(api, kubeconfig):
    part = collect_kubernetes(SERVICE, namespace=NS, kubeconfig=kubeconfig, log_lines=2, request_timeout=5.0)
    assert part.files[f"logs/{POD}/{SERVICE}.previous.log"].decode() == "".join(PREVIOUS_LOG.splitlines(keepends=True)[-2:])


def test_only_get_requests_and_never_a_secret(api, kubeconfig):
    part = collect(kubeconfig)
    assert api.requests
    assert {r.method for r in api.requests} == {"GET"}
    assert not [r.path for r in api.requests if "/secrets" in r.path]
    everything = json.dumps({k: v if not isinstance(v, bytes) else v.decode() for k, v in part.files.items()})
    assert SECRET_VALUE not in everything
    assert "myservice1a2b3c-blobfusecreds" in everything  # the PV's reference to it is kept


def test_selectors_not_one_call_per_object(api, kubeconfig):
    collect(kubeconfig)
    queries = {r.path: r.query for r in api.requests}
    assert queries[f"/api/v1/namespaces/{NS}/pods"]["labelSelector"] == "azuremlappname=myservice"
    assert queries[f"/apis/apps/v1/namespaces/{NS}/replicasets"]["labelSelector"] == "azuremlappname=myservice"
    assert not [p for p in queries if p.startswith(f"/api/v1/namespaces/{NS}/pods/") and not p.endswith("/log")]


def test_call_count_does_not_grow_with_the_namespace(tmp_path):
    counts = {}
    for others in (1, 100, 1000):
        with emulator(other_services=others) as api:
            part = collect(api.write_kubeconfig(str(tmp_path / f"kubeconfig-{others}")))
            assert part.gaps == [] and part.cluster.pods == (POD,)
            counts[others] = len(api.requests)
            log_calls = len([r for r in api.requests if r.path.endswith("/log")])
    assert counts[1] == counts[100] == counts[1000]
    assert counts[1] - log_calls <= 15


def test_namespace_only_rbac_gives_gaps_for_cluster_scope_and_collects_the_rest(api, kubeconfig):
    api.forbid("nodes")
    api.forbid("persistentvolumes")
    api.forbid("pods", namespace="")  # a Role in the service's namespace, no ClusterRole

    part = collect(kubeconfig)

    gaps = {g.what: g.error for g in part.gaps}
    user = "system:serviceaccount:default:aml-doctor"
    assert gaps["nodes"] == (f'403 Forbidden: User "{user}" cannot list nodes at the cluster scope '
                             "(needs a ClusterRole with get/list on nodes)")
    assert gaps["persistentvolumes"] == (f'403 Forbidden: User "{user}" cannot get persistentvolumes at the cluster scope '
                                         "(needs a ClusterRole with get/list on persistentvolumes)")
    assert gaps["frontend-pods"] == (f'403 Forbidden: User "{user}" cannot list pods at the cluster scope '
                                     "(needs a ClusterRole with get/list on pods)")
    assert sorted(gaps) == ["frontend-pods", "nodes", "persistentvolumes"]
    assert "kubernetes/nodes.json" not in part.files and "kubernetes/persistentvolumes.json" not in part.files
    assert {"pods", "events", "configmaps", "persistentvolumeclaims", "container_logs"} <= set(part.collected)


def test_missing_configmap_is_a_gap(api, kubeconfig):
    api.delete("ConfigMap", CONFIGMAP, NS)
    part = collect(kubeconfig)
    assert [(g.what, g.error) for g in part.gaps] == [("configmaps", f'404 Not Found: configmaps "{CONFIGMAP}" not found')]
    assert part.cluster.init_container_config is None and part.cluster.blob_paths == ()
    assert "kubernetes/pods.json" in part.files and "kubernetes/events.json" in part.files


def test_a_hung_endpoint_times_out_into_a_gap_and_the_run_finishes(api, kubeconfig):
    # The hang outlasts the test; the request timeout leaves the other calls room on a loaded machine.
    api.hang(f"/api/v1/namespaces/{NS}/configmaps/*", seconds=3600)
    started = time.monotonic()
    part = collect_kubernetes(SERVICE, namespace=NS, kubeconfig=kubeconfig, log_lines=100, request_timeout=3)
    assert time.monotonic() - started < 120
    assert [g.what for g in part.gaps] == ["configmaps"]
    assert part.gaps[0].error.startswith("timed out after 3 s waiting for the API server at http://127.0.0.1:")
    assert len([r for r in api.requests if "/configmaps/" in r.path]) == 1  # not retried
    assert "kubernetes/events.json" in part.files and f"logs/{POD}/{SERVICE}.previous.log" in part.files


def test_unreachable_server_gives_gaps_not_a_traceback(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with KubeApiServer() as api:
        path = api.write_kubeconfig(str(tmp_path / "kubeconfig"))
    with open(path) as fh:
        config = json.load(fh)
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    with open(path, "w") as fh:
        json.dump(config, fh)

    part = collect_kubernetes(SERVICE, namespace=NS, kubeconfig=path, log_lines=100, request_timeout=2.0)

    assert part.files == {}
    assert {g.what for g in part.gaps} >= {"deployments", "pods", "events", "nodes", "container_logs"}
    assert {g.error for g in part.gaps} == {f"cannot reach the API server at http://127.0.0.1:{port}: [Errno 111] Connection refused"}


def test_unusable_kubeconfig_gives_gaps(tmp_path):
    part = collect_kubernetes(SERVICE, namespace=NS, kubeconfig=str(tmp_path / "missing"), log_lines=100, request_timeout=1.0)
    assert part.files == {}
    assert part.gaps and all(g.error.startswith(f"cannot use {tmp_path / 'missing'}: ") for g in part.gaps)


def test_rejected_credentials_are_a_one_line_gap(api, kubeconfig):
    api.fail("/api*", 401, "Unauthorized")
    part = collect(kubeconfig)
    assert part.files == {}
    assert {g.error for g in part.gaps} == {
        "401 Unauthorized: the API server rejected the kubeconfig's credentials (expired token or certificate?)"}


def test_service_not_found_lists_the_services_there(api, kubeconfig):
    with pytest.raises(ServiceNotFound) as raised:
        collect_kubernetes("mysevrice", namespace=NS, kubeconfig=kubeconfig, log_lines=10, request_timeout=5.0)
    assert raised.value.available == [SERVICE, "scorer0000"]
    assert str(raised.value) == "no Deployment named 'mysevrice' in namespace azureml-myws; AzureML services there: myservice, scorer0000"


def test_namespace_is_found_by_searching_the_azureml_namespaces(api, kubeconfig):
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "azureml-otherws"}})
    part = collect(kubeconfig, namespace=None)
    assert part.cluster.namespace == NS
    assert part.cluster.pods == (POD,)
    assert part.files["kubernetes/deployments.json"]["items"][0]["metadata"]["name"] == SERVICE
    assert part.gaps == []
    with pytest.raises(ServiceNotFound) as raised:
        collect_kubernetes("nosuchservice", kubeconfig=kubeconfig, log_lines=10, request_timeout=5.0)
    assert raised.value.namespace is None
    assert raised.value.available == [f"{NS}/{SERVICE}", f"{NS}/scorer0000"]


def test_namespace_follows_the_workspace(api, kubeconfig):
    part = collect(kubeconfig, namespace=None, workspace="myws")
    assert part.cluster.namespace == NS
    assert not [r for r in api.requests if r.path == "/api/v1/namespaces"]  # no search needed


def test_a_waiting_container_without_logs_is_reported(api, kubeconfig):
    pod = api.get("Pod", POD, NS)
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{IMAGE}"'}}
    pod["status"]["containerStatuses"][0]["lastState"] = {}
    api.modify(pod)
    api.remove_log(NS, POD, SERVICE)  # the container never ran
    api.remove_log(NS, POD, SERVICE, previous=True)

    part = collect(kubeconfig)

    assert [(g.what, g.error) for g in part.gaps] == [(
        "container_logs",
        (f'logs/{POD}/{SERVICE}.log: 400 Bad Request: container "{SERVICE}" in pod "{POD}" is waiting to start: '
        "trying and failing to pull image"))]
    assert f"logs/{POD}/{INIT}.log" in part.files


def test_an_api_client_can_be_passed_and_progress_is_reported(api):
    from kubernetes import client

    messages: list[str] = []
    with client.ApiClient(api.configuration()) as api_client:
        part = collect_kubernetes(SERVICE, namespace=NS, api_client=api_client, log_lines=10, request_timeout=5.0,
                                  progress=messages.append)
    assert part.cluster.pods == (POD,)
    assert f"reading Deployment {SERVICE} in {NS}" in messages
    assert f"reading logs of {POD} ({INIT}, {SERVICE})" in messages


def test_an_answer_that_is_not_json_is_a_gap(api, kubeconfig):
    api.fail(f"/api/v1/namespaces/{NS}/services/*", 200, body=b"<html><head><title>Sign in</title></head></html>\n")
    part = collect(kubeconfig)
    assert [(g.what, g.error) for g in part.gaps] == [
        ("services", f"the answer from {api.url} is not a Kubernetes object: <html><head><title>Sign in</title></head></html>")]
    assert "kubernetes/endpoints.json" in part.files


def test_the_collected_part_reads_back_as_a_bundle(api, kubeconfig, tmp_path):
    from aml_doctor.evidence import store as evidence
    from aml_doctor.collect.part import manifest, render_files, write_bundle

    part = collect(kubeconfig)
    write_bundle(str(tmp_path / "bundle"), render_files(manifest(SERVICE, NS, "myws", part), part))

    ev = evidence.load(str(tmp_path / "bundle"))
    assert [p["metadata"]["name"] for p in ev.objects("pods")] == [POD]
    assert sorted(e["reason"] for e in ev.objects("events")) == ["BackOff", "Pulled", "Scheduled"]
    previous = [d for d in ev.container_logs(POD) if d.previous]
    assert [(d.container, d.path) for d in previous] == [(SERVICE, f"logs/{POD}/{SERVICE}.previous.log")]
    assert ev.has("nodes") and ev.has("persistentvolumes") and ev.has("container_logs")


def test_a_live_run_builds_no_client_model_classes(api, kubeconfig):
    """The collectors read raw JSON: the generated API classes, and the hundreds of model modules they
    import, stay unloaded (issue 12: they were most of a live run's first-request wait)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom aml_doctor.cli.main import main\ncode = main(sys.argv[1:])\n"
             "loaded = sorted(m for m in sys.modules if m.startswith(('kubernetes.client.models.', 'kubernetes.client.api.')))\n"
             "print('LOADED', len(loaded), loaded[:3], file=sys.stderr)\nsys.exit(code)\n")
    for argv in ([SERVICE, "-n", NS], ["--all", "-n", NS]):
        done = subprocess.run([sys.executable, "-c", probe, *argv, "--kubeconfig", kubeconfig, "-q", "-o", "json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr  # findings: the service crash-loops
        assert done.stderr.strip().splitlines()[-1] == "LOADED 0 []", (argv, done.stderr[-500:])
    assert {r.method for r in api.requests} == {"GET"}


def test_managed_fields_are_left_out_as_kubectl_get_does(api, kubeconfig):
    pod = api.get("Pod", POD, NS)
    pod["metadata"]["managedFields"] = [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                                         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]
    api.modify(pod)
    part = collect(kubeconfig)
    kept = part.files["kubernetes/pods.json"]["items"][0]["metadata"]
    assert kept["name"] == POD and "managedFields" not in kept
