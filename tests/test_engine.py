"""The engine: requirements become "not checked", a rule that raises is a rule error, and the
ranking puts causes before symptoms, deterministically."""

import random

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.evidence import store as evidence_mod
from aml_doctor.engine.runner import analyze, select_rules
from aml_doctor.findings import Finding, Verdict
from aml_doctor.engine.ranking import rank
from aml_doctor.testing import BundleBuilder, crashloop_pod


class Explodes(Rule):
    id = "TST001"
    name = "explodes"
    requires = ("pods",)

    def check(self, ev):
        raise KeyError("status")


class NeedsNodes(Rule):
    id = "TST002"
    name = "needs-nodes"
    requires = ("nodes",)

    def check(self, ev):  # pragma: no cover - must never run without nodes
        raise AssertionError("ran without its evidence")


class Always(Rule):
    id = "TST003"
    name = "always"
    stage = Stage.RUN
    requires = ("pods",)

    def check(self, ev):
        yield self.finding(title="t", explanation="e", evidence=[EvidenceItem("x", "y")], fix=Fix("f"), subject="s")


def _evidence(tmp_path, **gaps):
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    for what, error in gaps.items():
        b.gap(what, error)
    return evidence_mod.load(b.write(tmp_path / "b"))


def test_a_raising_rule_is_reported_and_the_others_still_run(tmp_path):
    report = analyze(_evidence(tmp_path), [Explodes, Always])
    assert [e.rule for e in report.rule_errors] == ["TST001"]
    assert report.rule_errors[0].error == "KeyError: 'status'"
    assert [r.finding.rule for r in report.findings] == ["TST003"]


def test_missing_evidence_is_not_checked_with_the_manifest_reason(tmp_path):
    ev = _evidence(tmp_path, nodes="403 Forbidden: cannot list nodes at the cluster scope")
    report = analyze(ev, [NeedsNodes])
    assert report.findings == ()
    assert report.not_checked[0].rule == "TST002"
    assert "403 Forbidden: cannot list nodes" in report.not_checked[0].reason
    # Nothing in this evidence shows health: not an all-clear.
    assert report.verdict is Verdict.UNRECOGNISED
    assert report.collection_gaps[0].what == "nodes"


def test_missing_evidence_without_a_manifest_entry_names_the_file(tmp_path):
    report = analyze(_evidence(tmp_path), [NeedsNodes])
    assert report.not_checked[0].reason == "no kubernetes/nodes.json in the bundle"


def _finding(rule, stage, severity=Severity.HIGH, confidence=0.9, subject="s"):
    return Finding(rule, rule.lower(), Category.OTHER, severity, stage, confidence, f"title {rule}", "", subject, (), Fix(""))


def test_ranking_follows_the_stages_and_puts_symptoms_last():
    findings = [
        _finding("R5", Stage.OPERATION),
        _finding("R3", Stage.CONTAINER),
        _finding("R2", Stage.INIT),
        _finding("R1", Stage.DOWNLOAD),
        _finding("R4", Stage.SERVICE),
    ]
    for _ in range(5):
        random.shuffle(findings)
        ranked = rank(findings)
        assert [r.finding.rule for r in ranked] == ["R1", "R2", "R3", "R4", "R5"]
    assert ranked[0].explained_by == ""
    assert all(r.explained_by == "R1:s" for r in ranked[1:])


def test_a_weak_cause_ranks_after_confident_causes_but_before_symptoms():
    ranked = rank([_finding("W", Stage.MOUNT, confidence=0.3), _finding("C", Stage.INIT), _finding("S", Stage.CONTAINER)])
    assert [r.finding.rule for r in ranked] == ["C", "W", "S"]
    # An earlier stage is not explained by a later-stage root cause.
    assert ranked[1].explained_by == ""


def test_symptoms_alone_give_the_symptoms_only_verdict(tmp_path):
    from aml_doctor.engine.ranking import verdict

    assert verdict(rank([_finding("S", Stage.CONTAINER)])) is Verdict.SYMPTOMS_ONLY
    assert verdict(rank([_finding("C", Stage.INIT)])) is Verdict.ROOT_CAUSE_FOUND
    assert verdict(rank([_finding("W", Stage.CLUSTER, confidence=0.35), _finding("S", Stage.OPERATION)])) is Verdict.POSSIBLE_CAUSE


