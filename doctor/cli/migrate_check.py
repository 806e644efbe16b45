"""``aml-doctor migrate-check``: what a v2 (AzureML extension) install would hit on a cluster that
runs v1 services; the checks are ``v2migrate.py``'s, docs/v2.md describes them."""

from __future__ import annotations

import argparse

from aml_doctor.cli.options import add_report_options, add_rule_options

HELP = "check a cluster that runs v1 services for what a v2 (AzureML extension) install would hit"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from aml_doctor.cli.v2migrate import add_arguments as add_migrate_arguments

    add_migrate_arguments(p)
    add_report_options(p)
    add_rule_options(p)


def run(args, prog: str) -> int:
    from aml_doctor.cli.v2migrate import main

    return main(args, prog)
