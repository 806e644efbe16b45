"""`aml-doctor collect` and `aml-doctor SERVICE` end to end, against real parts on loopback.

What is real: the `kubernetes` client against the API-server emulator (aml_doctor.testing.
kube_apiserver), the azure-storage-blob client against Azurite, azureml-core against the local
ARM/discovery/MMS server (emulators.mms_server). What is not: AAD, which cannot run here,
so azureml-core gets ``static_token_auth`` (a fixed token) through the collector's ``auth``
argument; that is the only substitution.

The round trip: every scenario bundle is served by the emulators, collected back into a bundle,
and the collected bundle's analysis must equal the scenario's own, minus what no collector can
see (the user's pasted text and the client-side exception in azureml/operation.txt).

Build logs: the collector finds a service's build log under ``ImageLogs/<image id>/`` (the image id
of ``azureml/azureml_<id>``); the scenarios keep theirs under the folder names their sources show,
so the emulated account stores each one under the service's image id.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from aml_doctor.cli import main as cli
from aml_doctor.evidence import store as evidence
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.engine.plugins import load_plugins
from emulators.kube_apiserver import KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
NOT_COLLECTABLE = ("azureml/operation.txt", "text")
needs_sdk = pytest.mark.skipif(importlib.util.find_spec("azureml") is None, reason="pip install 'aml-doctor[azureml]'")


def _collectable(name: str) -> bool:
    d = SCENARIOS / name
    return (d / "kubernetes").is_dir() or (d / "azureml" / "service.json").is_file()


# v2 scenarios (v2-*) go through `aml-doctor ENDPOINT -d DEPLOYMENT`: tests/test_v2_live.py round-trips them.
LIVE_SCENARIOS = sorted(n for n in os.listdir(SCENARIOS) if (SCENARIOS / n / "manifest.json").is_file() and _collectable(n)
                        and not n.startswith("v2-"))


@pytest.fixture
def azureml_env(monkeypatch, tmp_path):
    """azureml-core with a named cloud and its discovery cache in tmp_path, and the collector's
    AAD authentication replaced by the local server's static token (AAD cannot run here)."""
    from azureml._base_sdk_common.service_discovery import CachedServiceDiscovery

    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")
    monkeypatch.setattr(CachedServiceDiscovery.__init__, "__defaults__", (str(tmp_path / ".discovery"),))
    return monkeypatch


@pytest.fixture
def live(azurite, azureml_env, tmp_path):
    """Start the three emulators; yield a function that serves one scenario and runs the CLI."""
    from azure.storage.blob import BlobServiceClient

    from aml_doctor.collect import azureml as azureml_collector
    from emulators.mms_server import MmsServer, static_token_auth

    started = []

    def serve(scenario: Path, workspace: str, storage_account: str):
        kube = KubeApiServer().start()
        started.append(kube)
        kube.load_bundle(str(scenario))
        kubeconfig = kube.write_kubeconfig(str(tmp_path / "kubeconfig"))
        mms = MmsServer(workspace=workspace, storage_account=storage_account).start()
        started.append(mms)
        if (scenario / "azureml" / "service.json").is_file():
            mms.load_bundle(str(scenario))
        for name, value in mms.proxy_environment().items():
            azureml_env.setenv(name, value)
        real = azureml_collector.collect_azureml
        azureml_env.setattr(azureml_collector, "collect_azureml", lambda *a, **kw: real(*a, **{**kw, "auth": static_token_auth(mms)}))
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        client = service.get_container_client("azureml")
        if client.exists():
            client.delete_container()
        client.create_container()
        _upload_blobs(scenario, client)
        return kube, mms, kubeconfig, mms.write_config(str(tmp_path)), azurite.connection_string

    yield serve
    for server in started:
        server.stop()


