"""``aml-doctor new-rule ID NAME``: a new rule, its docs, its cases and their pytest runner (``scaffold.py``)."""

from __future__ import annotations

import argparse

from aml_doctor.cli.errors import UsageError
from aml_doctor.common.exitcodes import ExitCode

HELP = "write a new rule, its docs and its test cases"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="rule id, e.g. ACME002")
    p.add_argument("name", help="kebab-case name, e.g. gpu-pool-required")
    p.add_argument("--rules-dir", default="team_rules", help="where the rule and its docs go (default: team_rules)")
    p.add_argument("--cases-dir", default="tests/cases", help="where its YAML cases go (default: tests/cases)")
    p.add_argument("--category", default="other", help="root-cause category (default: other)")
    p.add_argument("--stage", default="init", help="deployment stage: cluster, build, schedule, pull, mount, download, init, probe, run, ...")
    p.add_argument("--summary", default="", help="one line: what the rule finds")
    p.add_argument("--phrase", default="", help="the exact error line the rule matches (plain text, not a regular expression)")


def run(args, prog: str) -> int:
    from aml_doctor.cli.scaffold import ScaffoldError, new_rule

    try:
        written = new_rule(args.id, args.name, rules_dir=args.rules_dir, cases_dir=args.cases_dir,
                           category=args.category, stage=args.stage, summary=args.summary, phrase=args.phrase)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    print(f"next: aml-doctor rules --rules-dir {args.rules_dir}   and   python -m pytest  (runs its cases with aml_doctor.testing)")
    return ExitCode.OK
