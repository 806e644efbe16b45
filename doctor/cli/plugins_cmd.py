"""``aml-doctor plugins``: the loaded plugins, their versions and rules, and the broken ones."""

from __future__ import annotations

import argparse

from aml_doctor.cli.options import add_rule_options
from aml_doctor.common.exitcodes import ExitCode

HELP = "list the loaded plugins, their versions and rules"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_rule_options(p)


def run(args, prog: str) -> int:
    from aml_doctor.cli.pipeline import load_rules

    loaded, _, _ = load_rules(args)
    for p in loaded.plugins:
        print(f"{p.name:<24} {p.version or '-':<10} {p.source:<12} {', '.join(p.rules) or '(no rules)'}")
    for e in loaded.errors:
        print(f"{e.plugin:<24} {'-':<10} {'broken':<12} {e.error}")
    return ExitCode.OK
