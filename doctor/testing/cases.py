"""Per-rule test cases as data: one YAML file per rule, one generic runner.

A case file (``tests/cases/AML004.yml``)::

    rule: AML004
    cases:
      - name: init_keyerror
        bundle: ../scenarios/crashloop-init-keyerror     # relative to this file; dir, .tar.gz or .zip
        expect:
          fires: true
          ranked_first: true                  # first in a full analysis with every loaded rule
          category: entry_script_init_error   # of this rule's first finding
          title_contains: "KeyError"
          evidence_contains: "score.py\\", line 17"
          alternatives: []                    # the runner-up categories, in order
          decide_contains: "..."              # in what would decide between them
      - name: pasted_get_logs
        evidence:                              # an inline bundle, built with BundleBuilder
          service: myservice
          text: {"paste.txt": "..."}
          kubernetes: {pods: [...]}
          logs: {"mypod/main.log": "..."}
        expect: {fires: false}
      - name: mixed
        bundle: ../scenarios/mixed-...
        expect:
          ranked: [AML002, AML004, AML004, AML021, AML019]   # the whole report's rule order

``plugins: [../team_rules/acme002_gpu_pool.py]`` at the top (or in a case) loads rule files that
are not installed; paths are relative to the case file.

Test ids are ``<RULE>-<case name>``, so ``pytest -k AML004`` runs one rule's cases.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPECT_KEYS = {
    "fires",
    "ranked_first",
    "category",
    "categories",
    "severity",
    "stage",
    "title_contains",
    "evidence_contains",
    "explanation_contains",
    "fix_contains",
    "decide_contains",
    "alternatives",
    "ranked",
    "ranked_categories",
    "min_confidence",
    "max_confidence",
    "count",
    "not_checked",
}


class CaseError(Exception):
    pass


@dataclass
class Case:
    rule: str
    name: str
    source: str  # the YAML file
    bundle: str = ""
    evidence: dict | None = None
    expect: dict = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def load_case_file(path: str | os.PathLike) -> list[Case]:
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    rule = data.get("rule")
    if not rule:
        raise CaseError(f"{path}: missing 'rule'")
    cases = []
    for raw in data.get("cases") or []:
        name = raw.get("name")
        if not name:
            raise CaseError(f"{path}: a case has no 'name'")
        expect = raw.get("expect") or {}
        unknown = set(expect) - _EXPECT_KEYS
        if unknown:
            raise CaseError(f"{path}: case {name}: unknown expect key(s) {sorted(unknown)}")
        bundle = raw.get("bundle", "")
        if bundle:
            bundle = str((path.parent / bundle).resolve())
        if bool(bundle) == bool(raw.get("evidence")):
            raise CaseError(f"{path}: case {name}: give exactly one of 'bundle' or 'evidence'")
        plugins = [_resolve_plugin(path, p) for p in list(data.get("plugins") or []) + list(raw.get("plugins") or [])]
        cases.append(Case(rule, name, str(path), bundle, raw.get("evidence"), expect, plugins))
    return cases


def _resolve_plugin(case_file: Path, spec: str) -> str:
    """A plugin given as a .py path is relative to the case file; a module name stays as it is."""
    if spec.endswith(".py"):
        return str((case_file.parent / spec).resolve())
    return spec


def collect_cases(directory: str | os.PathLike) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(Path(directory).glob("*.y*ml")):
        cases.extend(load_case_file(path))
    return cases


@functools.lru_cache(maxsize=8)
def _loaded(plugins: tuple[str, ...]):
    from aml_doctor.engine.plugins import load_plugins

    loaded = load_plugins(extra=list(plugins))
    if loaded.errors:
        raise CaseError("; ".join(f"plugin {e.plugin}: {e.error}" for e in loaded.errors))
    return loaded


def analyze_case(case: Case, tmp_dir: str | None = None):
    """Run every loaded rule over the case's evidence and return the Report."""
    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze, signals_for
    from aml_doctor.testing.builders import BundleBuilder

    loaded = _loaded(tuple(case.plugins))
    bundle = case.bundle
    if case.evidence is not None:
        import tempfile

        target = tmp_dir or tempfile.mkdtemp(prefix="aml-doctor-case-")
        bundle = BundleBuilder.from_dict(case.evidence).write(os.path.join(target, case.id))
    ev = evidence_mod.load(bundle, signals=signals_for(loaded.rules))
    return analyze(ev, loaded.rules)


