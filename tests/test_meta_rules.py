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


# ---------------------------------------------------------------------- one failure mode, one sub-id
def _emitted():
    """Every finding the built-in rules make over their own cases and the scenario bundles."""
    import sys

    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze, signals_for
    from aml_doctor.testing import analyze_case

    sys.path.insert(0, str(Path(__file__).parent / "golden"))
    import snapshot

    for case in CASES:
        if not case.plugins:
            yield from (r.finding for r in analyze_case(case).findings)
    for path in snapshot.scenario_dirs():
        ev = evidence_mod.load(str(path), signals=signals_for(RULES))
        yield from (r.finding for r in analyze(ev, RULES).findings)


def test_every_rule_declares_its_modes_soundly():
    from aml_doctor.engine.rule import rule_problems

    for rule in RULES:
        assert not rule_problems(rule), (rule.id, rule_problems(rule))
        declared = [m.category for m in rule.modes]
        # One category, one mode: the category a finding concludes names its sub-id.
        assert len(set(declared)) == len(declared), rule.id
        if rule.modes:
            assert rule.category in declared, f"{rule.id}: the rule's own category needs a mode too"


def test_every_emitted_category_belongs_to_exactly_one_rule_mode():
    seen = {}
    by_id = {r.id: r for r in RULES}
    for f in _emitted():
        if f.rule not in by_id:
            continue
        modes = by_id[f.rule].categories()
        assert f.mode in modes, f"{f.rule_mode}: {f.title!r} concludes {f.category.value} with no declared mode"
        assert modes[f.mode] is f.category, f"{f.rule_mode} declares {modes[f.mode].value}, the finding says {f.category.value}"
        seen.setdefault((f.rule, f.category), set()).add(f.mode)
    # AML004's five causes were seen, each under one sub-id.
    assert {c.value for r, c in seen if r == "AML004"} >= {
        "entry_script_init_error", "entry_script_import_error", "dependency_version_conflict", "model_not_found", "crash_loop_other",
    }
    for (rule, category), modes in seen.items():
        own = {m.id for m in by_id[rule].modes}
        assert len(modes & own) <= 1, f"{rule}: {category.value} reached the report under {sorted(modes)}"


def test_relations_name_rules_that_exist():
    ids = {r.id for r in RULES}
    modes = {f"{r.id}[{m.id}]" for r in RULES for m in r.all_modes()}
    for rule in RULES:
        targets = [*rule.supersedes, *rule.explains, *rule.defers, *(t for m in rule.modes for t in m.supersedes)]
        for target in targets:
            assert target in ids or target in modes, f"{rule.id} names {target}, which no built-in rule is"


def test_no_rule_imports_another_rule_s_module():
    import ast

    rules_dir = Path(__file__).parent.parent / "rules"
    for path in sorted(rules_dir.glob("aml*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])] if isinstance(node, ast.Import) else []
            for name in names:
                assert not re.search(r"(^|\.)rules\.aml\d{3}", name) and not re.match(r"\.?aml\d{3}_", name), f"{path.name} imports {name}"


# ---------------------------------------------------------------------- views parse, rules decide
DOCTOR = Path(__file__).parent.parent / "doctor"
# Where a category may be named in doctor/: the report model defines them, and the rule base
# class gives a rule without one the catch-all.
MAY_NAME_A_CATEGORY = {"findings.py", "engine/rule.py"}


def _category_names_in(path: Path) -> list[str]:
    import ast

    from aml_doctor.findings import Category

    values = {c.value for c in Category if "_" in c.value}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # A literal that lists every category (a schema's list of allowed values) chooses none of them.
    schema = {
        id(e) for node in ast.walk(tree) if isinstance(node, (ast.Tuple, ast.List, ast.Set))
        for e in node.elts
        if values <= {x.value for x in node.elts if isinstance(x, ast.Constant)}
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in schema:
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Category":
            found.append(f"line {node.lineno}: Category.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in values:
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


def test_no_module_in_doctor_decides_a_cause():
    """A module of doctor/ that names no category cannot turn an error string into a cause: the
    error-string patterns that decide one live in the rules, as their signatures."""
    offenders = {}
    for path in sorted(DOCTOR.rglob("*.py")):
        rel = path.relative_to(DOCTOR).as_posix()
        if rel in MAY_NAME_A_CATEGORY:
            continue
        names = _category_names_in(path)
        if names:
            offenders[rel] = names
    assert not offenders, f"doctor/ modules that decide a category: {offenders}"


def test_the_core_check_catches_a_view_that_decides(tmp_path):
    view = tmp_path / "decides.py"
    view.write_text('import re\nOOM = re.compile("OOMKilled")\ndef cause(line):\n    return Category.OOM_KILLED if OOM.search(line) else None\n')
    assert _category_names_in(view) == ["line 4: Category.OOM_KILLED"]
    view.write_text('def cause(line):\n    return "oom_killed" if "OOMKilled" in line else ""\n')
    assert _category_names_in(view) == ["line 2: 'oom_killed'"]
    from aml_doctor.findings import Category

    view.write_text(f"CATEGORIES = {tuple(c.value for c in Category)!r}\n")
    assert _category_names_in(view) == []


def test_no_view_repeats_a_rule_s_signature_phrase():
    """A signature's phrase belongs to its rule; a view matching it too would decide behind it."""
    import ast

    phrases = {p.lower() for r in RULES for s in getattr(r, "signatures", ()) for p in s.any if len(p) > 12}
    # targets.py reads which platform the evidence comes from (v2 error codes mark a v2 cluster), not the cause.
    for path in sorted(p for p in (DOCTOR / "views").glob("*.py") if p.name != "targets.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value.lower()
                hits = [p for p in phrases if p in text]
                assert not hits, f"{path.name} line {node.lineno} holds signature phrases {hits}"
