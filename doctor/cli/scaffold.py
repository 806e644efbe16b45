"""``aml-doctor new-rule``: write a rule, its docs and its cases, ready to edit.

The rule file is a plugin on its own (the class and its hook), so ``--rules-dir`` or
``rules-dir = [...]`` in the configuration loads it without packaging. The case file runs with
``aml_doctor.testing`` and passes as written; edit the phrase, the evidence and the fix from there.
"""

from __future__ import annotations

import os
import re

from aml_doctor.findings import Category, Stage

RULE_TEMPLATE = '''"""{rule_id} {name}: {summary}"""

from __future__ import annotations

import aml_doctor
from aml_doctor import Category, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt

# The exact line the failure prints. Copy it from a real log; never write one to fit.
PHRASE = {phrase!r}


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
            hit = doc.first(PHRASE)
            if hit:
                yield self.finding(
                    title="{summary}",
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
          a log without the failure
    expect:
      fires: false
"""


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
    stem = f"{rule_id.lower()}_{name.replace('-', '_')}"
    rule_path = os.path.join(rules_dir, stem + ".py")
    doc_path = os.path.join(rules_dir, stem + ".md")
    case_path = os.path.join(cases_dir, rule_id + ".yml")
    for path in (rule_path, doc_path, case_path):
        if os.path.exists(path):
            raise ScaffoldError(f"{path} already exists; not overwriting it")
    values = {
        "rule_id": rule_id,
        "name": name,
        "class_name": "".join(p.capitalize() for p in name.split("-")),
        "category": cat.name,
        "category_value": cat.value,
        "stage": stg.name,
        "summary": summary or name.replace("-", " ").capitalize(),
        "phrase": phrase or "REPLACE WITH THE EXACT ERROR LINE",
        "plugin_path": os.path.relpath(rule_path, cases_dir).replace(os.sep, "/"),
    }
    os.makedirs(rules_dir, exist_ok=True)
    os.makedirs(cases_dir, exist_ok=True)
    written = []
    for path, template in ((rule_path, RULE_TEMPLATE), (doc_path, DOC_TEMPLATE), (case_path, CASES_TEMPLATE)):
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(template.format(**values))
        written.append(path)
    return written