def check_case(case: Case, tmp_dir: str | None = None) -> None:
    """Assert the case's expectations; raise AssertionError with a readable diff when one fails."""
    report = analyze_case(case, tmp_dir)
    expect = case.expect
    mine = [r.finding for r in report.findings if r.finding.rule == case.rule]
    summary = "\n".join(
        f"  {r.rank}. {r.finding.rule} [{r.finding.category.value}/{r.finding.stage.name}] {r.finding.title}" for r in report.findings
    ) or "  (no findings)"
    errors = [f"{e.rule}: {e.error}" for e in report.rule_errors]
    assert not errors, f"{case.id}: rule errors: {errors}"
    where = f"{case.id} ({case.source})\nreport:\n{summary}"

    fires = expect.get("fires")
    if fires is not None:
        assert bool(mine) == bool(fires), f"{where}\nexpected {case.rule} {'to fire' if fires else 'to stay silent'}"
    if "count" in expect:
        assert len(mine) == expect["count"], f"{where}\nexpected {expect['count']} finding(s) from {case.rule}, got {len(mine)}"
    if expect.get("ranked_first"):
        assert report.findings and report.findings[0].finding.rule == case.rule, f"{where}\nexpected {case.rule} ranked first"
    first = mine[0] if mine else None
    for key, attr in (("category", "category"), ("severity", "severity"), ("stage", "stage")):
        if key in expect:
            assert first is not None, f"{where}\nexpected a finding with {key} {expect[key]}"
            value = getattr(first, attr)
            got = value.name.lower() if key == "stage" else value.value
            assert got == str(expect[key]).lower(), f"{where}\nexpected {key} {expect[key]}, got {got}"
    if "categories" in expect:
        got = sorted({f.category.value for f in mine})
        assert got == sorted(expect["categories"]), f"{where}\nexpected categories {expect['categories']}, got {got}"
    for key, pick in (
        ("title_contains", lambda f: f.title),
        ("explanation_contains", lambda f: f.explanation),
        ("evidence_contains", lambda f: "\n".join(f"{e.locator}\n{e.excerpt}" for e in f.evidence)),
        ("fix_contains", lambda f: "\n".join([f.fix.summary, *f.fix.steps, *f.fix.verify])),
        ("decide_contains", lambda f: f.decide),
    ):
        for needle in _as_list(expect.get(key)):
            assert first is not None and needle in pick(first), f"{where}\nexpected {key} {needle!r}"
    if "alternatives" in expect:
        got = [c.value for c in first.alternatives] if first is not None else None
        assert got == list(expect["alternatives"]), f"{where}\nexpected alternatives {expect['alternatives']}, got {got}"
    if "min_confidence" in expect:
        assert first is not None and first.confidence >= expect["min_confidence"], f"{where}\nconfidence too low"
    if "max_confidence" in expect:
        assert first is not None and first.confidence <= expect["max_confidence"], f"{where}\nconfidence too high"
    if "ranked" in expect:
        got = [r.finding.rule for r in report.findings]
        assert got == list(expect["ranked"]), f"{where}\nexpected ranked rules {expect['ranked']}, got {got}"
    if "ranked_categories" in expect:
        got = [r.finding.category.value for r in report.findings]
        assert got == list(expect["ranked_categories"]), f"{where}\nexpected ranked categories {expect['ranked_categories']}, got {got}"
    for rule in _as_list(expect.get("not_checked")):
        assert rule in {n.rule for n in report.not_checked}, f"{where}\nexpected {rule} under not checked"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