def _upload_blobs(scenario: Path, container_client) -> None:
    storage = scenario / "storage"
    index = json.loads((storage / "index.json").read_text()) if (storage / "index.json").is_file() else {}
    for key, entry in index.items():
        container, _, path = key.lstrip("/").partition("/")
        if not entry.get("exists"):
            continue
        local = storage / container / path
        if local.is_file():
            data = local.read_bytes()
        else:
            data = b"\x80\x04\x95" + b"\0" * max(0, min(int(entry.get("size") or 0), 65536) - 3)
        target = f"{path}/model.pkl" if entry.get("kind") == "prefix" else path
        container_client.upload_blob(target, data, overwrite=True)
    image_id = _image_id(scenario)
    for local in (storage / "azureml").rglob("*") if (storage / "azureml").is_dir() else ():
        if local.is_file():
            rel = str(local.relative_to(storage / "azureml"))
            if rel.startswith("ImageLogs/") and image_id:
                rel = f"ImageLogs/{image_id}/{local.name}"
            container_client.upload_blob(rel, local.read_bytes(), overwrite=True)


def _image_id(scenario: Path) -> str:
    import re

    for path in (scenario / "azureml" / "service.json", scenario / "kubernetes" / "pods.json"):
        if path.is_file():
            m = re.search(r"azureml/azureml_([0-9a-f]{32})", path.read_text())
            if m:
                return m.group(1)
    return ""


def _analysis(bundle) -> list[tuple]:
    rules = load_plugins().rules
    report = analyze(evidence.load(bundle, signals_for(rules)), rules)
    return [(r.finding.rule, r.finding.category.value, r.finding.stage.name, r.finding.title) for r in report.findings]


def _without_uncollectable(scenario: Path, target: Path) -> Path:
    shutil.copytree(scenario, target)
    for rel in NOT_COLLECTABLE:
        path = target / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()
    return target


@needs_sdk
@pytest.mark.parametrize("name", LIVE_SCENARIOS)
def test_collected_bundle_analyses_like_the_scenario(name, live, tmp_path, capsys):
    scenario = SCENARIOS / name
    manifest = json.loads((scenario / "manifest.json").read_text())
    workspace = manifest.get("workspace") or "ws"
    kube, mms, kubeconfig, config_json, conn = live(scenario, workspace, "wsstorage")
    out = tmp_path / "collected.tar.gz"
    code = cli.main([
        "collect", manifest["service"], "--kubeconfig", kubeconfig, "--workspace-config", config_json,
        "--connection-string", conn, "--request-timeout", "5", "--timeout", "60", "-o", str(out),
    ])
    captured = capsys.readouterr()
    assert code == ExitCode.OK, captured.err
    assert "Traceback" not in captured.err

    expected = _analysis(str(_without_uncollectable(scenario, tmp_path / "expected")))
    assert _analysis(str(out)) == expected
    # Read-only: nothing but GETs reached the cluster or the workspace.
    assert {r.method for r in kube.requests} == {"GET"}
    assert {r.method for r in mms.requests} <= {"GET"}
    assert mms.escaped == []




# ---------------------------------------------------------------------------------- live runs
def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err  # the report quotes the user's tracebacks; aml-doctor prints none of its own
    return code, out, err


def _live_args(manifest: dict, kubeconfig: str, config_json: str, *extra: str) -> list[str]:
    return [manifest["service"], "--kubeconfig", kubeconfig, "--workspace-config", config_json,
            "--request-timeout", "2", "--timeout", "60", "-q", *extra]


@needs_sdk
def test_live_diagnosis_names_the_root_cause(live, capsys):
    scenario = SCENARIOS / "crashloop-init-keyerror"
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    code, out, _ = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "--format", "json"), capsys)
    report = json.loads(out)
    assert code == ExitCode.FINDINGS
    assert report["findings"][0]["rule"] == "AML004" and "score.py line 17" in report["findings"][0]["title"]
    # The image came from the cache, so the account has no build log for it: the one gap, and it says why.
    assert [g["what"] for g in report["collection_gaps"]] == ["build_log"]
    assert "no build log under azureml/ImageLogs/" in report["collection_gaps"][0]["error"]
    assert {r.method for r in kube.requests} == {"GET"} and {r.method for r in mms.requests} <= {"GET"}


