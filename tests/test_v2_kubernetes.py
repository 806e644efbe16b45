"""The v2 cluster collector through the real `kubernetes` client against the API-server emulator:
how it finds the deployment's objects without names no public dump confirms, what it does when
the extension or the endpoint is missing, how it degrades under RBAC, and that its number of
calls does not grow with the namespace."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from aml_doctor.collect.v2kubernetes import EndpointNotFound, ExtensionMissing, collect_v2_kubernetes
from emulators.kube_apiserver import KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
NS = "ml-inference"


def emulator(tmp_path: Path, scenario: str = "v2-healthy", *, other_deployments: int = 0) -> KubeApiServer:
    """The scenario's cluster, plus ``other_deployments`` other endpoints' deployments (a CR, a
    Deployment, a ReplicaSet, a pod and an event each) in the same namespace."""
    copy_dir = tmp_path / scenario
    if not copy_dir.exists():
        shutil.copytree(SCENARIOS / scenario, copy_dir)
        (copy_dir / "kubernetes" / "frontend-pods.json").unlink(missing_ok=True)
    api = KubeApiServer().start().load_bundle(str(copy_dir))
    add_other_deployments(api, other_deployments)
    return api


def add_other_deployments(api: KubeApiServer, n: int) -> None:
    base = {
        "cr": api.get("OnlineDeployment", "credit-ep-blue", NS),
        "deployment": api.get("Deployment", "credit-ep-blue", NS),
    }
    for i in range(n):
        name = f"other{i}-ep-green"
        cr = copy.deepcopy(base["cr"])
        cr["metadata"] = {"name": name, "namespace": NS}
        cr["spec"] = {**cr["spec"], "endpointName": f"other{i}-ep", "deploymentName": "green"}
        cr = api.add(cr)
        d = copy.deepcopy(base["deployment"])
        labels = {"azuremlappname": name, "isazuremlapp": "true", "ml.azure.com/deployment-name": "green"}
        d["metadata"] = {"name": name, "namespace": NS, "labels": labels,
                         "ownerReferences": [{"kind": "OnlineDeployment", "name": name, "uid": cr["metadata"]["uid"]}]}
        d["spec"]["selector"] = {"matchLabels": {"azuremlappname": name}}
        d["spec"]["template"]["metadata"]["labels"] = labels
        d = api.add(d)
        rs = api.add({"kind": "ReplicaSet", "metadata": {"name": f"{name}-5d9f8", "namespace": NS, "labels": labels,
                                                         "ownerReferences": [{"kind": "Deployment", "name": name, "uid": d["metadata"]["uid"]}]},
                      "spec": {"replicas": 1}})
        api.add({"kind": "Pod", "metadata": {"name": f"{name}-5d9f8-abcde", "namespace": NS, "labels": labels,
                                             "ownerReferences": [{"kind": "ReplicaSet", "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"]}]},
                 "spec": d["spec"]["template"]["spec"], "status": {"phase": "Running"}})
        api.add({"kind": "Event", "metadata": {"name": f"{name}.1", "namespace": NS}, "reason": "Started", "message": "Started container",
                 "involvedObject": {"kind": "Pod", "name": f"{name}-5d9f8-abcde", "namespace": NS}})


def collect(api: KubeApiServer, tmp_path: Path, endpoint: str = "credit-ep", deployment: str | None = "blue", **kw):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kubeconfig"))
    return collect_v2_kubernetes(endpoint, deployment, kubeconfig=kubeconfig, request_timeout=10.0, **kw)


def test_finds_the_deployments_objects_by_owner_reference(tmp_path):
    with emulator(tmp_path, other_deployments=3) as api:
        part = collect(api, tmp_path)
        assert {r.method for r in api.requests} == {"GET"}
    pods = part.files["kubernetes/pods.json"]["items"]
    assert [p["metadata"]["name"] for p in pods] == ["credit-ep-blue-d6a2161e7-6de49"]
    assert [d["metadata"]["name"] for d in part.files["kubernetes/deployments.json"]["items"]] == ["credit-ep-blue"]
    assert part.deployment.namespace == NS and part.deployment.service == "credit-ep-blue"
    assert "logs/credit-ep-blue-d6a2161e7-6de49/storageinitializer-modeldata.log" in part.files
    assert part.files["kubernetes/onlinedeployments.json"]["items"][0]["apiVersion"] == "amlarc.azureml.com/v1alpha1"
    assert not part.gaps


def test_without_owner_references_the_confirmed_labels_find_the_deployment(tmp_path):
    with emulator(tmp_path, other_deployments=2) as api:
        d = api.get("Deployment", "credit-ep-blue", NS)
        d["metadata"].pop("ownerReferences")
        api.modify(d)
        part = collect(api, tmp_path)
    assert [d["metadata"]["name"] for d in part.files["kubernetes/deployments.json"]["items"]] == ["credit-ep-blue"]


def test_the_only_deployment_is_chosen_without_d(tmp_path):
    with emulator(tmp_path, other_deployments=2) as api:
        part = collect(api, tmp_path, deployment=None)
    assert part.deployment.deployment_cr == "credit-ep-blue"


def test_a_cluster_without_the_extension_says_so(tmp_path):
    copy_dir = tmp_path / "plain"
    shutil.copytree(SCENARIOS / "healthy", copy_dir)
    with KubeApiServer().start().load_bundle(str(copy_dir)) as api:
        with pytest.raises(ExtensionMissing, match="amlarc.azureml.com API group: the AzureML extension"):
            collect(api, tmp_path)
        assert len(api.requests) == 1  # GET /apis, nothing else


def test_an_unknown_endpoint_lists_the_ones_there(tmp_path):
    with emulator(tmp_path) as api:
        with pytest.raises(EndpointNotFound, match=r"no online endpoint 'credit' in any namespace.*ml-inference/credit-ep"):
            collect(api, tmp_path, endpoint="credit")


def test_an_unknown_deployment_lists_the_endpoints_deployments(tmp_path):
    with emulator(tmp_path) as api:
        with pytest.raises(EndpointNotFound, match=r"no deployment 'green' of online endpoint 'credit-ep'.*credit-ep-blue"):
            collect(api, tmp_path, deployment="green")


def test_rbac_gaps_leave_the_rest_collected(tmp_path):
    with emulator(tmp_path) as api:
        api.forbid("networkpolicies")
        api.forbid("pods", namespace="azureml")
        part = collect(api, tmp_path)
    gaps = {g.what: g.error for g in part.gaps}
    assert "403" in gaps["networkpolicies"] and "403" in gaps["extension-pods"]
    assert "kubernetes/pods.json" in part.files and "kubernetes/instancetypes.json" in part.files


def test_calls_do_not_grow_with_the_namespace(tmp_path):
    counts = []
    for n in (0, 25):
        with emulator(tmp_path, other_deployments=n) as api:
            collect(api, tmp_path)
            counts.append(len(api.requests))
    assert counts[0] == counts[1]


def test_a_forbidden_endpoint_search_is_one_reason_for_every_source(tmp_path):
    with emulator(tmp_path) as api:
        api.forbid("onlineendpoints", namespace="")
        part = collect(api, tmp_path)
    gaps = {g.what: g.error for g in part.gaps}
    assert not part.collected
    assert "403 Forbidden" in gaps["pods"] and "onlineendpoints" in gaps["pods"] and "needs a ClusterRole" in gaps["pods"]


def test_an_unreachable_api_server_is_one_line(tmp_path):
    with emulator(tmp_path) as api:
        kubeconfig = api.write_kubeconfig(str(tmp_path / "kubeconfig"))
    part = collect_v2_kubernetes("credit-ep", "blue", kubeconfig=kubeconfig, request_timeout=2.0)
    assert part.gaps and all("cannot reach the API server" in g.error for g in part.gaps)
