"""``aml-doctor rules``: the rules to run, by stage, with the plugin each comes from, and each rule's
failure modes: the sub-ids (``AML004[import-error]``) that ``--select``, ``--ignore`` and severity
overrides take."""

from __future__ import annotations

import argparse
import json

from aml_doctor.cli.options import add_rule_options
from aml_doctor.common.exitcodes import ExitCode

HELP = "list the rules, by stage, with the plugin each comes from"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", "-f", "--format", dest="format", choices=("text", "json"), default="text", metavar="FORMAT",
                   help="text|json (default: text)")
    add_rule_options(p)


def run(args, prog: str) -> int:
    from aml_doctor.cli.pipeline import load_rules

    loaded, rules, _ = load_rules(args)
    rows = sorted(rules, key=lambda r: (int(r.stage), r.id))
    if args.format == "json":
        data = [
            {"id": r.id, "name": r.name, "category": r.category.value, "severity": r.severity.value,
             "stage": r.stage.name.lower(), "requires": list(r.requires), "plugin": r.plugin, "summary": r.summary(),
             "modes": [{"id": f"{r.id}[{m.id}]", "category": m.category.value} for m in r.all_modes()]}
            for r in rows
        ]
        print(json.dumps(data, indent=2))
        return ExitCode.OK
    current = None
    for r in rows:
        if r.stage != current:
            current = r.stage
            print(f"\n{r.stage.label}")
        print(f"  {r.id}  {r.name:<34} {r.category.value:<36} {r.severity.value:<8} [{r.plugin}]")
        for m in r.all_modes():
            print(f"      {f'[{m.id}]':<36} {m.category.value}")
    print(f"\n{len(rows)} rules from {len(loaded.plugins)} plugin(s)")
    return ExitCode.OK
