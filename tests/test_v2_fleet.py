"""``--all`` lists v2 online deployments beside v1 services: one row per deployment, from one list
per kind, through the real `kubernetes` client against the API-server emulator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aml_doctor.cli.pipeline import load_rules
from aml_doctor.cli.live import analyzer
from aml_doctor.findings import Severity
from aml_doctor.cli.v2fleet import v2_rows

sys.path.insert(0, str(Path(__file__).parent))
from test_v2_kubernetes import emulator  # noqa: E402


def _args(kubeconfig: str, namespace: str = "ml-inference") -> argparse.Namespace:
    return argparse.Namespace(kubeconfig=kubeconfig, context=None, request_timeout=5.0, namespace=namespace, log_lines=100,
                              workspace_name=None, select="", ignore="", plugin=[], rules_dir=[], config=None, timeout=60.0)


def _rows(api, tmp_path, namespace="ml-inference"):
    args = _args(api.write_kubeconfig(str(tmp_path / "kubeconfig")), namespace)
    loaded, rules, config = load_rules(args)
    return v2_rows(args, analyzer(rules, config, loaded), Severity.MEDIUM, lambda line: None)


def test_a_row_per_v2_deployment_with_its_root_cause(tmp_path):
    with emulator(tmp_path, "v2-storage-manifest-blob-missing", other_deployments=2) as api:
        rows = _rows(api, tmp_path)
        lists = [r for r in api.requests if not r.path.endswith("/log")]
        assert {r.method for r in api.requests} == {"GET"}
    mine = next(r for r in rows if r.service == "credit-ep/blue (v2)")
    assert mine.rule == "AML025" and mine.verdict == "root_cause_found" and mine.state.startswith("Init:CrashLoopBackOff")
    assert len(rows) == 3
    (tmp_path / "more").mkdir()
    with emulator(tmp_path / "more", "v2-storage-manifest-blob-missing", other_deployments=12) as api:
        assert len(_rows(api, tmp_path / "more")) == 13
        more = [r for r in api.requests if not r.path.endswith("/log")]
    assert len(more) == len(lists)  # one list per kind, whatever the number of deployments


def test_a_healthy_deployment_row(tmp_path):
    with emulator(tmp_path, "v2-healthy") as api:
        rows = _rows(api, tmp_path, namespace="")
    assert [(r.service, r.verdict, r.state) for r in rows] == [("credit-ep/blue (v2)", "no_problem_found", "Running, ready (1/1)")]


def test_no_extension_no_rows(tmp_path):
    import shutil

    from emulators.kube_apiserver import KubeApiServer

    shutil.copytree(Path(__file__).parent / "scenarios" / "healthy", tmp_path / "v1")
    with KubeApiServer().start().load_bundle(str(tmp_path / "v1")) as api:
        assert _rows(api, tmp_path, namespace="azureml-mlops-prod-ws") == []
