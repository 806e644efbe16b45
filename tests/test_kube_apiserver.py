"""The API-server emulator, checked through the real ``kubernetes`` client and raw HTTP: list kinds,
selectors, the log subresource's parameters, watch streams, faults and ``Status`` bodies."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from aml_doctor.testing import BundleBuilder, crashloop_pod, pod_name
from emulators.kube_apiserver import KubeApiServer
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

NS = "azureml-ws1"


def _pod(name: str, labels: dict, containers=("main",), init=(), namespace: str = NS, status: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers],
                 "initContainers": [{"name": c, "image": "busybox"} for c in init]},
        "status": status or {"phase": "Running", "containerStatuses": [
            {"name": c, "image": "busybox", "imageID": "docker.io/library/busybox@sha256:" + "ab" * 32, "ready": True,
             "restartCount": 0, "state": {"running": {"startedAt": "2026-11-20T09:16:40Z"}}}
            for c in containers]},
    }


def _event(name: str, kind: str, involved: str, reason: str) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": NS}, "reason": reason,
            "involvedObject": {"kind": kind, "name": involved, "namespace": NS}, "type": "Warning"}


@pytest.fixture
def api():
    objects = [
        _pod("a-1", {"azuremlappname": "a", "tier": "gpu"}),
        _pod("b-1", {"azuremlappname": "b"}),
        _pod("c-1", {"other": "x"}),
        _pod("fe-1", {"azuremlappname": "azureml-fe"}, namespace="default"),
        _event("a-1.17a", "Pod", "a-1", "BackOff"),
        _event("b-1.17b", "Pod", "b-1", "Pulled"),
        _event("a.17c", "Deployment", "a", "ScalingReplicaSet"),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": NS},
         "spec": {"selector": {"matchLabels": {"azuremlappname": "a"}},
                  "template": {"metadata": {"labels": {"azuremlappname": "a"}}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "aks-agentpool-1"}, "status": {}},
    ]
    with KubeApiServer(objects) as server:
        yield server


@pytest.fixture
def core(api):
    with client.ApiClient(api.configuration()) as api_client:
        yield client.CoreV1Api(api_client)


def _names(lst) -> list[str]:
    return sorted(i.metadata.name for i in lst.items)


def _http(api: KubeApiServer, path: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(api.url + path, timeout=5) as resp:
            body = resp.read().decode()
            return resp.status, json.loads(body) if resp.headers["Content-Type"] == "application/json" else body
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_lists_have_the_list_kind_and_a_resource_version(api):
    code, body = _http(api, f"/api/v1/namespaces/{NS}/pods")
    assert code == 200
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert int(body["metadata"]["resourceVersion"]) > 1000
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["a-1", "b-1", "c-1"]
    assert "kind" not in body["items"][0]  # as on the wire: kubectl adds it back when printing
    code, body = _http(api, f"/apis/apps/v1/namespaces/{NS}/deployments/a")
    assert (code, body["kind"], body["apiVersion"]) == (200, "Deployment", "apps/v1")
    assert body["metadata"]["uid"] and body["metadata"]["resourceVersion"]


def test_all_namespace_and_cluster_scoped_lists(core):
    assert _names(core.list_pod_for_all_namespaces()) == ["a-1", "b-1", "c-1", "fe-1"]
    assert _names(core.list_node()) == ["aks-agentpool-1"]
    assert _names(core.list_namespace()) == ["azureml-ws1", "default"]  # created with their objects


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("azuremlappname=a", ["a-1"]),
        ("azuremlappname==b", ["b-1"]),
        ("azuremlappname!=a", ["b-1", "c-1"]),
        ("azuremlappname in (a, b)", ["a-1", "b-1"]),
        ("azuremlappname notin (a)", ["b-1", "c-1"]),
        ("azuremlappname", ["a-1", "b-1"]),
        ("!azuremlappname", ["c-1"]),
        ("azuremlappname in (a,b),tier=gpu", ["a-1"]),
    ],
)
def test_label_selectors(core, selector, expected):
    assert _names(core.list_namespaced_pod(NS, label_selector=selector)) == expected


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("involvedObject.name=a-1", ["a-1.17a"]),
        ("involvedObject.kind=Deployment", ["a.17c"]),
        ("involvedObject.kind=Pod,reason!=Pulled", ["a-1.17a"]),
        ("metadata.name=b-1.17b", ["b-1.17b"]),
    ],
)
def test_field_selectors(core, selector, expected):
    assert _names(core.list_namespaced_event(NS, field_selector=selector)) == expected


def test_unsupported_field_selector_is_a_400_status(api):
    code, body = _http(api, f"/api/v1/namespaces/{NS}/pods?fieldSelector=spec.foo%3Dbar")
    assert code == 400
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "field label not supported: spec.foo", "reason": "BadRequest", "code": 400}


def test_not_found_is_a_real_status(api):
    code, body = _http(api, f"/api/v1/namespaces/{NS}/pods/x")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'pods "x" not found', "reason": "NotFound",
                    "details": {"name": "x", "kind": "pods"}, "code": 404}
    code, body = _http(api, f"/apis/apps/v1/namespaces/{NS}/deployments/x")
    assert (code, body["message"], body["details"]["group"]) == (404, 'deployments.apps "x" not found', "apps")
    code, body = _http(api, "/api/v1/widgets")
    assert (code, body["message"]) == (404, "the server could not find the requested resource")


def test_forbidden_is_rbacs_status(api):
    api.forbid("persistentvolumes")
    api.forbid("pods", namespace=NS, verbs=["get"])
    code, body = _http(api, "/api/v1/persistentvolumes")
    assert code == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'persistentvolumes is forbidden: User "system:serviceaccount:default:aml-doctor" cannot list '
                   'resource "persistentvolumes" in API group "" at the cluster scope',
        "reason": "Forbidden", "details": {"kind": "persistentvolumes"}, "code": 403}
    code, body = _http(api, f"/api/v1/namespaces/{NS}/pods/a-1")
    assert (code, body["message"]) == (403, ('pods "a-1" is forbidden: User "system:serviceaccount:default:aml-doctor" '
                                            f'cannot get resource "pods" in API group "" in the namespace "{NS}"'))
    assert _http(api, f"/api/v1/namespaces/{NS}/pods")[0] == 200  # list was not forbidden


def test_forbidden_apps_resource_names_its_group(api):
    api.forbid("deployments")
    code, body = _http(api, f"/apis/apps/v1/namespaces/{NS}/deployments")
    assert (code, body["message"]) == (
        403, ('deployments.apps is forbidden: User "system:serviceaccount:default:aml-doctor" cannot list resource '
             f'"deployments" in API group "apps" in the namespace "{NS}"'))


def test_path_faults_and_clearing_them(api):
    api.fail("/api/v1/namespaces/*/configmaps/*", 404)
    api.fail("/version", 503, "etcdserver: request timed out")
    assert _http(api, f"/api/v1/namespaces/{NS}/configmaps/cfg")[0] == 404
    assert _http(api, "/version") == (503, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": "etcdserver: request timed out", "reason": "ServiceUnavailable",
                                            "code": 503})
    api.clear_faults()
    assert _http(api, "/version")[1]["gitVersion"] == "v1.29.7"


def test_a_hang_outlasts_the_client_timeout(api, core):
    api.hang(f"/api/v1/namespaces/{NS}/pods", seconds=3600)
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        core.list_namespaced_pod(NS, _request_timeout=0.3)
    assert "timed out" in str(raised.value).lower()
    assert time.monotonic() - started < 60  # the hang outlasts this: the client gave up


def test_requests_are_recorded_and_writes_refused(api, core):
    core.list_namespaced_pod(NS, label_selector="azuremlappname=a")
    with pytest.raises(ApiException) as raised:
        core.delete_namespaced_pod("a-1", NS)
    assert raised.value.status == 405
    assert [(r.method, r.path, r.query) for r in api.requests] == [
        ("GET", f"/api/v1/namespaces/{NS}/pods", {"labelSelector": "azuremlappname=a"}),
        ("DELETE", f"/api/v1/namespaces/{NS}/pods/a-1", {}),
    ]
    assert _names(core.list_namespaced_pod(NS, label_selector="azuremlappname=a")) == ["a-1"]  # still there
    api.reset_requests()
    assert api.requests == []


def test_version(api):
    with client.ApiClient(api.configuration()) as api_client:
        assert client.VersionApi(api_client).get_code().git_version == "v1.29.7"


# ----------------------------------------------------------------------------- logs
@pytest.fixture
def logs_api(api):
    api.add(_pod("two-1", {"azuremlappname": "two"}, containers=("scorer", "sidecar"), init=("setup",)))
    api.set_log(NS, "two-1", "scorer", "line 1\nline 2\nline 3\n")
    api.set_log(NS, "two-1", "scorer", "old 1\nold 2\n", previous=True)
    api.set_log(NS, "two-1", "setup", "fetched config\n")
    return api


def _log(core, **kwargs) -> str:
    return core.read_namespaced_pod_log("two-1", NS, _preload_content=False, **kwargs).data.decode()


def test_log_parameters(logs_api, core):
    assert _log(core, container="scorer") == "line 1\nline 2\nline 3\n"
    assert _log(core, container="scorer", tail_lines=2) == "line 2\nline 3\n"
    assert _log(core, container="scorer", limit_bytes=9) == "line 1\nli"
    assert _log(core, container="scorer", previous=True) == "old 1\nold 2\n"
    assert _log(core, container="setup") == "fetched config\n"
    logs_api.append_log(NS, "two-1", "scorer", "line 4\n")
    assert _log(core, container="scorer", tail_lines=1) == "line 4\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "a container name must be specified for pod two-1, choose one of: [scorer sidecar] or one of the init containers: [setup]"),
        ({"container": "nope"}, "container nope is not valid for pod two-1"),
        ({"container": "setup", "previous": True}, 'previous terminated container "setup" in pod "two-1" not found'),
    ],
)
def test_log_errors_are_the_api_servers(logs_api, core, kwargs, message):
    with pytest.raises(ApiException) as raised:
        _log(core, **kwargs)
    assert raised.value.status == 400
    assert json.loads(raised.value.body)["message"] == message


def test_log_of_a_container_waiting_to_start(api, core):
    status = {"phase": "Pending", "containerStatuses": [
        {"name": "main", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ErrImagePull"}}}]}
    api.add(_pod("pull-1", {}, status=status))
    with pytest.raises(ApiException) as raised:
        core.read_namespaced_pod_log("pull-1", NS, container="main")
    assert json.loads(raised.value.body)["message"] == 'container "main" in pod "pull-1" is waiting to start: trying and failing to pull image'


# ----------------------------------------------------------------------------- watch
def test_watch_streams_changes_and_ends_when_dropped(api, core):
    seen: list[tuple[str, str, str]] = []
    started = threading.Event()

    def follow():
        stream = watch.Watch().stream(core.list_namespaced_pod, NS, label_selector="azuremlappname", timeout_seconds=20,
                                      _request_timeout=30)
        for event in stream:
            seen.append((event["type"], event["object"].metadata.name, event["object"].status.phase))
            started.set()

    thread = threading.Thread(target=follow)
    thread.start()
    assert started.wait(5)
    api.add(_pod("a-2", {"azuremlappname": "a"}))
    pod = api.get("Pod", "a-1", NS)
    pod["status"]["phase"] = "Failed"
    api.modify(pod)
    api.add(_pod("c-2", {"other": "y"}))  # not selected
    api.delete("Pod", "b-1", NS)
    time.sleep(0.3)
    api.drop_watches()
    # With timeout_seconds the client's Watch does not reconnect, so the stream's end ends the loop
    # long before the 20 s timeout.
    thread.join(5)
    assert not thread.is_alive()
    assert seen[:2] == [("ADDED", "a-1", "Running"), ("ADDED", "b-1", "Running")]
    assert seen[2:5] == [("ADDED", "a-2", "Running"), ("MODIFIED", "a-1", "Failed"), ("DELETED", "b-1", "Running")]


def test_watch_from_a_resource_version_replays_later_changes(api):
    rv = _http(api, f"/api/v1/namespaces/{NS}/pods")[1]["metadata"]["resourceVersion"]
    api.add(_pod("a-3", {"azuremlappname": "a"}))
    api.drop_watches()  # nothing open yet: must not affect the next stream
    with urllib.request.urlopen(f"{api.url}/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1",
                                timeout=5) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"], e["object"]["kind"]) for e in lines] == [("ADDED", "a-3", "Pod")]
    assert int(lines[0]["object"]["metadata"]["resourceVersion"]) > int(rv)


# ----------------------------------------------------------------------------- configuration and bundles
def test_kubeconfig_points_the_real_client_at_the_emulator(api, tmp_path):
    path = api.write_kubeconfig(str(tmp_path / "config"), namespace=NS, context="test-ctx")
    configuration = client.Configuration()
    config.load_kube_config(config_file=path, context="test-ctx", client_configuration=configuration)
    assert configuration.host == api.url
    with client.ApiClient(configuration) as api_client:
        assert _names(client.AppsV1Api(api_client).list_namespaced_deployment(NS)) == ["a"]


def test_serves_a_bundle_directory(tmp_path):
    service, ns = "scorer", "azureml-ws1"
    pod = crashloop_pod(service, ns, exit_code=137, reason="OOMKilled")
    name = pod_name(service)
    bundle = (BundleBuilder(service=service, workspace="ws1")
              .add("pods", pod)
              .log(name, service, "Booting worker with pid: 37\n", previous=True)
              .log(name, service, "Starting gunicorn 19.6.0\n")
              .write(tmp_path / "bundle"))
    with KubeApiServer().load_bundle(bundle) as api, client.ApiClient(api.configuration()) as api_client:
        core = client.CoreV1Api(api_client)
        pods = core.list_namespaced_pod(ns, label_selector=f"azuremlappname={service}")
        assert _names(pods) == [name]
        assert pods.items[0].status.container_statuses[0].last_state.terminated.reason == "OOMKilled"
        read = core.read_namespaced_pod_log(name, ns, container=service, previous=True, _preload_content=False)
        assert read.data == b"Booting worker with pid: 37\n"
        assert core.read_namespaced_pod_log(name, ns, container=service, _preload_content=False).data == b"Starting gunicorn 19.6.0\n"


# ----------------------------------------------------------------------------- discovery, tables, paging (what kubectl needs)
def _get(api: KubeApiServer, path: str, accept: str) -> tuple[int, str, dict]:
    request = urllib.request.Request(api.url + path, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], json.loads(err.read())


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def test_discovery_through_the_real_client(api):
    with client.ApiClient(api.configuration()) as api_client:
        assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
        groups = {g.name: g.preferred_version.group_version for g in client.ApisApi(api_client).get_api_versions().groups}
        assert groups == {"apps": "apps/v1", "networking.k8s.io": "networking.k8s.io/v1"}  # no CRDs installed
        core = client.CoreV1Api(api_client).get_api_resources()
        apps = client.AppsV1Api(api_client).get_api_resources()
    by_name = {r.name: r for r in core.resources}
    assert core.group_version == "v1"
    assert (by_name["pods"].kind, by_name["pods"].namespaced, by_name["pods"].short_names) == ("Pod", True, ["po"])
    assert (by_name["persistentvolumes"].namespaced, by_name["persistentvolumes"].short_names) == (False, ["pv"])
    assert by_name["pods/log"].verbs == ["get"]
    assert {r.name: r.short_names for r in apps.resources} == {"deployments": ["deploy"], "replicasets": ["rs"]}


def test_discovery_of_a_group_not_installed_is_404_until_its_crds_are(api):
    assert _get(api, "/apis/amlarc.azureml.com/v1alpha1", "application/json")[0] == 404
    api.install_crds()
    code, _, body = _get(api, "/apis/amlarc.azureml.com/v1alpha1", "application/json")
    assert (code, body["kind"]) == (200, "APIResourceList")
    assert {r["name"] for r in body["resources"]} == {"onlineendpoints", "onlinedeployments", "instancetypes"}
    code, _, body = _get(api, "/apis/amlarc.azureml.com", "application/json")
    assert (code, body["kind"], body["preferredVersion"]["version"]) == (200, "APIGroup", "v1alpha1")


def test_aggregated_discovery_when_asked_for_it(api):
    code, content_type, body = _get(api, "/api", AGGREGATED)
    assert (code, content_type) == (200, "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2beta1")
    [core] = body["items"]
    resources = {r["resource"]: r for r in core["versions"][0]["resources"]}
    assert resources["pods"]["subresources"][0]["subresource"] == "log"
    assert resources["namespaces"]["scope"] == "Cluster" and resources["events"]["scope"] == "Namespaced"
    _, _, body = _get(api, "/apis", AGGREGATED)
    assert [i["metadata"]["name"] for i in body["items"]] == ["apps", "networking.k8s.io"]
    # v2 alone is not served by a v1.29 server: the plain list comes back.
    code, content_type, body = _get(api, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
    assert (content_type, body["kind"]) == ("application/json", "APIGroupList")


def _crashing_pod() -> dict:
    stamp = "2026-11-20T09:10:00Z"
    return _pod("crash-1", {"azuremlappname": "crash"}, containers=("main",), init=("init",), status={
        "phase": "Running", "podIPs": [{"ip": "10.244.0.9"}],
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
        "initContainerStatuses": [{"name": "init", "ready": True, "restartCount": 0,
                                   "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
        "containerStatuses": [{"name": "main", "ready": False, "restartCount": 4,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                               "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "finishedAt": stamp}}}]})


def test_table_for_kubectl_get(api):
    api.add(_crashing_pod())
    code, _, body = _get(api, f"/api/v1/namespaces/{NS}/pods", TABLE)
    assert (code, body["kind"], body["apiVersion"]) == (200, "Table", "meta.k8s.io/v1")
    assert [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    rows = {r["cells"][0]: r for r in body["rows"]}
    assert sorted(rows) == ["a-1", "b-1", "c-1", "crash-1"]
    name, ready, status, restarts, _age, ip, *_ = rows["crash-1"]["cells"]
    assert (ready, status, ip) == ("0/1", "CrashLoopBackOff", "10.244.0.9")
    assert restarts.startswith("4 (") and restarts.endswith(" ago)")
    assert rows["a-1"]["cells"][1:3] == ["1/1", "Running"]
    assert rows["a-1"]["object"]["kind"] == "PartialObjectMetadata"
    assert rows["a-1"]["object"]["metadata"]["labels"] == {"azuremlappname": "a", "tier": "gpu"}
    # One object by name is a Table of one row; without the Table media type it is the object itself.
    _, _, one = _get(api, f"/apis/apps/v1/namespaces/{NS}/deployments/a", TABLE)
    assert [r["cells"][:2] for r in one["rows"]] == [["a", "0/1"]]
    _, _, plain = _get(api, f"/apis/apps/v1/namespaces/{NS}/deployments/a", "application/json")
    assert plain["kind"] == "Deployment"


def test_event_table_names_the_involved_object(api):
    _, _, body = _get(api, f"/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3Da-1", TABLE)
    assert [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0] == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert [r["cells"][1:4] for r in body["rows"]] == [["Warning", "BackOff", "pod/a-1"]]


@pytest.mark.parametrize("seconds, printed", [(45, "45s"), (200, "3m20s"), (600, "10m"), (5 * 3600 + 720, "5h12m"),
                                               (30 * 3600, "30h"), (3 * 86400 + 4 * 3600, "3d4h"), (200 * 86400, "200d"),
                                               (1065 * 86400, "2y335d"), (9 * 365 * 86400, "9y"), (-5, "<invalid>")])
def test_ages_print_as_the_api_server_prints_them(seconds, printed):
    from emulators.kube_tables import human_duration

    assert human_duration(seconds) == printed


def test_lists_page_with_limit_and_continue(api):
    _, _, first = _get(api, f"/api/v1/namespaces/{NS}/pods?limit=2", "application/json")
    assert [i["metadata"]["name"] for i in first["items"]] == ["a-1", "b-1"]
    assert first["metadata"]["remainingItemCount"] == 1
    token = urllib.parse.quote(first["metadata"]["continue"])
    _, _, rest = _get(api, f"/api/v1/namespaces/{NS}/pods?limit=2&continue={token}", "application/json")
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c-1"]
    assert "continue" not in rest["metadata"]
    code, _, body = _get(api, f"/api/v1/namespaces/{NS}/pods?limit=2&continue=garbage", "application/json")
    assert (code, body["reason"]) == (400, "BadRequest")


def test_bytes_sent_counts_response_bodies(api):
    api.reset_requests()
    code, body = _http(api, f"/api/v1/namespaces/{NS}/pods")
    listed = len(json.dumps(body).encode())
    assert api.bytes_sent == listed
    _http(api, f"/api/v1/namespaces/{NS}/pods/x")  # a 404's Status body counts too
    assert api.bytes_sent > listed
    api.reset_requests()
    assert api.bytes_sent == 0


def test_a_table_watch_sends_the_columns_once(api):
    rv = _http(api, f"/api/v1/namespaces/{NS}/pods")[1]["metadata"]["resourceVersion"]
    api.add(_pod("a-4", {"azuremlappname": "a"}))
    api.add(_pod("a-5", {"azuremlappname": "a"}))
    request = urllib.request.Request(f"{api.url}/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1",
                                     headers={"Accept": TABLE})
    with urllib.request.urlopen(request, timeout=5) as resp:
        events = [json.loads(line) for line in resp.read().splitlines()]
    assert [(e["type"], e["object"]["kind"], e["object"]["rows"][0]["cells"][0]) for e in events] == [
        ("ADDED", "Table", "a-4"), ("ADDED", "Table", "a-5")]
    assert events[0]["object"]["columnDefinitions"][0]["name"] == "Name"
    assert events[1]["object"]["columnDefinitions"] is None
