"""``aml-doctor explain RULE``: a rule's documentation."""

from __future__ import annotations

import argparse

from aml_doctor.cli.errors import UsageError
from aml_doctor.cli.options import add_rule_options
from aml_doctor.common.exitcodes import ExitCode

HELP = "print a rule's documentation"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule", help="rule id (AML004) or name (pod-not-ready)")
    add_rule_options(p)


def run(args, prog: str) -> int:
    from aml_doctor.cli.pipeline import load_rules

    loaded, _, _ = load_rules(args)
    wanted = args.rule.strip()
    for r in loaded.rules:
        if r.id == wanted.upper() or r.name == wanted:
            print(r.docs().rstrip())
            print(f"\ncategory: {r.category.value}   severity: {r.severity.value}   stage: {r.stage.label}   plugin: {r.plugin}")
            return ExitCode.OK
    raise UsageError(f"no rule {wanted!r}; `aml-doctor rules` lists them")
