"""Every v2 scenario bundle analyses as its NOTES.md says: the failing ones with their rule first,
each near-miss without its pair's rule (and without any v2 rule), the healthy ones without any
finding. tests/scenarios/v2-INDEX.md lists them."""

from __future__ import annotations

from pathlib import Path

import pytest

from aml_doctor.evidence import store as evidence
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.engine.plugins import load_plugins

SCENARIOS = Path(__file__).parent / "scenarios"
V2_RULES = {f"AML0{n}" for n in range(25, 38)}
ROOT_CAUSE = {
    "v2-storage-manifest-blob-missing": "AML025", "v2-storage-model-file-missing": "AML025", "v2-storage-token-failed": "AML026",
    "v2-storage-slow-download": "AML027", "v2-networkpolicy-blocks-identity-proxy": "AML028", "v2-networkpolicy-blocks-scoring": "AML028",
    "v2-instancetype-too-large": "AML029", "v2-instancetype-nodeselector-no-node": "AML029", "v2-azureml-fe-unschedulable-ha": "AML030",
    "v2-azureml-fe-crashloop": "AML030", "v2-registry-model-on-kubernetes": "AML031", "v2-scoring-504-request-timeout": "AML032",
    "v2-unrecoverable-after-failed-init": "AML004", "v2-image-build-conda-unsolvable": "AML001", "v2-managed-import-error": "AML004",
}
# near-miss -> the rules of the scenarios it is the near-miss of
NEAR_MISS = {
    "v2-storage-init-restarted-recovered": {"AML025"}, "v2-storage-stale-manifest-missing": {"AML025"},
    "v2-identity-proxy-restarted-ready": {"AML026"}, "v2-storage-init-just-started": {"AML027"},
    "v2-networkpolicy-allows-extension": {"AML028"}, "v2-instancetype-resources-differ-running": {"AML029", "AML009"},
    "v2-azureml-fe-scheduled-late": {"AML030", "AML018"}, "v2-azureml-fe-restarted-ready": {"AML030", "AML018"},
    "v2-workspace-model-on-kubernetes": {"AML031"}, "v2-scoring-200": {"AML032"}, "v2-init-keyerror-first-failure": {"AML033"},
    "v2-image-build-warnings-only": {"AML001"}, "v2-managed-healthy": {"AML004"},
}
HEALTHY = ("v2-healthy", "v2-managed-healthy", "v2-image-build-warnings-only", "v2-storage-init-restarted-recovered",
           "v2-identity-proxy-restarted-ready", "v2-networkpolicy-allows-extension", "v2-azureml-fe-restarted-ready")


def _findings(name: str) -> list[str]:
    rules = load_plugins().rules
    report = analyze(evidence.load(str(SCENARIOS / name), signals_for(rules)), rules)
    return [r.finding.rule for r in report.findings]


def test_every_v2_scenario_is_classified():
    names = {p.name for p in SCENARIOS.iterdir() if p.name.startswith("v2-") and p.is_dir() and not p.name.startswith("v2-migrate-")}
    assert names == set(ROOT_CAUSE) | set(NEAR_MISS) | set(HEALTHY)
    assert len(ROOT_CAUSE) >= 12 and len(NEAR_MISS) >= 12


@pytest.mark.parametrize("name", sorted(ROOT_CAUSE))
def test_failing_scenario_ranks_its_rule_first(name):
    assert _findings(name)[0] == ROOT_CAUSE[name]


@pytest.mark.parametrize("name", sorted(NEAR_MISS))
def test_near_miss_stays_silent(name):
    found = set(_findings(name))
    assert not found & NEAR_MISS[name]
    assert not found & V2_RULES


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_scenarios_have_no_finding(name):
    assert _findings(name) == []
