"""The AzureML collector through the real azureml-core code: Workspace.get / from_config,
Webservice(...), Webservice.list, get_logs. Only the HTTP is answered locally, by
emulators.mms_server (ARM, discovery and MMS at their real paths, on 127.0.0.1).

The one mocked piece is the authentication: AAD cannot run here, so the SDK gets
``static_token_auth``, a minimal AbstractAuthentication that returns a fixed unsigned token and
names the local server as the ARM endpoint. Every other line of azureml-core runs as shipped.
The server is also every test's HTTP(S) proxy, so a request for any other host would be seen
(and refused) there: each test asserts none was made, and that only GETs reached the server.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aml_doctor.evidence import store as evidence
from aml_doctor.views import errorjson
from aml_doctor.collect.azureml import NOT_INSTALLED, collect_azureml
from aml_doctor.collect.part import WorkspaceRecord, manifest, render_files
from emulators.mms_server import (
    MmsServer,
    aks_service_payload,
    static_token_auth,
)

SCENARIOS = Path(__file__).parent / "scenarios"
CRASHLOOP = SCENARIOS / "crashloop-import-missing-module"
HEALTHY = SCENARIOS / "healthy"
SOURCES = {"azureml_service", "azureml_logs", "azureml_init_logs"}


def test_without_azureml_core_every_azureml_source_is_a_gap():
    # A subprocess in which `import azureml` fails, as it does where the extra is not installed.
    code = (
        "import sys, json; sys.modules['azureml'] = None\n"
        "from aml_doctor.collect.azureml import collect_azureml\n"
        "part = collect_azureml('claims-triage', config_path=None, subscription_id=None,"
        " resource_group=None, workspace_name=None)\n"
        "print(json.dumps({'gaps': [[g.what, g.error] for g in part.gaps], 'files': list(part.files)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["files"] == []
    assert {what for what, _ in out["gaps"]} == SOURCES
    assert all(error == NOT_INSTALLED for _, error in out["gaps"])
    assert proc.stderr == ""


def test_importing_the_collector_does_not_import_azureml_core():
    # The CLI imports its collectors at start-up; azureml-core alone takes seconds to import.
    code = "import sys, aml_doctor.collect.azureml; print('azureml' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


requires_sdk = pytest.mark.skipif(importlib.util.find_spec("azureml") is None,
                                  reason="pip install 'aml-doctor[azureml]' installs azureml-core")


@pytest.fixture
def sdk_env(monkeypatch, tmp_path):
    """What every test gives azureml-core: a named cloud (without one the SDK fetches the cloud
    list from management.azure.com) and a discovery cache in tmp_path instead of ~/.azureml."""
    from azureml._base_sdk_common.service_discovery import CachedServiceDiscovery

    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")
    monkeypatch.setattr(CachedServiceDiscovery.__init__, "__defaults__", (str(tmp_path / ".discovery"),))
    return monkeypatch


@pytest.fixture
def mms(sdk_env):
    with MmsServer(workspace="insurance-ds-ws", storage_account="insurancedsws5528371649",
                   container_registry="insurancedsacr7e2f90") as server:
        for name, value in server.proxy_environment().items():
            sdk_env.setenv(name, value)
        yield server
        assert server.escaped == [], "a request left 127.0.0.1"
        assert {r.method for r in server.requests} <= {"GET"}, "the collector sent a write"


def collect(server: MmsServer, service: str, **options):
    options.setdefault("subscription_id", server.subscription_id)
    options.setdefault("resource_group", server.resource_group)
    options.setdefault("workspace_name", server.workspace)
    return collect_azureml(service, auth=static_token_auth(server), **options)


@requires_sdk
def test_failed_crashloop_service_from_config_json(mms, tmp_path):
    mms.load_bundle(str(CRASHLOOP))
    config = mms.write_config(str(tmp_path))
    progress: list[str] = []

    part = collect_azureml("claims-triage", config_path=config, subscription_id=None, resource_group=None,
                           workspace_name=None, auth=static_token_auth(mms), progress=progress.append)

    assert part.gaps == []
    assert set(part.collected) == SOURCES
    service = part.files["azureml/service.json"]
    assert service["state"] == "Failed"
    assert service["computeType"] == "AKS"
    assert service["error"]["code"] == "KubernetesDeploymentFailed"
    assert service["error"]["statusCode"] == 400
    assert service["error"]["details"][0]["code"] == "CrashLoopBackOff"
    assert part.files["azureml/logs.txt"] == (CRASHLOOP / "azureml" / "logs.txt").read_text()
    assert "ModuleNotFoundError" in part.files["azureml/logs.txt"]
    assert part.workspace == WorkspaceRecord(
        workspace="insurance-ds-ws",
        namespace="azureml-insurance-ds-ws",
        storage_account="insurancedsws5528371649",
        storage_account_id=f"/subscriptions/{mms.subscription_id}/resourceGroups/{mms.resource_group}"
                           "/providers/Microsoft.Storage/storageAccounts/insurancedsws5528371649",
        compute_target="insurance-aks",
        scoring_uri="http://20.81.23.147:80/api/v1/service/claims-triage/score",
        image_location="insurancedsacr7e2f90.azurecr.io/azureml/azureml_b3dc30d0d04cfdaf936ee90f5ea1a6bb",
    )
    assert part.endpoint is None and part.deployment is None
    logs_requests = [r.query for r in mms.requests if r.path.endswith("/services/claims-triage/logs")]
    assert logs_requests == [{"tail": ["5000"], "init": ["False"]}, {"tail": ["5000"], "init": ["True"]}]
    # The SDK sends its AAD token to ARM and MMS; the discovery document is public.
    assert all(r.authorization for r in mms.requests if r.path != "/discovery")
    assert any("claims-triage is Failed" in line for line in progress)

    # What it collected is a bundle the analyser reads: the error JSON is found where rules look.
    files = render_files(manifest("claims-triage", part.workspace.namespace, part.workspace.workspace, part), part)
    ev = evidence.load(files)
    assert [e.code for e in errorjson.azureml_errors(ev)][:1] == ["KubernetesDeploymentFailed"]
    assert errorjson.service_state(ev) == ("Failed", "azureml/service.json#state")


@requires_sdk
def test_healthy_service_json_has_the_bundle_format_fields(mms):
    mms.load_bundle(str(HEALTHY))

    part = collect(mms, "credit-risk-svc")

    assert part.gaps == []
    service = part.files["azureml/service.json"]
    assert service["name"] == "credit-risk-svc"
    assert service["state"] == "Healthy"
    assert service["error"] is None
    assert service["computeType"] == "AKS"
    assert service["computeName"] == "mlops-aks"
    assert service["scoringUri"] == "http://20.81.23.147:80/api/v1/service/credit-risk-svc/score"
    assert service["imageDetails"]["imageLocation"] == \
        "mlopsprodacr7f3c21.azurecr.io/azureml/azureml_61ffc8a61407751f4741e5d9494e7b46"
    assert (service["environmentDetails"]["name"], service["environmentDetails"]["version"]) == ("credit-env", "4")
    assert service["containerResourceRequirements"]["memoryInGB"] == 0.5
    assert service["properties"] == {"hasInferenceSchema": "False", "hasHttps": "False"}
    assert service["namespace"] == "azureml-mlops-prod-ws"
    assert part.workspace.namespace == "azureml-mlops-prod-ws"  # MMS's namespace beats the convention
    assert "Listening at: http://127.0.0.1:31311" in part.files["azureml/logs.txt"]
    assert part.files["azureml/init-logs.txt"] == ""


@requires_sdk
def test_unknown_service_lists_the_services_that_exist(mms):
    mms.load_bundle(str(CRASHLOOP)).load_bundle(str(HEALTHY))

    part = collect(mms, "claims")

    assert part.files == {}
    assert {g.what for g in part.gaps} == SOURCES
    assert part.gaps[0].error == (
        "web service 'claims' not found in workspace 'insurance-ds-ws'; "
        "the services there: claims-triage, credit-risk-svc")
    assert part.workspace.available_services == ("claims-triage", "credit-risk-svc")


@requires_sdk
def test_no_access_to_the_workspace_is_one_line_per_source(mms, capfd):
    mms.forbid_workspace()

    part = collect(mms, "claims-triage")

    # azureml-core logs each error it raises; none of that reaches the terminal.
    assert capfd.readouterr().err == ""

    assert part.files == {} and part.workspace is None
    assert {g.what for g in part.gaps} == SOURCES
    error = part.gaps[0].error
    assert error.startswith("cannot open the workspace: 403 AuthorizationFailed: The client 'aml-doctor@contoso.com'")
    assert "Microsoft.MachineLearningServices/workspaces/read" in error
    assert "\n" not in error and "Traceback" not in error
    assert [r.path for r in mms.requests] == [mms.workspace_scope]  # it stopped at the refusal


@requires_sdk
def test_hung_endpoint_is_given_up_after_the_request_timeout(mms):
    mms.add_service(aks_service_payload("claims-triage", state="Transitioning"))
    mms.hang(f"{mms.mms_path}/services/claims-triage")

    started = time.monotonic()
    part = collect(mms, "claims-triage", request_timeout=1)
    elapsed = time.monotonic() - started

    assert elapsed < 60  # generous for a loaded machine; the hang itself never ends
    assert {g.what for g in part.gaps} == SOURCES
    assert part.gaps[0].error == "cannot read web service 'claims-triage': no answer within 1 s (the request timeout)"
    assert part.workspace.workspace == "insurance-ds-ws"  # what was learnt before the hang is kept


@requires_sdk
def test_unreachable_model_management_service(mms):
    mms.add_service(aks_service_payload("claims-triage", state="Healthy"))
    closed = MmsServer().start()
    closed_url = closed.url
    closed.stop()  # nothing listens on its port any more
    mms.redirect("modelmanagement", closed_url)

    part = collect(mms, "claims-triage")

    port = closed_url.rsplit(":", 1)[1]
    assert part.gaps[0].error == (
        f"cannot read web service 'claims-triage': cannot connect to 127.0.0.1:{port} "
        "(connection refused or host unreachable)")


@requires_sdk
def test_secrets_in_an_error_answer_never_reach_a_gap(mms):
    account_key = "Zm9vYmFyYmF6cXV4" * 5 + "abcdef=="
    mms.add_service(aks_service_payload("claims-triage", state="Unhealthy"))
    mms.fail(f"{mms.mms_path}/services/claims-triage/logs", 400, {
        "code": "BadRequest", "statusCode": 400,
        "message": f"Cannot read logs: DefaultEndpointsProtocol=https;AccountName=insurancedsws5528371649;"
                   f"AccountKey={account_key};EndpointSuffix=core.windows.net"})

    part = collect(mms, "claims-triage")

    assert part.collected == ["azureml_service"]
    gaps = {g.what: g.error for g in part.gaps}
    assert gaps["azureml_logs"].startswith("get_logs() failed: Model Management Service answered 400: Cannot read logs")
    assert re.search(r"AccountKey=<redacted:[0-9a-f]{4}>", gaps["azureml_logs"])
    token = static_token_auth(mms)._get_arm_token()
    everything = json.dumps([gaps, part.files, repr(part.workspace)])
    assert account_key not in everything
    assert token.split(".")[1] not in everything


@requires_sdk
def test_partial_workspace_coordinates_are_a_clear_gap(mms):
    part = collect_azureml("claims-triage", config_path=None, subscription_id=None, resource_group=None,
                           workspace_name="insurance-ds-ws", auth=static_token_auth(mms))

    assert part.gaps[0].error == ("cannot open the workspace: missing subscription id and resource group: "
                                  "give all three, or a config.json")
    assert mms.requests == []


@requires_sdk
def test_missing_config_json_is_a_clear_gap(mms, tmp_path):
    part = collect_azureml("claims-triage", config_path=str(tmp_path), subscription_id=None, resource_group=None,
                           workspace_name=None, auth=static_token_auth(mms))

    assert part.gaps[0].error.startswith(
        "cannot open the workspace: The workspace configuration file config.json, could not be found in")
    assert mms.requests == []
