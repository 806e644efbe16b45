"""The GETs aml-doctor makes to the Kubernetes API, as raw HTTP through the client's ApiClient.

The generated ``CoreV1Api``/``AppsV1Api`` classes import every model class they could return
(hundreds of modules, about half a second) although the collectors read JSON and never build a
model. These classes keep the generated methods' names and keyword arguments, so call sites read
the same, but each call is ``ApiClient.param_serialize`` plus ``ApiClient.call_api``: the kubeconfig's
authentication, TLS, proxy and the one urllib3 connection pool of the ApiClient are used as the
generated methods use them, and the answer comes back unread (``preload_content=False``).

Only GET is ever sent. Paths are those of the API reference
(https://kubernetes.io/docs/reference/kubernetes-api/).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

# The generated methods' keyword arguments and the query parameters they send.
_QUERY = {
    "label_selector": "labelSelector", "field_selector": "fieldSelector", "limit": "limit", "_continue": "continue",
    "resource_version": "resourceVersion", "timeout_seconds": "timeoutSeconds", "watch": "watch",
    "allow_watch_bookmarks": "allowWatchBookmarks", "container": "container", "tail_lines": "tailLines",
    "previous": "previous", "limit_bytes": "limitBytes", "since_seconds": "sinceSeconds", "timestamps": "timestamps",
}
ERROR_BODY_BYTES = 64 * 1024  # an error answer is a Status object; more than this is not read


class _Calls:
    def __init__(self, api_client: Any):
        self.api_client = api_client

    def get(self, path: str, *, _preload_content: bool = False, _request_timeout: Any = None, **params: Any) -> Any:
        """GET ``path`` with the query ``params``; the urllib3 response, unread. An answer that is
        not 2xx raises the client's :class:`ApiException` with the status and the body's start."""
        query = []
        for key, value in params.items():
            if value is None:
                continue
            if key not in _QUERY:
                raise TypeError(f"unexpected keyword argument {key!r}")
            query.append((_QUERY[key], ("true" if value else "false") if isinstance(value, bool) else value))
        accept = "application/json" if not path.endswith("/log") else "text/plain"
        request = self.api_client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept}, auth_settings=["BearerToken"])
        answer = self.api_client.call_api(*request, _request_timeout=_request_timeout)
        response = answer.response
        if not 200 <= answer.status <= 299:
            from kubernetes.client.exceptions import ApiException

            try:
                body = response.read(ERROR_BODY_BYTES)
            finally:
                response.close()
            raise ApiException(status=answer.status, reason=answer.reason,
                               body=body.decode("utf-8", errors="replace"))
        return response


def _seg(name: str) -> str:
    return quote(str(name), safe="")


class CoreCalls(_Calls):
    """The core/v1 GETs the collectors use."""

    def list_namespace(self, **kw: Any) -> Any:
        return self.get("/api/v1/namespaces", **kw)

    def read_namespace(self, name: str, **kw: Any) -> Any:
        return self.get(f"/api/v1/namespaces/{_seg(name)}", **kw)

    def list_node(self, **kw: Any) -> Any:
        return self.get("/api/v1/nodes", **kw)

    def list_persistent_volume(self, **kw: Any) -> Any:
        return self.get("/api/v1/persistentvolumes", **kw)

    def read_persistent_volume(self, name: str, **kw: Any) -> Any:
        return self.get(f"/api/v1/persistentvolumes/{_seg(name)}", **kw)

    def list_pod_for_all_namespaces(self, **kw: Any) -> Any:
        return self.get("/api/v1/pods", **kw)

    def read_namespaced_pod_log(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.get(f"/api/v1/namespaces/{_seg(namespace)}/pods/{_seg(name)}/log", **kw)

    def _list(self, plural: str, namespace: str, **kw: Any) -> Any:
        return self.get(f"/api/v1/namespaces/{_seg(namespace)}/{plural}", **kw)

    def _read(self, plural: str, name: str, namespace: str, **kw: Any) -> Any:
        return self.get(f"/api/v1/namespaces/{_seg(namespace)}/{plural}/{_seg(name)}", **kw)

    def list_namespaced_pod(self, namespace: str, **kw: Any) -> Any:
        return self._list("pods", namespace, **kw)

    def list_namespaced_event(self, namespace: str, **kw: Any) -> Any:
        return self._list("events", namespace, **kw)

    def list_namespaced_config_map(self, namespace: str, **kw: Any) -> Any:
        return self._list("configmaps", namespace, **kw)

    def list_namespaced_service(self, namespace: str, **kw: Any) -> Any:
        return self._list("services", namespace, **kw)

    def list_namespaced_endpoints(self, namespace: str, **kw: Any) -> Any:
        return self._list("endpoints", namespace, **kw)

    def list_namespaced_persistent_volume_claim(self, namespace: str, **kw: Any) -> Any:
        return self._list("persistentvolumeclaims", namespace, **kw)

    def read_namespaced_config_map(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._read("configmaps", name, namespace, **kw)

    def read_namespaced_service(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._read("services", name, namespace, **kw)

    def read_namespaced_endpoints(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._read("endpoints", name, namespace, **kw)

    def read_namespaced_persistent_volume_claim(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._read("persistentvolumeclaims", name, namespace, **kw)


class AppsCalls(_Calls):
    """The apps/v1 GETs the collectors use."""

    def list_deployment_for_all_namespaces(self, **kw: Any) -> Any:
        return self.get("/apis/apps/v1/deployments", **kw)

    def list_namespaced_deployment(self, namespace: str, **kw: Any) -> Any:
        return self.get(f"/apis/apps/v1/namespaces/{_seg(namespace)}/deployments", **kw)

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.get(f"/apis/apps/v1/namespaces/{_seg(namespace)}/deployments/{_seg(name)}", **kw)

    def list_namespaced_replica_set(self, namespace: str, **kw: Any) -> Any:
        return self.get(f"/apis/apps/v1/namespaces/{_seg(namespace)}/replicasets", **kw)


class NetworkingCalls(_Calls):
    def list_namespaced_network_policy(self, namespace: str, **kw: Any) -> Any:
        return self.get(f"/apis/networking.k8s.io/v1/namespaces/{_seg(namespace)}/networkpolicies", **kw)


class CustomCalls(_Calls):
    """Custom resources (the v2 extension's CRDs) and ``GET /apis``."""

    def get_api_versions(self, **kw: Any) -> Any:
        return self.get("/apis", **kw)

    def list_cluster_custom_object(self, group: str, version: str, plural: str, **kw: Any) -> Any:
        return self.get(f"/apis/{_seg(group)}/{_seg(version)}/{_seg(plural)}", **kw)

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, **kw: Any) -> Any:
        return self.get(f"/apis/{_seg(group)}/{_seg(version)}/namespaces/{_seg(namespace)}/{_seg(plural)}", **kw)

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str, **kw: Any) -> Any:
        return self.get(f"/apis/{_seg(group)}/{_seg(version)}/namespaces/{_seg(namespace)}/{_seg(plural)}/{_seg(name)}", **kw)


def watch_lines(response: Any, stop: Any = None):
    """The JSON lines of a watch answer (``?watch=true``), each one event, until it ends or
    ``stop`` (a threading.Event) is set. Lines are cut at newlines, as the API server sends them."""
    pending = b""
    try:
        # amt=None: each chunk as it arrives (a watch answer is chunked), as kubernetes.watch reads it.
        for chunk in response.stream(None, decode_content=False):
            if stop is not None and stop.is_set():
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending
    finally:
        response.close()
