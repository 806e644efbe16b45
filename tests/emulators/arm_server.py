"""Azure Resource Manager for azure-ai-ml, on 127.0.0.1 over TLS: the real SDK, answered locally.

One standard-library HTTPS server answers what the real ``azure-ai-ml`` (SDK v2) asks when
aml-doctor reads an online endpoint, at the real ARM paths and with JSON shaped like ARM's
(``Microsoft.MachineLearningServices`` REST API, the models azure-ai-ml deserialises):

* ``GET  .../workspaces/{ws}`` and ``.../computes/{name}`` (a ``Kubernetes`` compute and its namespace);
* ``GET  .../onlineEndpoints/{ep}``, ``.../onlineEndpoints/{ep}/deployments`` and ``.../deployments/{d}``;
* ``POST .../deployments/{d}/getLogs`` (``{"containerType": "InferenceServer"|"StorageInitializer", "tail": N}``),
  ARM's read action for logs: the one POST a diagnosis sends;
* ``GET  /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/mfeOperationsStatus/{id}``,
  the operation behind a deployment's ``AzureAsyncOperationUri``;
* ``GET  /metadata/endpoints``: the cloud metadata (``ARM_CLOUD_METADATA_URL``) that points the SDK's
  ``resourceManager`` at this server.

azure-core refuses bearer tokens over plain HTTP, so the server speaks TLS with a certificate it
makes for 127.0.0.1; :meth:`ArmServer.environment` gives the variables that make the SDK trust it
(``REQUESTS_CA_BUNDLE``) and use it (``ARM_CLOUD_METADATA_URL``, ``AZUREML_CURRENT_CLOUD``). Every
request is recorded (method, path, query; never the token). Anything else is a 404; any other write
is refused with 405.

AAD cannot run here: :class:`StaticTokenCredential` is the only stand-in, a ``TokenCredential``
that returns a fixed token.
"""

from __future__ import annotations

import copy
import datetime as _dt
import fnmatch
import json
import os
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PROVIDER = "Microsoft.MachineLearningServices"
CLOUD = "AmlDoctorLoopback"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: str  # the request body (getLogs' container type and tail); never a header


