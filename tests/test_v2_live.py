"""v2 online deployments, live, end to end against real parts on loopback.

What is real: the `kubernetes` client against the API-server emulator (which serves the AzureML
extension's custom resources once their group is installed), azure-storage-blob against Azurite,
and azure-ai-ml against the local ARM server (emulators.arm_server, over TLS with a
certificate made for 127.0.0.1). What is not: AAD, which cannot run here, so azure-ai-ml gets
``StaticTokenCredential`` (a fixed token) in place of DefaultAzureCredential; that is the only
substitution.

The round trip: every v2 scenario bundle is served by the emulators, collected back with
``aml-doctor collect ENDPOINT -d DEPLOYMENT`` (cli.main, the real parser), and the collected
bundle's analysis must equal the scenario's own, minus what no collector can see (the user's pasted
text under text/). The other tests call aml_doctor.cli.v2live with the parser's arguments.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from aml_doctor.evidence import store as evidence
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.engine.plugins import load_plugins
from emulators.kube_apiserver import KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
V2_SCENARIOS = sorted(n for n in os.listdir(SCENARIOS) if n.startswith("v2-") and not n.startswith("v2-migrate-")
                      and (SCENARIOS / n / "manifest.json").is_file())
needs_sdk = pytest.mark.skipif(importlib.util.find_spec("azure.ai.ml") is None, reason="pip install 'aml-doctor[v2]'")


def _manifest(name: str) -> dict:
    return json.loads((SCENARIOS / name / "manifest.json").read_text())


def serve_cluster(scenario: Path, tmp_path: Path) -> KubeApiServer:
    """The scenario's cluster objects and logs in the emulator. frontend-pods.json repeats pods of
    extension-pods.json (the collector writes both), so it is left out of what is loaded."""
    copy = tmp_path / "cluster"
    if (scenario / "kubernetes").is_dir():
        shutil.copytree(scenario / "kubernetes", copy / "kubernetes")
        (copy / "kubernetes" / "frontend-pods.json").unlink(missing_ok=True)
    if (scenario / "logs").is_dir():
        shutil.copytree(scenario / "logs", copy / "logs")
    copy.mkdir(exist_ok=True)
    shutil.copy(scenario / "manifest.json", copy / "manifest.json")
    return KubeApiServer().start().load_bundle(str(copy))


def serve_workspace(scenario: Path, manifest: dict):
    from emulators.arm_server import ArmServer

    svc = json.loads((scenario / "azureml" / "service.json").read_text())
    arm = ArmServer(workspace=manifest["workspace"]).start()
    kubernetes = svc.get("computeType") == "Kubernetes"
    if kubernetes:
        arm.add_compute(manifest.get("compute") or "k8s-inference", manifest.get("namespace") or "ml-inference")
    arm.add_endpoint(svc["endpoint"], compute=(manifest.get("compute") or "k8s-inference") if kubernetes else None,
                     traffic={svc["name"]: svc.get("trafficPercent", 100)})
    read = lambda rel: (scenario / rel).read_text() if (scenario / rel).is_file() else ""  # noqa: E731
    arm.add_deployment(svc["endpoint"], svc["name"], kubernetes=kubernetes, state=svc["state"], model=svc["model"],
                       instance_type=svc.get("instanceType", ""),
                       request_timeout_ms=(svc.get("requestSettings") or {}).get("request_timeout_ms", 5000),
                       logs=read("azureml/logs.txt"), init_logs=read("azureml/init-logs.txt"), error=svc.get("error"))
    return arm


def fill_storage(scenario: Path, connection_string: str) -> None:
    """Blobs as the scenario's storage index lists them: the manifest blob with its text, listed files
    of their size (sparse page blobs above 64 KiB, so a 14 GiB model costs nothing), build logs."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    index = json.loads((scenario / "storage" / "index.json").read_text()) if (scenario / "storage" / "index.json").is_file() else {}
    containers = {k.split("/", 1)[0] for k in index} | {"azureml"}
    for name in containers:
        client = service.get_container_client(name)
        if client.exists():
            client.delete_container()
        client.create_container()
    for key, entry in index.items():
        container, _, path = key.partition("/")
        if not entry.get("exists"):
            continue
        blob = service.get_blob_client(container, path)
        local = scenario / "storage" / container / path
        size = int(entry.get("size") or 0)
        if local.is_file():
            blob.upload_blob(local.read_bytes(), overwrite=True)
        elif size > 65536:
            assert size % 512 == 0, f"{key}: page blob sizes are multiples of 512"
            blob.create_page_blob(size)
        else:
            blob.upload_blob(b"\x80" * size, overwrite=True)
    logs = scenario / "storage" / "azureml" / "ImageLogs"
    for local in logs.rglob("*") if logs.is_dir() else ():
        if local.is_file():
            service.get_blob_client("azureml", str(local.relative_to(scenario / "storage" / "azureml"))).upload_blob(local.read_bytes(), overwrite=True)