def test_select_and_ignore_take_ids_prefixes_and_names():
    rules = [Explodes, NeedsNodes, Always]
    assert select_rules(rules, ["TST00"]) == rules
    assert select_rules(rules, ["always"]) == [Always]
    assert select_rules(rules, [], ["TST001", "needs-nodes"]) == [Always]


class QuietOnPods(Rule):
    id = "TST004"
    name = "quiet-on-pods"
    requires = ("pods|events",)

    def check(self, ev):
        return []


def test_a_silent_rule_that_ran_without_lost_evidence_is_partly_checked(tmp_path):
    ev = _evidence(tmp_path, events="403 Forbidden: cannot list resource \"events\" in the namespace")
    report = analyze(ev, [QuietOnPods])
    assert [(n.rule, n.reason) for n in report.not_checked] == [
        ("TST004", 'partly checked: ran without events (not collected: 403 Forbidden: cannot list resource "events" in the namespace)')
    ]
    # Evidence that was never expected (no manifest entry, nothing damaged) is no reason to doubt a pass.
    assert analyze(_evidence(tmp_path / "other"), [QuietOnPods]).not_checked == ()


# ---------------------------------------------------------------------- failure modes as sub-ids
def _findings(cli, *args, env=None):
    import json as _json

    out = cli("analyze", str(EXAMPLE), "-f", "json", *args, env=env)
    return [(f["rule"], f["severity"], f["title"]) for f in _json.loads(out.out)["findings"]]


EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "bundles" / "loan-default-v2.tar.gz"


def test_ignoring_one_sub_id_silences_that_failure_mode_and_nothing_else(cli):
    everything = _findings(cli)
    mine = [f for f in everything if f[0] == "AML004"]
    assert mine and any("cannot find the model files" in t for _, _, t in mine)
    without = _findings(cli, "--ignore", "AML004[model-not-found]")
    assert without == [f for f in everything if f[0] != "AML004"]
    # Another mode of the same rule ignored: nothing this bundle shows goes away.
    assert _findings(cli, "--ignore", "AML004[import-error]") == everything


def test_selecting_one_sub_id_runs_that_failure_mode_alone(cli):
    only = _findings(cli, "--select", "AML004[model-not-found]")
    assert only and {r for r, _, _ in only} == {"AML004"}
    assert _findings(cli, "--select", "pod-not-ready[crash-loop]") == []


def test_a_severity_override_per_sub_id(cli, tmp_path):
    (tmp_path / ".aml-doctor.toml").write_text('[severity]\n"AML004[model-not-found]" = "low"\n"AML004[init-error]" = "info"\n')
    found = _findings(cli)
    assert {s for r, s, _ in found if r == "AML004"} == {"low"}
    assert any(r != "AML004" and s == "critical" for r, s, _ in found)


def test_sub_id_selection_unit():
    from aml_doctor.engine.runner import select_rules
    from aml_doctor.engine.plugins import load_plugins

    rules = load_plugins().rules
    picked = select_rules(rules, ["AML004[import-error]", "AML006"])
    assert sorted(r.id for r in picked) == ["AML004", "AML006"]
    aml004 = next(r for r in picked if r.id == "AML004")
    assert aml004.only_modes == {"import-error"} and aml004.docs().startswith("# AML004 pod-not-ready")
    ignored = select_rules(rules, ignore=["AML004[crash-loop]"])
    assert len(ignored) == len(rules)
    assert next(r for r in ignored if r.id == "AML004").ignored_modes == {"crash-loop"}


def test_a_sub_id_the_rule_does_not_have_is_said_on_stderr(cli):
    out = cli("analyze", str(EXAMPLE), "-f", "json", "--select", "AML004[model-not-fuond]")
    assert "AML004 has no failure mode 'model-not-fuond'" in out.err and "model-not-found" in out.err
