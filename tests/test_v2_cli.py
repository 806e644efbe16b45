"""The v2 command line, end to end through ``aml_doctor.cli.main.main``: `aml-doctor ENDPOINT -d DEPLOYMENT`,
a bare `aml-doctor NAME` that the cluster shows is an online endpoint, `collect`, `--all` beside v1
services, and `migrate-check`. Real parts on loopback as in tests/test_v2_live.py (only AAD is
replaced, with StaticTokenCredential, inside its `v2live` fixture)."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest

from aml_doctor.cli import main as cli
from aml_doctor.common.exitcodes import ExitCode

sys.path.insert(0, str(Path(__file__).parent))
from test_v2_live import _manifest, needs_sdk, v2live  # noqa: E402,F401 - the fixture is used by name


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _workspace(arm) -> list[str]:
    return ["-w", arm.workspace, "-g", arm.resource_group, "--subscription", arm.subscription_id]


@needs_sdk
def test_endpoint_and_deployment(v2live, capsys):
    kube, arm, kubeconfig, conn = v2live("v2-instancetype-too-large")
    code, out, err = _run(["credit-ep", "-d", "blue", "--kubeconfig", kubeconfig, *_workspace(arm), "--connection-string", conn,
                           "-o", "json", "--timeout", "90"], capsys)
    report = json.loads(out)
    assert code == ExitCode.FINDINGS and report["findings"][0]["rule"] == "AML029"
    assert "found Kubernetes online endpoint credit-ep in namespace ml-inference" in err
    assert {r.method for r in kube.requests} == {"GET"}


@needs_sdk
def test_endpoint_name_flag_and_no_workspace(v2live, capsys):
    kube, arm, kubeconfig, conn = v2live("v2-storage-token-failed")
    code, out, _ = _run(["-e", "credit-ep", "-d", "blue", "--kubeconfig", kubeconfig, "-o", "json", "-q"], capsys)
    report = json.loads(out)
    assert code == ExitCode.FINDINGS and report["findings"][0]["rule"] == "AML026"
    assert any(g["what"] == "azureml_service" and "no workspace given" in g["error"] for g in report["collection_gaps"])


@needs_sdk
def test_a_bare_name_is_found_to_be_a_v2_endpoint(v2live, capsys):
    kube, arm, kubeconfig, conn = v2live("v2-storage-slow-download")
    code, out, _ = _run(["credit-ep", "--kubeconfig", kubeconfig, "-o", "json", "-q"], capsys)
    assert code == ExitCode.FINDINGS and json.loads(out)["findings"][0]["rule"] == "AML027"


@needs_sdk
def test_collect_writes_a_v2_bundle(v2live, tmp_path, capsys):
    kube, arm, kubeconfig, conn = v2live("v2-healthy")
    target = tmp_path / "bundle.tar.gz"
    code, _, err = _run(["collect", "credit-ep", "-d", "blue", "--kubeconfig", kubeconfig, *_workspace(arm), "--connection-string", conn,
                         "-o", str(target), "-q"], capsys)
    assert code == ExitCode.OK, err
    with tarfile.open(target) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        names = tf.getnames()
    assert manifest["platform"] == "k8s_online_v2" and manifest["endpoint"] == "credit-ep" and manifest["deployment"] == "blue"
    assert "kubernetes/onlinedeployments.json" in names and "azureml/init-logs.txt" in names and "storage/index.json" in names


@needs_sdk
def test_all_lists_v2_deployments_beside_v1_services(v2live, capsys):
    kube, arm, kubeconfig, conn = v2live("v2-storage-manifest-blob-missing")
    code, out, _ = _run(["--all", "-n", "ml-inference", "--kubeconfig", kubeconfig, "-q"], capsys)
    assert code == ExitCode.FINDINGS
    assert "credit-ep/blue (v2)" in out and "AML025" in out


def test_migrate_check_on_a_clean_cluster(tmp_path, capsys):
    import shutil

    from emulators.kube_apiserver import KubeApiServer

    shutil.copytree(Path(__file__).parent / "scenarios" / "v2-migrate-clean", tmp_path / "c")
    with KubeApiServer().start().load_bundle(str(tmp_path / "c")) as kube:
        kube.install_crds()
        kubeconfig = kube.write_kubeconfig(str(tmp_path / "kubeconfig"))
        code, out, err = _run(["migrate-check", "-n", "ml-inference", "--kubeconfig", kubeconfig, "-o", "json"], capsys)
    assert code == ExitCode.OK, err
    assert json.loads(out)["findings"] == [] and "no migration conflict found" in err


@pytest.mark.parametrize("flag", ["-d", "--deployment", "-e", "--endpoint-name"])
def test_the_v2_flags_are_in_the_help(flag, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert flag in capsys.readouterr().out


@needs_sdk
def test_managed_endpoint_needs_no_kubeconfig(v2live, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # no cluster at all
    _, arm, _, _ = v2live("v2-managed-import-error", cluster=False)
    code, out, err = _run(["credit-ep", "-d", "blue", *_workspace(arm), "-o", "json"], capsys)
    report = json.loads(out)
    assert code == ExitCode.FINDINGS and report["findings"][0]["rule"] == "AML004"
    assert "found managed online endpoint credit-ep" in err