@needs_sdk
def test_namespace_only_rbac_and_a_missing_configmap_degrade_to_not_checked(live, capsys):
    scenario = SCENARIOS / "model-blob-missing"
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    kube.forbid("persistentvolumes")
    kube.forbid("nodes")
    configmap = json.loads((scenario / "kubernetes" / "configmaps.json").read_text())["items"][0]["metadata"]
    kube.delete("ConfigMap", configmap["name"], configmap["namespace"])
    code, out, _ = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "--format", "json"), capsys)
    report = json.loads(out)
    gaps = {g["what"]: g["error"] for g in report["collection_gaps"]}
    assert "403" in gaps["persistentvolumes"] and "cluster scope" in gaps["persistentvolumes"]
    assert "403" in gaps["nodes"]
    assert "404" in gaps["configmaps"] or "not found" in gaps["configmaps"]
    not_checked = {n["rule"]: n["reason"] for n in report["not_checked"]}
    assert "not collected" in not_checked["AML002"]
    # The blob check could not run, but the init() failure in the logs is still found.
    assert report["findings"][0]["rule"] == "AML004" and report["findings"][0]["category"] == "model_not_found"
    assert code == ExitCode.FINDINGS


@needs_sdk
def test_a_hung_cluster_endpoint_hits_the_request_timeout(live, capsys):
    scenario = SCENARIOS / "crashloop-init-keyerror"
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    kube.hang("/api/v1/namespaces/*/events", 30)
    code, out, _ = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "--format", "json"), capsys)
    report = json.loads(out)
    gaps = {g["what"]: g["error"] for g in report["collection_gaps"]}
    assert "events" in gaps and ("timed out" in gaps["events"] or "timeout" in gaps["events"])
    assert report["findings"][0]["rule"] == "AML004"


@needs_sdk
@pytest.mark.parametrize("how", ["unreachable", "wrong-key"])
def test_storage_faults_are_not_checked_entries(live, capsys, how):
    from emulators.azurite import ACCOUNT_KEY, ACCOUNT_NAME

    scenario = SCENARIOS / "model-blob-missing"
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    if how == "unreachable":
        conn = f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:9/{ACCOUNT_NAME};"
    else:
        wrong = "A" * 86 + "=="
        conn = conn.replace(ACCOUNT_KEY, wrong)
    code, out, err = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "--format", "json"), capsys)
    report = json.loads(out)
    gaps = {g["what"]: g["error"] for g in report["collection_gaps"]}
    assert "storage_index" in gaps
    assert ("403" in gaps["storage_index"]) if how == "wrong-key" else ("refused" in gaps["storage_index"] or "reach" in gaps["storage_index"])
    assert "not collected" in {n["rule"]: n["reason"] for n in report["not_checked"]}.get("AML002", "not collected")
    assert ACCOUNT_KEY not in out + err and "A" * 86 not in out + err


SECRETS = {
    "account_key": "q8W3mZ0vXr5tLk2Jp7Yc9Hn4Bd6Fg1Sa3Ue8Wi0Oy5Tr2Qe7Lx9Mz4Nc6Vb1Hj3Kd8Pf0Ga5Sd2Rt7Yu9Iw4Eo==",
    "sas_sig": "Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1Hd%2FJf4Gh7Ik%3D",
    "jwt": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21sLmF6dXJlLmNvbSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLW5vdC1yZWFsLWJ1dC1sb25nLWVub3VnaA",
    "scoring_key": "Kp4nJ8sV2xLq7Rw3Zt9Hb6Yc1Fm5Dg0a",
    "password": "Tr0ub4dor&3xyz",
}


