"""``aml-doctor new-rule``: write a rule, its docs and its cases, ready to edit.

The rule file is a plugin on its own (the class and its hook), so ``--rules-dir`` or
``rules-dir = [...]`` in the configuration loads it without packaging. The case file runs with
``aml_doctor.testing`` and passes as written, and a pytest file beside the cases directory runs
them (``pytest`` finds it); edit the phrase, the evidence and the fix from there.

The phrase is plain text, whatever it holds (``(``, ``[``, ``*``): it is a rule's *signal*, which
the evidence layer finds as written, without regard to case, and the rule matches it the same way
(``doc.first`` takes a regular expression, so the rule hands it the phrase escaped).
"""

from __future__ import annotations

import os
import re

from aml_doctor.findings import Category, Stage

RULE_TEMPLATE = '''"""{rule_id} {name}: {summary}"""

from __future__ import annotations

import re

import aml_doctor
from aml_doctor import Category, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt

# The exact line the failure prints. Copy it from a real log; never write one to fit.
PHRASE = {phrase!r}
# doc.first takes a regular expression: the phrase is plain text, matched as written, any case.
MATCH = re.compile(re.escape(PHRASE), re.IGNORECASE)


class {class_name}(Rule):
    id = "{rule_id}"
    name = "{name}"
    category = Category.{category}
    severity = Severity.HIGH
    stage = Stage.{stage}
    requires = ("text",)
    signals = (PHRASE,)

    def check(self, ev):
        for doc in ev.docs():
            hit = doc.first(MATCH)
            if hit:
                yield self.finding(
                    title={title!r},
                    explanation="Say what happened and why, in the words of the evidence.",
                    evidence=[excerpt(doc, hit.line_no)],
                    subject=doc.path,
                    confidence=0.9,
                    fix=Fix(
                        summary="The one thing to do.",
                        steps=("the command or code change",),
                        verify=("the command that shows it worked",),
                    ),
                )
                return


@aml_doctor.hookimpl
def aml_doctor_rules():
    return [{class_name}]
'''

DOC_TEMPLATE = """# {rule_id} {name}

{summary}

## What it checks
The evidence this rule reads, and the exact strings it looks for.

## Why it happens
The failure behind those strings.

## Evidence
- Which bundle files hold it.

## Fix
- The concrete next step, and the command that confirms it worked.
"""

CASES_TEMPLATE = """rule: {rule_id}
plugins: [{plugin_path}]
cases:
  - name: fires_on_the_phrase
    evidence:
      text:
        pasted.txt: |
          {phrase}
    expect:
      fires: true
      ranked_first: true
      category: {category_value}
  - name: near_miss
    evidence:
      text:
        pasted.txt: |
          {near_miss}
    expect:
      fires: false
"""


RUNNER_TEMPLATE = '''"""Runs every case file in {cases_rel}/ (written by aml-doctor new-rule); pytest -k RULE_ID runs one rule's."""

from pathlib import Path

from aml_doctor.testing import case_tests

test_case = case_tests(Path(__file__).parent / {cases_rel!r})
'''

PLACEHOLDER = "REPLACE WITH THE EXACT ERROR LINE"
# Log lines a near-miss case may use: the first that does not hold the phrase is taken.
NEAR_MISSES = ("a log without the failure", "Booting worker with pid: 96", "GET /score HTTP/1.1 200")


class ScaffoldError(Exception):
    pass


def new_rule(
    rule_id: str,
    name: str,
    *,
    rules_dir: str,
    cases_dir: str,
    category: str = "other",
    stage: str = "init",
    summary: str = "",
    phrase: str = "",
) -> list[str]:
    """Write the rule, its docs, its cases and (unless there is one) their pytest runner; the paths written."""
    values = _values(rule_id, name, category, stage, summary, phrase)
    stem = f"{rule_id.lower()}_{name.replace('-', '_')}"
    rule_path = os.path.join(rules_dir, stem + ".py")
    case_path = os.path.join(cases_dir, rule_id + ".yml")
    files = [(rule_path, RULE_TEMPLATE), (os.path.join(rules_dir, stem + ".md"), DOC_TEMPLATE), (case_path, CASES_TEMPLATE)]
    for path, _ in files:
        if os.path.exists(path):
            raise ScaffoldError(f"{path} already exists; not overwriting it")
    values["plugin_path"] = os.path.relpath(rule_path, cases_dir).replace(os.sep, "/")
    runner = runner_path(cases_dir)
    if not os.path.exists(runner):  # one runner serves every case file in the directory
        values["cases_rel"] = os.path.relpath(cases_dir, os.path.dirname(runner) or ".").replace(os.sep, "/")
        files.append((runner, RUNNER_TEMPLATE))
    os.makedirs(rules_dir, exist_ok=True)
    os.makedirs(cases_dir, exist_ok=True)
    written = []
    for path, template in files:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(template.format(**values))
        written.append(path)
    return written


def runner_path(cases_dir: str) -> str:
    """``tests/cases`` -> ``tests/test_cases.py``: beside the cases directory, named after it."""
    parent, base = os.path.split(os.path.normpath(cases_dir))
    return os.path.join(parent, f"test_{re.sub(r'[^0-9A-Za-z_]', '_', base)}.py")


def _values(rule_id: str, name: str, category: str, stage: str, summary: str, phrase: str) -> dict:
    if not re.fullmatch(r"[A-Z]{2,8}\d{3}", rule_id):
        raise ScaffoldError(f"rule id {rule_id!r} must look like ACME001 (2-8 capitals, 3 digits)")
    if not re.fullmatch(r"[a-z][a-z0-9-]+", name):
        raise ScaffoldError(f"rule name {name!r} must be kebab-case, like gpu-pool-required")
    try:
        cat = Category(category)
    except ValueError:
        raise ScaffoldError(f"unknown category {category!r} (see `aml-doctor rules` or categories.md)") from None
    try:
        stg = Stage[stage.upper()]
    except KeyError:
        raise ScaffoldError(f"unknown stage {stage!r} (one of: {', '.join(s.name.lower() for s in Stage)})") from None
    summary = " ".join(summary.split()) or name.replace("-", " ").capitalize()
    phrase = phrase.strip() or PLACEHOLDER
    if len(phrase.splitlines()) != 1 or len(phrase) < 4 or any(ord(c) < 32 and c != "\t" for c in phrase):
        raise ScaffoldError("--phrase is one line of the log, at least 4 characters, without control characters")
    near_miss = next((t for t in NEAR_MISSES if phrase.lower() not in t.lower()), None)
    if near_miss is None:
        raise ScaffoldError(f"--phrase {phrase!r} is too common to tell a failure from a healthy log")
    return {
        "rule_id": rule_id,
        "name": name,
        "class_name": "".join(p.capitalize() for p in name.split("-")),
        "category": cat.name,
        "category_value": cat.value,
        "stage": stg.name,
        "title": summary,
        "summary": summary.replace("\\", "/").replace('"', "'"),  # inside a docstring
        "phrase": phrase,
        "near_miss": near_miss,
    }