class _ScenarioClock:
    """``time`` for aml_doctor.collect.part, whose gmtime() is the scenario's collected_at."""

    def __init__(self, collected_at: str):
        import time

        self._time, self._at = time, time.strptime(collected_at, "%Y-%m-%dT%H:%M:%SZ")

    def gmtime(self, *args):
        return self._at

    def __getattr__(self, name):
        return getattr(self._time, name)


@pytest.fixture
def v2live(azurite, monkeypatch, tmp_path):
    """Start the emulators for one scenario; yield a function returning (kube, arm, kubeconfig, connection string)."""
    from aml_doctor.collect import part as part_module
    from aml_doctor.collect import v2azureml
    from emulators.arm_server import StaticTokenCredential

    started = []

    def serve(name: str, *, cluster: bool = True):
        scenario = SCENARIOS / name
        manifest = _manifest(name)
        kube = serve_cluster(scenario, tmp_path) if cluster else None
        arm = serve_workspace(scenario, manifest)
        started.extend(s for s in (kube, arm) if s is not None)
        for key, value in arm.environment().items():
            monkeypatch.setenv(key, value)
        # AAD cannot run here: the one stand-in (see the module docstring).
        monkeypatch.setattr(v2azureml, "make_credential", StaticTokenCredential)
        kubeconfig = kube.write_kubeconfig(str(tmp_path / "kubeconfig")) if kube else str(tmp_path / "no-kubeconfig")
        # The emulator serves the scenario's fixed timestamps: the bundle is stamped with the
        # scenario's collection time, so that "running for 28 minutes" stays 28 minutes.
        monkeypatch.setattr(part_module, "time", _ScenarioClock(manifest["collected_at"]))
        fill_storage(scenario, azurite.connection_string)
        return kube, arm, kubeconfig, azurite.connection_string

    yield serve
    for server in started:
        server.stop()


def v2_args(manifest: dict, arm, kubeconfig: str, conn: str, **overrides):
    import argparse

    values = dict(service=[manifest["endpoint"]], endpoint_name=None, deployment=manifest["deployment"], namespace=None,
                  kubeconfig=kubeconfig, context=None, log_lines=2000, workspace_name=arm.workspace, resource_group=arm.resource_group,
                  subscription=arm.subscription_id, workspace_config=None, connection_string=conn, account_name=None,
                  account_key=None, sas_token=None, blob_endpoint=None, timeout=90.0, request_timeout=10.0, quiet=True,
                  watch=False, until_healthy=False, all=False, save_bundle=None, output_file=None, no_redact=False,
                  format="json", fail_on=None, exit_zero=False, max_chars=None, color="never", anonymize=False, select="",
                  ignore="", plugin=[], rules_dir=[], config=None, all_namespaces=False)
    values.update(overrides)
    return argparse.Namespace(**values)


def _analysis(bundle) -> list[tuple]:
    rules = load_plugins().rules
    report = analyze(evidence.load(str(bundle), signals_for(rules)), rules)
    return [(r.finding.rule, r.finding.category.value, r.finding.stage.name, r.finding.title) for r in report.findings]