def _seed_secrets(scenario: Path, target: Path) -> Path:
    """The scenario with real-looking secrets in every place they occur in the wild."""
    shutil.copytree(scenario, target)
    conn = f"DefaultEndpointsProtocol=https;AccountName=amlws1storage;AccountKey={SECRETS['account_key']};EndpointSuffix=core.windows.net"
    sas = f"https://amlws1storage.blob.core.windows.net/azureml/LocalUpload/x/score.py?sv=2019-07-07&sr=b&sig={SECRETS['sas_sig']}&se=2026-12-01T00%3A00%3A00Z&sp=r"
    pods = json.loads((target / "kubernetes" / "pods.json").read_text())
    for pod in pods["items"]:
        for c in pod["spec"]["containers"]:
            c.setdefault("env", []).extend([
                {"name": "AZUREML_STORAGE_CONNECTION_STRING", "value": conn},
                {"name": "SCORING_KEY", "value": SECRETS["scoring_key"]},
            ])
    (target / "kubernetes" / "pods.json").write_text(json.dumps(pods))
    cms = json.loads((target / "kubernetes" / "configmaps.json").read_text())
    for cm in cms["items"]:
        for key in list(cm.get("data") or {}):
            cm["data"][key] = cm["data"][key].replace('"MountPath"', f'"SasUri": "{sas}", "MountPath"')
    (target / "kubernetes" / "configmaps.json").write_text(json.dumps(cms))
    for log in (target / "logs").rglob("*.log"):
        log.write_text(log.read_text() + (
            f"Headers passed in (total 3):\n\tAuthorization: Bearer {SECRETS['jwt']}\n"
            f"\tX-Api-Key: Bearer {SECRETS['scoring_key']}\n"
            f"connecting with password={SECRETS['password']}\n{conn}\n"
        ))
    service = json.loads((target / "azureml" / "service.json").read_text())
    service["error"]["message"] += f" Model file {sas} could not be read."
    (target / "azureml" / "service.json").write_text(json.dumps(service))
    return target


@needs_sdk
def test_no_secret_reaches_any_output_format_or_the_bundle(live, capsys, tmp_path):
    scenario = _seed_secrets(SCENARIOS / "crashloop-init-keyerror", tmp_path / "seeded")
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    outputs = {}
    for fmt in ("text", "md", "html", "json", "sarif", "junit"):
        _, out, err = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "--format", fmt), capsys)
        outputs[fmt] = out + err
    bundle = tmp_path / "out.tar.gz"
    code, _, err = _run(["collect", *_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "-o", str(bundle))], capsys)
    assert code == ExitCode.OK, err
    with tarfile.open(bundle) as tf:
        for member in tf.getmembers():
            outputs[member.name] = tf.extractfile(member).read().decode("utf-8", errors="replace")
    assert any("score.py line 17" in text for text in outputs.values())  # the report still says something
    leaks = [(where, name) for where, text in outputs.items() for name, secret in SECRETS.items() if secret in text]
    assert leaks == []
    assert any("<redacted:" in text or "&lt;redacted:" in text for text in outputs.values())


def test_a_service_that_does_not_exist_lists_the_ones_that_do(tmp_path, capsys):
    """The cluster alone (no workspace): the message names the namespace's AzureML services."""
    scenario = SCENARIOS / "crashloop-init-keyerror"
    manifest = json.loads((scenario / "manifest.json").read_text())
    with KubeApiServer() as kube:
        kube.load_bundle(str(scenario))
        kubeconfig = kube.write_kubeconfig(str(tmp_path / "kubeconfig"))
        code = cli.main(["recsys-rankr", "-n", manifest["namespace"], "--kubeconfig", kubeconfig, "-q", "--request-timeout", "2"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE_ERROR
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no Deployment named 'recsys-rankr'" in lines[0]
    assert manifest["service"] in lines[0]
