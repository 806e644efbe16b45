"""Every rule is complete: a valid id and name, docs in the four sections, and cases that catch it
and cases where it must stay silent."""

import re
from pathlib import Path

import pytest

from aml_doctor.engine.plugins import load_plugins
from aml_doctor.testing import collect_cases

# Built-in rules only: a team plugin installed beside them (the example in examples/) has its own cases.
RULES = [r for r in load_plugins().rules if r.plugin == "builtin_rules"]
CASES = collect_cases(Path(__file__).parent / "cases")
SECTIONS = ("## What it checks", "## Why it happens", "## Evidence", "## Fix")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_metadata(rule):
    assert re.fullmatch(r"[A-Z]{2,8}\d{3}", rule.id)
    assert re.fullmatch(r"[a-z][a-z0-9-]+", rule.name)
    assert rule.requires, "a rule must say what evidence it needs"
    from aml_doctor.evidence.store import SOURCES

    for group in rule.requires:
        assert set(group.split("|")) <= set(SOURCES), f"unknown evidence source in {group!r}"
    for phrase in rule.signals:
        assert phrase and not re.search(r"\\[bdswS]|\(\?|\[\^", phrase), f"signals are plain phrases, not regexes: {phrase!r}"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_docs_have_the_four_sections(rule):
    docs = rule.docs()
    assert docs.startswith(f"# {rule.id} {rule.name}\n"), "docs open with '# <id> <name>'"
    positions = [docs.find(s) for s in SECTIONS]
    assert all(p > 0 for p in positions), f"missing sections: {[s for s, p in zip(SECTIONS, positions) if p < 0]}"
    assert positions == sorted(positions), "sections in the order What / Why / Evidence / Fix"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_catching_and_near_miss_cases(rule):
    mine = [c for c in CASES if c.rule == rule.id]
    assert any(c.expect.get("fires") is True for c in mine), f"tests/cases/{rule.id}.yml needs a case that fires"
    assert any(c.expect.get("fires") is False for c in mine), f"tests/cases/{rule.id}.yml needs a near-miss case"
    assert any(c.expect.get("ranked_first") for c in mine), f"tests/cases/{rule.id}.yml needs a case where it ranks first"


def test_ids_and_names_are_unique():
    assert len({r.id for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def test_every_case_file_names_a_known_rule():
    known = {r.id for r in load_plugins().rules}
    assert {c.rule for c in CASES} <= known