def _expected(name: str, tmp_path: Path) -> Path:
    target = tmp_path / "expected"
    shutil.copytree(SCENARIOS / name, target)
    shutil.rmtree(target / "text", ignore_errors=True)  # the user's paste: no collector sees it
    return target


@needs_sdk
@pytest.mark.parametrize("name", V2_SCENARIOS)
def test_collected_v2_bundle_analyses_like_the_scenario(name, v2live, tmp_path, capsys):
    from aml_doctor.cli import main as cli

    manifest = _manifest(name)
    managed = manifest["platform"] == "managed_online_v2"
    kube, arm, kubeconfig, conn = v2live(name, cluster=not managed)
    out = tmp_path / "collected.tar.gz"
    code = cli.main(["collect", manifest["endpoint"], "-d", manifest["deployment"], "--kubeconfig", kubeconfig,
                     "-w", arm.workspace, "-g", arm.resource_group, "--subscription", arm.subscription_id,
                     "--connection-string", conn, "--request-timeout", "10", "--timeout", "90", "-q", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == ExitCode.OK, captured.err
    assert "Traceback" not in captured.err
    assert _analysis(out) == _analysis(_expected(name, tmp_path))
    # Read-only: nothing but GETs reached the cluster; ARM saw GETs and its getLogs read action only.
    if kube is not None:
        assert {r.method for r in kube.requests} == {"GET"}
    assert {(r.method, r.path.rsplit("/", 1)[-1] if r.method != "GET" else "") for r in arm.requests} <= {("GET", ""), ("POST", "getLogs")}


@needs_sdk
def test_live_v2_diagnosis_names_the_root_cause_and_the_platform(v2live, capsys):
    from aml_doctor.cli import v2live as v2

    manifest = _manifest("v2-storage-manifest-blob-missing")
    kube, arm, kubeconfig, conn = v2live("v2-storage-manifest-blob-missing")
    code = v2.main(v2_args(manifest, arm, kubeconfig, conn, quiet=False))
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == ExitCode.FINDINGS
    assert report["findings"][0]["rule"] == "AML025"
    assert "found Kubernetes online endpoint credit-ep in namespace ml-inference" in err
    assert {r.method for r in kube.requests} == {"GET"}


@needs_sdk
def test_the_deployment_defaults_to_the_one_with_traffic_and_the_namespace_comes_from_the_compute(v2live, tmp_path, capsys):
    from aml_doctor.cli import v2live as v2

    manifest = _manifest("v2-instancetype-too-large")
    kube, arm, kubeconfig, conn = v2live("v2-instancetype-too-large")
    out = tmp_path / "b"
    code = v2.main(v2_args(manifest, arm, kubeconfig, conn, deployment=None, output_file=str(out)), collect_only=True)
    assert code == ExitCode.OK, capsys.readouterr().err
    collected = json.loads((out / "manifest.json").read_text())
    assert collected["deployment"] == "blue" and collected["namespace"] == "ml-inference"
    # The namespace came from the KubernetesCompute, so the endpoint was read by name, never searched for.
    assert not any(r.path.endswith("/onlineendpoints") and "/namespaces/" not in r.path for r in kube.requests)


@needs_sdk
def test_managed_endpoint_is_diagnosed_from_azure_ai_ml_alone(v2live, capsys):
    from aml_doctor.cli import v2live as v2

    manifest = _manifest("v2-managed-import-error")
    _, arm, kubeconfig, conn = v2live("v2-managed-import-error", cluster=False)
    code = v2.main(v2_args(manifest, arm, kubeconfig, conn, connection_string=None))
    report = json.loads(capsys.readouterr().out)
    assert code == ExitCode.FINDINGS
    assert report["findings"][0]["rule"] == "AML004" and "lightgbm" in report["findings"][0]["title"]
    gaps = {g["what"]: g["error"] for g in report["collection_gaps"]}
    assert gaps["pods"] == "a managed online endpoint has no cluster to read"
    not_checked = {n["rule"] for n in report["not_checked"]}
    assert {"AML028", "AML029"} <= not_checked  # the rules that need the cluster say so
