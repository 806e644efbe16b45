"""Every rule's signatures file: valid, and each signature catches its own documented example
through the whole pipeline (pasted text in, the rule's finding out), with nothing else ranked first."""

from __future__ import annotations

import glob
import os

import pytest

from aml_doctor.evidence import store as evidence_mod
from aml_doctor.engine import signatures
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.engine.plugins import load_plugins

RULES_DIR = os.path.join(os.path.dirname(__file__), "..", "rules")
FILES = sorted(glob.glob(os.path.join(RULES_DIR, "*.signatures.yml")))
RULES = load_plugins().rules
BY_FILE = {signatures.beside(__import__("inspect").getfile(r)): r for r in RULES if getattr(r, "signatures", ())}


def _cases():
    for path in FILES:
        rule_id = os.path.basename(path).split("_")[0].upper()
        for sig in signatures.load(path):
            yield pytest.param(path, sig, id=f"{rule_id}[{sig.id}]")


def test_every_signatures_file_belongs_to_a_rule_that_uses_it():
    assert FILES
    assert sorted(os.path.realpath(p) for p in FILES) == sorted(os.path.realpath(p) for p in BY_FILE)


@pytest.mark.parametrize("path,sig", list(_cases()))
def test_signature_catches_its_example(path, sig):
    rule = BY_FILE[next(p for p in BY_FILE if os.path.realpath(p) == os.path.realpath(path))]
    ev = evidence_mod.from_texts([("example.txt", sig.example.encode())], signals=signals_for(RULES))
    report = analyze(ev, RULES)
    mine = [r.finding for r in report.findings if r.finding.rule == rule.id]
    assert mine, f"{rule.id}[{sig.id}] did not fire on its example: {sig.example!r}"
    causes = [r.finding for r in report.findings if not r.finding.is_symptom]
    assert causes[0].rule == rule.id, f"ranked first: {causes[0].rule} {causes[0].title}"
    expected = rule.categories()[sig.mode or sig.id].value
    assert causes[0].category.value == expected
    # The finding names the failure mode it concludes: the signature's, when the signature made it.
    assert causes[0].mode in rule.categories()
    if causes[0].subject == f"signature/{sig.id}" or rule.id == "AML004":
        assert causes[0].mode == (sig.mode or sig.id)


@pytest.mark.parametrize(
    "data,error",
    [
        ([{"id": "x"}], "fix needs a summary"),
        ([{"id": "Bad Id", "any": ["a"]}], "kebab-case"),
        ("not a list", "a list of signatures expected"),
        (
            [{"id": "a", "any": [], "fix": {"summary": "s"}, "title": "t", "explanation": "e", "source": "u", "example": "x"}],
            "at least one phrase",
        ),
        (
            [{"id": "a", "any": ["p"], "fix": {"summary": "s"}, "title": "t", "explanation": "e", "source": "u", "example": "x", "category": "nope"}],
            "unknown category",
        ),
    ],
)
def test_a_malformed_signatures_file_is_refused_with_the_reason(data, error):
    with pytest.raises(signatures.SignatureError, match=error):
        signatures.parse(data, "t.yml")


def test_signature_phrases_are_rule_signals_so_huge_logs_keep_their_lines():
    for rule in BY_FILE.values():
        for sig in rule.signatures:
            assert set(sig.any) <= set(rule.signals), rule.id


def test_a_rule_s_own_check_wins_over_its_signatures(tmp_path):
    # AML016's own check reads the regional-cores numbers; its signatures are only a fallback.
    text = ("Operation could not be completed as it results in exceeding approved Total Regional Cores quota. "
            "Location: eastus2, Current Limit: 4, Current Usage: 0, Additional Required: 12")
    ev = evidence_mod.from_texts([("q.txt", text.encode())], signals=signals_for(RULES))
    report = analyze(ev, RULES)
    first = report.findings[0].finding
    assert first.rule == "AML016" and not first.subject.startswith("signature/")

