"""``aml-doctor migrate-check`` against the API-server emulator and the local ARM server: each
conflict in its own scenario is found, and a clean cluster gets no finding and exit 0. As
everywhere, only AAD is replaced (StaticTokenCredential), and the cluster sees only GETs."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from aml_doctor.cli import v2migrate
from aml_doctor.common.exitcodes import ExitCode
from emulators.kube_apiserver import KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
CONFLICTS = {"v2-migrate-v1-frontend": "AML034", "v2-migrate-namespace-reuse": "AML035",
             "v2-migrate-shared-urls": "AML036", "v2-migrate-legacy-mode": "AML037"}


@pytest.fixture
def served(monkeypatch, tmp_path):
    from aml_doctor.collect import v2azureml
    from emulators.arm_server import ArmServer, StaticTokenCredential

    started = []

    def serve(name: str):
        manifest = json.loads((SCENARIOS / name / "manifest.json").read_text())
        copy = tmp_path / name
        shutil.copytree(SCENARIOS / name, copy)
        kube = KubeApiServer().start().load_bundle(str(copy))
        if (copy / "kubernetes" / "onlineendpoints.json").is_file():
            kube.install_crds()
        info = manifest["workspace_info"]
        arm = ArmServer(workspace=manifest["workspace"]).start()
        arm.workspace_properties = {"v1LegacyMode": info["v1_legacy_mode"], "publicNetworkAccess": info["public_network_access"],
                                    "privateEndpointConnections": [{"id": f"pe{i}"} for i in range(info["private_endpoints"])]}
        started.extend((kube, arm))
        for key, value in arm.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(v2azureml, "make_credential", StaticTokenCredential)  # AAD cannot run here
        args = argparse.Namespace(namespace=manifest["compute_namespace"], kubeconfig=kube.write_kubeconfig(str(tmp_path / "kubeconfig")),
                                  context=None, workspace_name=arm.workspace, resource_group=arm.resource_group,
                                  subscription=arm.subscription_id, workspace_config=None, timeout=60.0, request_timeout=10.0,
                                  quiet=False, save_bundle=None, format="json", output_file=None, fail_on=None, exit_zero=False,
                                  max_chars=None, color="never", select="", ignore="", plugin=[], rules_dir=[], config=None)
        return kube, arm, args

    yield serve
    for server in started:
        server.stop()


@pytest.mark.parametrize("name", sorted(CONFLICTS))
def test_each_conflict_is_found_in_its_scenario(name, served, capsys):
    kube, arm, args = served(name)
    code = v2migrate.main(args)
    report = json.loads(capsys.readouterr().out)
    assert code == ExitCode.FINDINGS
    assert [f["rule"] for f in report["findings"]] == [CONFLICTS[name]]
    assert {r.method for r in kube.requests} == {"GET"} and {r.method for r in arm.requests} == {"GET"}


def test_a_clean_cluster_gets_no_finding(served, capsys):
    kube, arm, args = served("v2-migrate-clean")
    code = v2migrate.main(args)
    captured = capsys.readouterr()
    assert code == ExitCode.OK
    assert json.loads(captured.out)["findings"] == []
    assert "no migration conflict found" in captured.err


def test_without_a_workspace_the_legacy_mode_check_is_a_gap(served, capsys):
    kube, arm, args = served("v2-migrate-v1-frontend")
    args.workspace_name = None
    code = v2migrate.main(args)
    report = json.loads(capsys.readouterr().out)
    assert code == ExitCode.FINDINGS and report["findings"][0]["rule"] == "AML034"
    assert any(g["what"] == "workspace" and "no workspace given" in g["error"] for g in report["collection_gaps"])
