"""Live setup mistakes: one line each, with the next step and a documented exit code; the
context's namespace honoured; --check-access; stdout clean whatever the SDKs print.

The cluster is the API-server emulator on loopback and the real ``kubernetes`` client; storage
is Azurite or, for the credential failure, an https endpoint on a closed loopback port (the
credential fails before any connection, as it does without ``az login``). The AzureML case runs
real azureml-core with no sign-in: AAD cannot be reached here, which is the failure under test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aml_doctor.common.exitcodes import ExitCode
from emulators.kube_apiserver import KubeApiServer

SCENARIO = Path(__file__).parent / "scenarios" / "crashloop-init-keyerror"
MANIFEST = json.loads((SCENARIO / "manifest.json").read_text())
SERVICE, NS = MANIFEST["service"], MANIFEST["namespace"]


@pytest.fixture
def api():
    with KubeApiServer().load_bundle(str(SCENARIO)) as server:
        yield server


@pytest.fixture
def home(tmp_path):
    """A HOME without ~/.kube/config, and no KUBECONFIG: the fresh machine."""
    d = tmp_path / "home"
    d.mkdir()
    return {"HOME": str(d), "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""}


def _line(result) -> str:
    assert result.out == "" and "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aml-doctor: error: "), result.err
    return lines[0]


def test_no_kubeconfig_names_get_credentials_and_pasted_text(cli, home):
    result = cli(SERVICE, env=home)
    assert result.code == ExitCode.USAGE_ERROR
    line = _line(result)
    assert "no kubeconfig" in line and "az aks get-credentials -g RG -n CLUSTER" in line and "analyze --text" in line


def test_missing_kubeconfig_file_is_named_as_missing(cli, home, tmp_path):
    line = _line(cli(SERVICE, "--kubeconfig", str(tmp_path / "kc"), env=home))
    assert f"kubeconfig {tmp_path / 'kc'} does not exist" in line and "Invalid kube-config" not in line
    line = _line(cli(SERVICE, env={**home, "KUBECONFIG": str(tmp_path / "gone")}))
    assert "KUBECONFIG names" in line and "does not exist" in line


def test_unknown_context_lists_the_real_ones(cli, api, tmp_path, home):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kc"), context="aks-prod")
    result = cli(SERVICE, "--kubeconfig", kubeconfig, "--context", "aks-dev", env=home)
    assert result.code == ExitCode.USAGE_ERROR
    assert "no context 'aks-dev'" in _line(result) and "contexts: aks-prod" in result.err


def test_unreachable_api_server_says_what_to_check_not_pass_the_namespace(cli, tmp_path, home):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {}}], "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))
    for extra in ([], ["-n", NS]):
        result = cli(SERVICE, "--kubeconfig", str(kubeconfig), "-q", "--request-timeout", "3", *extra, env=home)
        assert result.code == ExitCode.COLLECTION_ERROR
        line = _line(result)
        assert f"cannot reach the API server at http://127.0.0.1:{port}" in line
        assert "pass the namespace" not in line and "kubectl cluster-info" in line


def test_a_namespace_that_does_not_exist_is_named(cli, api, tmp_path, home):
    line = _line(cli(SERVICE, "-n", "azureml-nope", "--kubeconfig", api.write_kubeconfig(str(tmp_path / "kc")), "-q", env=home))
    assert "namespace azureml-nope does not exist" in line


def test_no_permission_says_which_verb_on_which_resource(cli, api, tmp_path, home):
    for resource in ("deployments", "replicasets", "pods", "events", "configmaps", "services", "endpoints",
                     "persistentvolumeclaims", "persistentvolumes", "nodes", "pods/log", "namespaces"):
        api.forbid(resource)
    result = cli(SERVICE, "-n", NS, "--kubeconfig", api.write_kubeconfig(str(tmp_path / "kc")), "-q", env=home)
    assert result.code == ExitCode.USAGE_ERROR
    line = _line(result)
    assert "forbidden:" in line and "may not" in line and "kubectl auth can-i" in line and f"-n {NS}" in line


def test_missing_live_extra_names_it(tmp_path):
    code = ("import sys; sys.modules['kubernetes'] = None\n"  # as if the [live] extra were not installed
            "from aml_doctor.cli.main import main; raise SystemExit(main(['myservice']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == ExitCode.USAGE_ERROR and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "pip install 'aml-doctor[live]'" in done.stderr


def test_the_contexts_namespace_is_honoured(cli, api, tmp_path, home):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kc"), namespace=NS)
    result = cli(SERVICE, "--kubeconfig", kubeconfig, "-o", "json", env=home)
    assert result.code == ExitCode.FINDINGS, result.err
    assert f"collecting {SERVICE} in {NS}" in result.err and "searching the azureml-* namespaces" not in result.err
    assert json.loads(result.out)["namespace"] == NS
    searched = cli(SERVICE, "--kubeconfig", kubeconfig, "-A", "-q", "-o", "json", env=home)
    assert searched.code == ExitCode.FINDINGS and json.loads(searched.out)["namespace"] == NS
    assert _line(cli(SERVICE, "-A", "-n", NS, "--kubeconfig", kubeconfig, env=home)).endswith("do not go together")


def test_check_access_lists_reads_and_what_they_leave_unchecked(cli, api, tmp_path, home):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kc"))
    allowed = cli(SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "--check-access", env=home)
    assert allowed.code == ExitCode.OK, allowed.err
    assert "no " not in [line.split()[0] + " " for line in allowed.out.splitlines()[1:] if line.startswith("  ")]
    assert "Nothing is left unchecked for lack of access." in allowed.out
    api.forbid("nodes")
    api.forbid("pods/log")
    refused = cli(SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "--check-access", env=home)
    assert refused.code == ExitCode.FINDINGS
    rows = {line.split(None, 3)[2]: line.split()[0] for line in refused.out.splitlines()
            if line.startswith("  ") and line.split()[0] in ("yes", "no", "unknown")}
    assert rows["nodes"] == "no" and rows["pods/log"] == "no" and rows["pods"] == "yes" and rows["deployments.apps"] == "yes"
    unchecked = next(line for line in refused.out.splitlines() if line.startswith("Left unchecked"))
    assert "AML018 (nodes)" in unchecked and "AML013 (container_logs)" in unchecked
    assert {r.method for r in api.requests} == {"GET"}  # it probes with reads, never a SelfSubjectAccessReview


def test_stdout_stays_clean_with_a_failing_credential(cli, api, tmp_path, home):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kc"))
    env = {**home, "AZURE_CLIENT_ID": "", "AZURE_TENANT_ID": "", "IDENTITY_ENDPOINT": "", "MSI_ENDPOINT": ""}
    result = cli(SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "--account-name", "devstoreaccount1",
                 "--blob-endpoint", "https://127.0.0.1:9/devstoreaccount1", "--request-timeout", "3", "-o", "json", env=env)
    assert result.code == ExitCode.FINDINGS, result.err
    report = json.loads(result.out)  # only the report on stdout
    storage = [g["error"] for g in report["collection_gaps"] if g["what"] in ("storage_index", "build_log")]
    assert storage and all(e.startswith("no Azure credential found: run `az login` or pass `--account-key`") for e in storage)
    assert "EnvironmentCredential" not in result.err and "ManagedIdentityCredential" not in result.err
    notes = [line for line in result.err.splitlines() if not line.startswith("[")]
    assert len(notes) <= 1 and all(n.startswith("aml-doctor: note: ") for n in notes)


@pytest.mark.skipif(importlib.util.find_spec("azureml") is None, reason="pip install 'aml-doctor[azureml]'")
def test_azureml_sign_in_prompt_stays_off_stdout(cli, api, tmp_path, home):
    kubeconfig = api.write_kubeconfig(str(tmp_path / "kc"))
    result = cli(SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-w", "ws", "-g", "rg",
                 "--subscription", "00000000-0000-0000-0000-000000000000", "--timeout", "60", "-o", "json", env=home)
    assert result.code == ExitCode.FINDINGS, result.err
    report = json.loads(result.out)  # azureml-core's "Performing interactive authentication..." is not in it
    assert any(g["what"] == "azureml_service" for g in report["collection_gaps"])
    assert "Performing interactive authentication" not in result.out
    assert "aml-doctor: note: the Azure and Kubernetes SDKs wrote" in result.err