class StaticTokenCredential:
    """The AAD stand-in: azure-core's ``TokenCredential`` protocol with a fixed, unsigned token."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("aml-doctor-test-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("aml-doctor-test-token", int(time.time()) + 3600)


def _self_signed(directory: str) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1 and localhost, written to ``directory``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "arm.pem"), os.path.join(directory, "arm.key")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class ArmServer:
    def __init__(self, *, workspace: str = "mlops-prod-ws", resource_group: str = "mlops-rg",
                 subscription_id: str = "5f9e7a1b-3c2d-4e8f-9a0b-1c2d3e4f5a6b", location: str = "eastus"):
        self.workspace, self.resource_group, self.subscription_id, self.location = workspace, resource_group, subscription_id, location
        self.endpoints: dict[str, dict] = {}
        self.deployments: dict[tuple[str, str], dict] = {}
        self.logs: dict[tuple[str, str, str], str] = {}  # (endpoint, deployment, "InferenceServer"|"StorageInitializer") -> text
        self.computes: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        self.faults: list[tuple[str, int, dict]] = []
        self.workspace_properties: dict[str, Any] = {}  # merged into the workspace's properties (v1LegacyMode...)
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="aml-doctor-arm-")
        self.cert_path, self._key_path = _self_signed(self._dir)
        self._httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "ArmServer":
        server = self

        class Handler(_Handler):
            arm = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self._key_path)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="arm-emulator").start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ArmServer":
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """What points azure-ai-ml at this server and makes it trust the certificate."""
        return {"ARM_CLOUD_METADATA_URL": f"{self.url}/metadata/endpoints?api-version=2019-05-01", "AZUREML_CURRENT_CLOUD": CLOUD,
                "REQUESTS_CA_BUNDLE": self.cert_path, "SSL_CERT_FILE": self.cert_path,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # ------------------------------------------------------------------ content
    @property
    def workspace_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{PROVIDER}/"
                f"workspaces/{self.workspace}")

    def add_compute(self, name: str, namespace: str, *, cluster: str = "aks-inference") -> "ArmServer":
        self.computes[name] = {
            "id": f"{self.workspace_id}/computes/{name}", "name": name, "type": f"{PROVIDER}/workspaces/computes",
            "location": self.location, "identity": {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-000000000001",
                                                    "tenantId": "00000000-0000-0000-0000-000000000002"},
            "properties": {"computeType": "Kubernetes", "computeLocation": self.location, "provisioningState": "Succeeded",
                           "resourceId": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                                         f"Microsoft.ContainerService/managedClusters/{cluster}",
                           "isAttachedCompute": True, "disableLocalAuth": False,
                           "properties": {"namespace": namespace, "defaultInstanceType": "defaultinstancetype",
                                          "extensionInstanceReleaseTrain": "stable", "extensionPrincipalId": None}},
        }
        return self

    def add_endpoint(self, name: str, *, compute: str | None, traffic: dict[str, int], auth_mode: str = "Key",
                     state: str = "Succeeded") -> "ArmServer":
        props: dict[str, Any] = {"authMode": auth_mode, "provisioningState": state, "traffic": traffic, "publicNetworkAccess": "Enabled",
                                 "scoringUri": (f"http://20.81.23.150/api/v1/endpoint/{name}/score" if compute
                                                else f"https://{name}.{self.location}.inference.ml.azure.com/score"),
                                 "swaggerUri": None, "description": None, "properties": {}}
        if compute:
            props["compute"] = f"{self.workspace_id}/computes/{compute}"
        self.endpoints[name] = {"id": f"{self.workspace_id}/onlineEndpoints/{name}", "name": name,
                                "type": f"{PROVIDER}/workspaces/onlineEndpoints", "location": self.location,
                                "kind": "K8S" if compute else "Managed", "tags": {},
                                "identity": {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-000000000003",
                                             "tenantId": "00000000-0000-0000-0000-000000000002"},
                                "properties": props}
        return self

    def add_deployment(self, endpoint: str, name: str, *, kubernetes: bool, state: str, model: str, instance_type: str = "",
                       request_timeout_ms: int = 5000, logs: str = "", init_logs: str = "", error: dict | None = None) -> "ArmServer":
        op_id = f"od:{endpoint}-{name}:{abs(hash((endpoint, name))) % 10**8}"
        op_uri = (f"{self.url}/subscriptions/{self.subscription_id}/providers/{PROVIDER}/locations/{self.location}/"
                  f"mfeOperationsStatus/{op_id}?api-version=2023-04-01-preview&t=638000000000000000&c=MIIHzDCCBrSgAwIBAgITHgAAAAAA&s=c2lnbmF0dXJl&h=aGFzaA")
        model_id = model if model.startswith(("azureml://", "/subscriptions/")) else (
            f"{self.workspace_id}/models/{model.split(':')[1]}/versions/{model.split(':')[2]}" if model.startswith("azureml:") else model)
        props: dict[str, Any] = {
            "endpointComputeType": "Kubernetes" if kubernetes else "Managed", "model": model_id,
            "environmentId": f"{self.workspace_id}/environments/credit-env/versions/4",
            "codeConfiguration": {"codeId": f"{self.workspace_id}/codes/0f1e2d3c/versions/1", "scoringScript": "score.py"},
            "provisioningState": state, "appInsightsEnabled": False, "environmentVariables": {},
            "requestSettings": {"requestTimeout": f"PT{request_timeout_ms / 1000:g}S", "maxConcurrentRequestsPerInstance": 1, "maxQueueWait": "PT0.5S"},
            "scaleSettings": {"scaleType": "Default"},
            "livenessProbe": {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S", "successThreshold": 1, "failureThreshold": 30},
            "readinessProbe": {"initialDelay": "PT10S", "period": "PT10S", "timeout": "PT2S", "successThreshold": 1, "failureThreshold": 30},
            "properties": {"AzureAsyncOperationUri": op_uri},
        }
        if kubernetes:
            props["instanceType"] = instance_type or "defaultinstancetype"
            # A Kubernetes deployment's resources, as ARM returns them (azure-ai-ml reads them unconditionally).
            props["containerResourceRequirements"] = {"containerResourceRequests": {"cpu": "100m", "memory": "2Gi"},
                                                      "containerResourceLimits": {"cpu": "2", "memory": "2Gi"}}
        else:
            props["instanceType"] = instance_type or "Standard_DS3_v2"
        self.deployments[(endpoint, name)] = {
            "id": f"{self.workspace_id}/onlineEndpoints/{endpoint}/deployments/{name}", "name": name,
            "type": f"{PROVIDER}/workspaces/onlineEndpoints/deployments", "location": self.location,
            "kind": "Kubernetes" if kubernetes else "Managed", "sku": {"name": "Default", "capacity": 1}, "tags": {}, "properties": props}
        self.logs[(endpoint, name, "InferenceServer")] = logs
        self.logs[(endpoint, name, "StorageInitializer")] = init_logs
        self.operations[op_id] = {"id": op_id, "name": op_id, "status": "Failed" if error else "Succeeded",
                                  "startTime": "2026-11-20T09:00:00Z", "endTime": "2026-11-20T09:25:00Z",
                                  **({"error": error} if error else {})}
        return self

    def fail(self, path_glob: str, status: int, body: dict) -> "ArmServer":
        self.faults.append((path_glob, status, body))
        return self

    # ------------------------------------------------------------------ answers
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def answer(self, method: str, path: str, body: str) -> tuple[int, Any]:
        for glob, status, fault in self.faults:
            if fnmatch.fnmatchcase(path, glob):
                return status, fault
        parts = [unquote(p) for p in path.strip("/").split("/")]
        low = [p.lower() for p in parts]
        if low[:2] == ["metadata", "endpoints"]:
            return 200, self._metadata()
        if method == "GET" and len(low) == 8 and low[4] == "locations" and low[6] == "mfeoperationsstatus":
            op = self.operations.get(parts[7])
            return (200, op) if op else _not_found("operation", parts[7])
        ws_prefix = ["subscriptions", self.subscription_id.lower(), "resourcegroups", self.resource_group.lower(), "providers",
                     PROVIDER.lower(), "workspaces", self.workspace.lower()]
        if low[:8] != ws_prefix:
            return _not_found("resource", path)
        rest, rest_low = parts[8:], low[8:]
        if method == "POST" and len(rest) == 5 and rest_low[0] == "onlineendpoints" and rest_low[2] == "deployments" and rest_low[4] == "getlogs":
            try:
                request = json.loads(body or "{}")
            except ValueError:
                return 400, {"error": {"code": "BadRequest", "message": "invalid body"}}
            if (rest[1], rest[3]) not in self.deployments:
                return _not_found("deployment", rest[3])
            text = self.logs.get((rest[1], rest[3], request.get("containerType") or "InferenceServer"), "")
            tail = request.get("tail")
            if tail:
                text = "".join(text.splitlines(keepends=True)[-int(tail):])
            return 200, {"content": text}
        if method != "GET":
            return 405, {"error": {"code": "MethodNotAllowed", "message": f"the emulator is read-only: {method} {path}"}}
        if not rest:
            return 200, self._workspace()
        if rest_low[0] == "computes" and len(rest) == 2:
            item = self.computes.get(rest[1])
            return (200, item) if item else _not_found("compute", rest[1])
        if rest_low[0] == "onlineendpoints":
            if len(rest) == 1:
                return 200, {"value": list(self.endpoints.values())}
            endpoint = self.endpoints.get(rest[1])
            if endpoint is None:
                return _not_found("online endpoint", rest[1])
            if len(rest) == 2:
                return 200, endpoint
            if len(rest) == 3 and rest_low[2] == "deployments":
                return 200, {"value": [d for (e, _), d in self.deployments.items() if e == rest[1]]}
            if len(rest) == 4 and rest_low[2] == "deployments":
                item = self.deployments.get((rest[1], rest[3]))
                return (200, item) if item else _not_found("deployment", rest[3])
        return _not_found("resource", path)

    def _workspace(self) -> dict:
        return {"id": self.workspace_id, "name": self.workspace, "type": f"{PROVIDER}/workspaces", "location": self.location,
                "identity": {"type": "SystemAssigned"}, "sku": {"name": "Basic", "tier": "Basic"}, "kind": "Default",
                "properties": {"friendlyName": self.workspace, "storageAccount": f"/subscriptions/{self.subscription_id}/resourceGroups/"
                               f"{self.resource_group}/providers/Microsoft.Storage/storageAccounts/mlopsprodstore4d2e",
                               "discoveryUrl": f"{self.url}/discovery", "workspaceId": "6f1c2a9e-4b7d-4e21-9c3a-5d8e7f6a1b2c",
                               "v1LegacyMode": False, "publicNetworkAccess": "Enabled", "provisioningState": "Succeeded",
                               "mlFlowTrackingUri": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0{self.workspace_id}",
                               **self.workspace_properties}}

    def _metadata(self) -> list[dict]:
        # The ARM metadata document (management.azure.com/metadata/endpoints), one cloud, pointing at this server.
        return [{"name": CLOUD, "portal": "https://portal.azure.com", "resourceManager": self.url + "/",
                 "authentication": {"loginEndpoint": "https://login.microsoftonline.com", "audiences": ["https://management.core.windows.net/"],
                                    "tenant": "common", "identityProvider": "AAD"},
                 "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "acrLoginServer": "azurecr.io"},
                 "microsoftGraphResourceId": "https://graph.microsoft.com/", "media": "", "graphAudience": "", "graph": "",
                 "batch": "", "gallery": "", "sqlManagement": "", "vmImageAliasDoc": ""}]


def _not_found(what: str, name: str) -> tuple[int, dict]:
    return 404, {"error": {"code": "ResourceNotFound", "message": f"The {what} '{name}' was not found."}}


class _Handler(BaseHTTPRequestHandler):
    arm: ArmServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        """The test output stays readable; tests read ``requests``."""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self.arm._record(RecordedRequest(self.command, url.path, parse_qs(url.query), body))
        status, payload = self.arm.answer(self.command, url.path, body)
        data = json.dumps(copy.deepcopy(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "00000000-0000-0000-0000-00000000abcd")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
