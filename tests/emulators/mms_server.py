"""Azure Resource Manager, AzureML discovery and the Model Management Service (MMS) on 127.0.0.1.

One standard-library HTTP server answers the requests the real ``azureml-core`` makes to open a
workspace and read a v1 web service, at the real paths and with JSON shaped like the real services'
answers:

* ARM ``GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/
  workspaces/{ws}`` (properties.discoveryUrl, storageAccount, containerRegistry...);
* discovery ``GET /discovery`` (every service URL points back at this server);
* MMS ``GET {mms}/services?expand=true``, ``GET {mms}/services/{name}?expand=true`` and
  ``GET {mms}/services/{name}/logs?tail=N&init=bool``, where ``{mms}`` is
  ``/modelmanagement/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/
  Microsoft.MachineLearningServices/workspaces/{ws}``.

Anything else is a 404, and a write (POST, PUT, PATCH, DELETE) is refused with 405, so a
read-only client can be proven read-only: every request is recorded in :attr:`MmsServer.requests`.
The server also acts as the HTTP(S) proxy of a test (see :meth:`MmsServer.proxy_environment`):
a request for any other host reaches it as a proxy request, is refused, and is recorded in
:attr:`MmsServer.escaped`, so a test can prove that nothing left the machine.

Faults are set per path: :meth:`forbid_workspace` (ARM 403 ``AuthorizationFailed``),
:meth:`hang` (the answer never comes until the server stops), :meth:`fail`; :meth:`redirect`
makes discovery name another URL for one service (an unreachable regional endpoint).

AAD cannot run here, so the SDK authenticates with :func:`static_token_auth`, a minimal
``AbstractAuthentication`` that returns a fixed unsigned token and points ARM at this server.

Usage::

    with MmsServer(workspace="mlops-prod-ws") as mms:
        mms.add_service(aks_service_payload("credit-risk-svc", state="Healthy"), logs="...")
        ws = Workspace.get(mms.workspace, auth=static_token_auth(mms),
                           subscription_id=mms.subscription_id, resource_group=mms.resource_group)
        assert {r.method for r in mms.requests} == {"GET"}
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MMS_API_VERSION = "v1.0"
WORKSPACE_PROVIDER = "Microsoft.MachineLearningServices/workspaces"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: bool  # whether an Authorization header was sent (its value is never kept)


def aks_service_payload(
    name: str,
    *,
    state: str,
    compute_name: str = "aks-inference",
    namespace: str = "azureml-mlops-prod-ws",
    scoring_ip: str = "20.81.23.147",
    error: dict | None = None,
    environment: tuple[str, str] = ("credit-env", "4"),
    created: str = "2022-03-29T12:02:55.1234567+00:00",
    updated: str = "2022-03-29T12:15:55.7654321+00:00",
) -> dict:
    """An AKS web service as MMS returns it for ``GET services/{name}?expand=true``
    (AKSServiceResponse of the MMS API: ServiceResponseBase plus the AKS fields)."""
    service_id = name
    payload: dict[str, Any] = {
        "id": service_id,
        "name": name,
        "description": None,
        "kvTags": {},
        "properties": {"hasInferenceSchema": "False", "hasHttps": "False"},
        "operationId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"operation/{name}")),
        "state": state,
        "createdTime": created,
        "updatedTime": updated,
        "createdBy": {"userObjectId": "7c0d5a1e-2b4f-4c7e-9a51-3f1e2d6b8a90", "userPuId": "10032001A4B5C6D7",
                      "userIdp": None, "userAltSecId": None, "userIss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                      "userTenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "userName": "Data Scientist"},
        "computeType": "AKS",
        "deploymentType": "HttpRealtimeEndpoint",
        "computeName": compute_name,
        "scoringUri": f"http://{scoring_ip}:80/api/v1/service/{name}/score",
        "swaggerUri": f"http://{scoring_ip}:80/api/v1/service/{name}/swagger.json",
        "appInsightsEnabled": False,
        "authEnabled": True,
        "aadAuthEnabled": False,
        "autoScaler": {"autoscaleEnabled": True, "minReplicas": 1, "maxReplicas": 10,
                       "targetUtilization": 70, "refreshPeriodInSeconds": 1},
        "containerResourceRequirements": {"cpu": 0.1, "cpuLimit": None, "memoryInGB": 0.5,
                                          "memoryInGBLimit": None, "gpu": 0, "fpga": 0},
        "dataCollection": {"eventHubEnabled": False, "storageEnabled": False},
        "maxConcurrentRequestsPerContainer": 1,
        "maxQueueWaitMs": 500,
        "numReplicas": 1,
        "scoringTimeoutMs": 60000,
        "livenessProbeRequirements": {"failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 2,
                                      "periodSeconds": 10, "initialDelaySeconds": 310},
        "namespace": namespace,
        "deploymentStatus": {"desiredReplicas": 1, "updatedReplicas": 1,
                             "availableReplicas": 1 if state == "Healthy" else 0, "error": error},
        "environmentImageRequest": {
            "driverProgram": None,
            "assets": [],
            "modelIds": [f"{name}-model:1"],
            "environment": _environment_definition(*environment),
        },
        "models": [],
        "modelConfigMap": {},
        "error": error,
    }
    return payload


def _environment_definition(name: str, version: str) -> dict:
    """ModelEnvironmentDefinition: a registered curated-style environment with conda dependencies."""
    return {
        "name": name,
        "version": version,
        "python": {
            "interpreterPath": "python",
            "userManagedDependencies": False,
            "condaDependencies": {
                "name": "project_environment",
                "dependencies": ["python=3.8.10", {"pip": ["azureml-defaults==1.48.0", "scikit-learn==1.0.2",
                                                           "joblib==1.2.0"]}],
                "channels": ["anaconda", "conda-forge"],
            },
            "baseCondaEnvironment": None,
        },
        "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
        "docker": {
            "baseImage": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230103.v1",
            "platform": {"os": "Linux", "architecture": "amd64"},
            "baseDockerfile": None,
            "baseImageRegistry": {"address": None, "username": None, "password": None},
        },
        "spark": {"repositories": [], "packages": [], "precachePackages": True},
        "inferencingStackVersion": None,
    }


def _container_image(details: dict, *, created: str) -> dict:
    """imageDetails as MMS returns it for a Docker web-service image (DockerImageResponse)."""
    location = details["imageLocation"]
    name = location.rsplit("/", 1)[-1].split(":")[0]
    return {
        "id": f"{name}:1",
        "name": name,
        "version": 1,
        "description": None,
        "kvTags": {},
        "properties": {},
        "createdTime": created,
        "modifiedTime": created,
        "creationState": "Succeeded",
        "imageType": "Docker",
        "imageFlavor": "WebApiContainer",
        "imageLocation": location,
        "imageBuildLogUri": None,
        "modelIds": [],
        "assets": [],
        "driverProgram": "main.py",
        "targetRuntime": {"runtimeType": "Python", "properties": {"pipRequirements": "requirements.txt"},
                          "targetArchitecture": "amd64"},
        **{key: value for key, value in details.items() if key != "imageLocation"},
    }


def _unsigned_jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"


class MmsServer:
    """ARM, discovery and MMS for one workspace. Start it with ``with`` (or :meth:`start`)."""

    def __init__(
        self,
        *,
        subscription_id: str = "5a3c8b1e-9d2f-4e6a-8c71-0b4f2e9d6a13",
        resource_group: str = "mlops-prod-rg",
        workspace: str = "mlops-prod-ws",
        location: str = "eastus",
        storage_account: str = "mlopsprodws4127836021",
        container_registry: str = "mlopsprodacr7f3c21",
        tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47",
    ):
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        self.location = location
        self.storage_account = storage_account
        self.container_registry = container_registry
        self.tenant_id = tenant_id
        self.workspace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subscription_id}/{resource_group}/{workspace}"))
        self.services: dict[str, dict] = {}
        self.logs: dict[str, str] = {}
        self.init_logs: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        self.escaped: list[str] = []
        self.redirects: dict[str, str] = {}  # discovery key -> URL served instead of this server
        self._faults: list[tuple[str, int | None, dict | None]] = []  # (path glob, status or None = hang, body)
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- content -------------------------------------------------------------------------------

    def add_service(self, payload: dict, *, logs: str = "", init_logs: str = "") -> MmsServer:
        self.services[payload["name"]] = payload
        self.logs[payload["name"]] = logs
        self.init_logs[payload["name"]] = init_logs
        return self

    def load_bundle(self, bundle_dir: str) -> MmsServer:
        """Serve the service of a bundle directory: its ``azureml/service.json`` completed with the
        AKS fields MMS always returns, and its ``azureml/logs.txt`` and ``init-logs.txt``."""
        def read(name: str) -> str:
            path = os.path.join(bundle_dir, "azureml", name)
            if not os.path.exists(path):
                return ""
            with open(path, encoding="utf-8") as fh:
                return fh.read()

        given = json.loads(read("service.json"))
        payload = aks_service_payload(given["name"], state=given.get("state", "Healthy"))
        for key, value in given.items():
            if key == "environmentDetails":
                continue
            default = payload.get(key)
            # A hand-made bundle may hold part of an object; MMS sends all of its fields.
            payload[key] = {**default, **value} if isinstance(default, dict) and isinstance(value, dict) else value
        if "environmentDetails" in given:
            env = given["environmentDetails"]
            payload["environmentImageRequest"]["environment"] = _environment_definition(env["name"], env["version"])
        if "imageDetails" in given:
            payload["imageDetails"] = _container_image(given["imageDetails"], created=payload["createdTime"])
        return self.add_service(payload, logs=read("logs.txt"), init_logs=read("init-logs.txt"))

    def forbid_workspace(self) -> MmsServer:
        """The caller has no role on the workspace: ARM answers 403 AuthorizationFailed."""
        scope = self.workspace_scope
        message = (
            "The client 'aml-doctor@contoso.com' with object id '7c0d5a1e-2b4f-4c7e-9a51-3f1e2d6b8a90' does not "
            f"have authorization to perform action '{WORKSPACE_PROVIDER}/read' over scope '{scope}' or the "
            "scope is invalid. If access was recently granted, please refresh your credentials."
        )
        return self.fail(scope, 403, {"error": {"code": "AuthorizationFailed", "message": message}})

    def fail(self, path_glob: str, status: int, body: dict) -> MmsServer:
        self._faults.append((path_glob, status, body))
        return self

    def redirect(self, discovery_key: str, url: str) -> MmsServer:
        """Discovery names ``url`` for one service (``modelmanagement``, ``history``...), e.g. a
        port where nothing listens, to test an unreachable regional endpoint."""
        self.redirects[discovery_key] = url
        return self

    def hang(self, path_glob: str) -> MmsServer:
        """Requests whose path matches never get an answer (until the server stops)."""
        self._faults.append((path_glob, None, None))
        return self

    # --- addresses -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def workspace_scope(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/{WORKSPACE_PROVIDER}/{self.workspace}")

    @property
    def mms_path(self) -> str:
        return f"/modelmanagement/{MMS_API_VERSION}{self.workspace_scope}"

    def write_config(self, directory: str) -> str:
        """Write the workspace's ``config.json`` (as the portal's download gives it); its path."""
        path = os.path.join(directory, "config.json")
        with open(path, "w") as fh:
            json.dump({"subscription_id": self.subscription_id, "resource_group": self.resource_group,
                       "workspace_name": self.workspace}, fh)
        return path

    def proxy_environment(self) -> dict[str, str]:
        """Environment variables that send every non-loopback HTTP(S) request to this server,
        which refuses and records it (:attr:`escaped`)."""
        return {"HTTP_PROXY": self.url, "HTTPS_PROXY": self.url, "http_proxy": self.url,
                "https_proxy": self.url, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def access_token(self) -> str:
        """An unsigned JWT with the claims azureml-core reads (``exp``); no service checks it."""
        now = int(time.time())
        return _unsigned_jwt({"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{self.tenant_id}/",
                              "iat": now, "nbf": now, "exp": now + 3600, "tid": self.tenant_id,
                              "oid": "7c0d5a1e-2b4f-4c7e-9a51-3f1e2d6b8a90"})

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MmsServer:
        server = self

        class Handler(_Handler):
            mms = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mms-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> MmsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- answers -------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _fault(self, path: str) -> tuple[int | None, dict | None] | None:
        for glob, status, body in self._faults:
            if fnmatch.fnmatchcase(path, glob):
                return status, body
        return None

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == self.workspace_scope:
            return 200, self._workspace_resource()
        if path == "/discovery":
            return 200, self._discovery()
        if path == f"{self.mms_path}/services":
            return 200, {"value": [copy.deepcopy(s) for s in self.services.values()]}
        if path.startswith(f"{self.mms_path}/services/"):
            rest = path[len(f"{self.mms_path}/services/"):]
            name, _, tail = rest.partition("/")
            if name not in self.services:
                return 404, _mms_error(404, "WebserviceNotFound", f"No service with name {name} could be found.")
            if tail == "":
                return 200, copy.deepcopy(self.services[name])
            if tail == "logs":
                init = query.get("init", ["False"])[0].lower() == "true"
                text = (self.init_logs if init else self.logs)[name]
                tail_lines = int(query.get("tail", ["5000"])[0])
                return 200, {"content": "".join(text.splitlines(keepends=True)[-tail_lines:])}
        return 404, _mms_error(404, "NotFound", f"The requested resource {path} was not found.")

    def _workspace_resource(self) -> dict:
        sub, rg = self.subscription_id, self.resource_group
        prefix = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
        return {
            "id": self.workspace_scope,
            "name": self.workspace,
            "type": WORKSPACE_PROVIDER,
            "location": self.location,
            "tags": {},
            "etag": None,
            "identity": {"principalId": "0f3e6c2a-8b1d-4a5e-9c7f-2d4b6a8e0c13", "tenantId": self.tenant_id,
                         "type": "SystemAssigned"},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {
                "friendlyName": self.workspace,
                "description": "",
                "storageAccount": f"{prefix}/Microsoft.Storage/storageAccounts/{self.storage_account}",
                "containerRegistry": f"{prefix}/Microsoft.ContainerRegistry/registries/{self.container_registry}",
                "keyVault": f"{prefix}/Microsoft.Keyvault/vaults/{self.workspace.replace('-', '')[:15]}kv2e41",
                "applicationInsights": f"{prefix}/microsoft.insights/components/{self.workspace}ai3b07",
                "hbiWorkspace": False,
                "provisioningState": "Succeeded",
                "discoveryUrl": f"{self.url}/discovery",
                "workspaceId": self.workspace_id,
                "creationTime": "2020-11-20T09:14:03.1415926Z",
                "privateLinkCount": 0,
                "allowPublicAccessWhenBehindVnet": False,
                "storageHnsEnabled": False,
                "mlFlowTrackingUri": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0{self.workspace_scope}",
                "publicNetworkAccess": "Enabled",
                "v1LegacyMode": False,
                "tenantId": self.tenant_id,
            },
        }

    def _discovery(self) -> dict:
        # The real answer names one regional host per service; here every one is this server.
        services = {name: self.url for name in ("api", "catalog", "experimentation", "gallery", "history",
                                                "hyperdrive", "labeling", "modelmanagement", "pipelines")}
        return services | {"studio": "https://ml.azure.com"} | self.redirects


def _mms_error(status: int, code: str, message: str) -> dict:
    return {"code": code, "statusCode": status, "message": message,
            "correlation": {"RequestId": str(uuid.uuid4())}}


class _Handler(BaseHTTPRequestHandler):
    mms: MmsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # the test output stays readable
        pass

    def do_GET(self) -> None:
        if not self.path.startswith("/"):  # an absolute URI: a proxy request for another host
            return self._refuse_escape(self.path)
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        self.mms._record(RecordedRequest("GET", path, query, "Authorization" in self.headers))
        fault = self.mms._fault(path)
        if fault is not None:
            status, body = fault
            if status is None:
                self.mms._release.wait()
                return
            return self._send(status, body)
        status, body = self.mms._answer(path, query)
        self._send(status, body)

    def _write(self) -> None:
        parts = urlsplit(self.path)
        self.mms._record(RecordedRequest(self.command, unquote(parts.path), parse_qs(parts.query),
                                         "Authorization" in self.headers))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._send(405, _mms_error(405, "MethodNotAllowed", f"{self.command} is not allowed here"))

    do_POST = do_PUT = do_PATCH = do_DELETE = _write

    def do_CONNECT(self) -> None:
        self._refuse_escape(self.path)

    def _refuse_escape(self, target: str) -> None:
        with self.mms._lock:
            self.mms.escaped.append(f"{self.command} {target}")
        self._send(403, {"error": "this test allows no request beyond 127.0.0.1"})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def static_token_auth(server: MmsServer):
    """An ``azureml.core.authentication.AbstractAuthentication`` for :class:`MmsServer`: a fixed
    token instead of AAD (which cannot run here), and ARM at the server instead of
    management.azure.com. Everything else in azureml-core runs as shipped."""
    from azureml._vendor.azure_cli_core.cloud import CloudEndpoints
    from azureml.core.authentication import AbstractAuthentication, _SubscriptionInfo

    class StaticTokenAuthentication(AbstractAuthentication):
        def __init__(self):
            super().__init__(cloud="AzureCloud")
            cloud = copy.deepcopy(self._cloud_type)
            cloud.endpoints = CloudEndpoints(**{**vars(cloud.endpoints), "resource_manager": server.url + "/"})
            self._cloud_type = cloud
            self._token = server.access_token()

        def _get_arm_token(self):
            return self._token

        def _get_graph_token(self):
            return self._token

        def _get_azureml_client_token(self):
            return self._token

        def _get_all_subscription_ids(self):
            return [_SubscriptionInfo("Contoso ML Production", server.subscription_id)], server.tenant_id

        def _get_workspace(self, subscription_id, resource_group, name):
            return None  # None: open the workspace through ARM, as the SDK's own credentials do

    return StaticTokenAuthentication()
