"""Every flag a fix mentions exists: each ``aml-doctor ...`` command in the rules' fixes, their
docs and the knowledge base's next steps is parsed against the CLI's own parser.

A fix that said ``aml-doctor collect --storage-account`` (a flag that never existed) sent users
to an error. Two sources are read: the text as written (string literals of rules/*.py with
f-string fields and ``<placeholders>`` filled in, rules/*.md, the YAML files), and the fixes the
rules actually produce on every scenario bundle.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from aml_doctor.evidence import store as evidence
from aml_doctor.cli.main import COMMANDS, build_parser
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.engine.plugins import load_plugins

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
SOURCES = [*sorted((ROOT / "rules").glob("*.py")), *sorted((ROOT / "rules").glob("*.md")),
           *sorted((ROOT / "rules").glob("*.yml")), *sorted((ROOT / "doctor" / "knowledge").glob("*.yml"))]
# A command ends at a quote, a backtick, a closing bracket, a shell comment or separator, or the line's end.
COMMAND = re.compile(r"aml-doctor((?:\s+[^\s`\"')\]#;|&]+)+)")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}  # noqa: SLF001 - argparse has no public list


PARSER = build_parser()
TOP = _options(PARSER)
PER_COMMAND = {name: _options(PARSER.commands[name]) for name in COMMANDS}


def commands_in(text: str) -> list[str]:
    text = re.sub(r"\{[^{}]*\}", "x", text)  # f-string fields
    text = re.sub(r"<[^<>]*>", "x", text)  # <service>, <bundle>
    return ["aml-doctor" + m.group(1) for m in COMMAND.finditer(text)]


def problems(command: str) -> list[str]:
    """The flags (and a misspelt first word) the parser would refuse."""
    words = shlex.split(command)[1:]
    if not words:
        return []
    first = words[0]
    known = PER_COMMAND[first] if first in COMMANDS else TOP
    out = []
    for word in words:
        if word.startswith("-") and word != "-":
            flag = word.split("=", 1)[0]
            if flag not in known:
                out.append(f"{flag} is not a flag of `aml-doctor {first if first in COMMANDS else 'SERVICE'}`")
    return out


def _written() -> list[tuple[str, str]]:
    found = []
    for path in SOURCES:
        for command in commands_in(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), command))
    return found


def _produced() -> list[tuple[str, str]]:
    rules = load_plugins().rules
    signals = signals_for(rules)
    found = []
    for scenario in sorted(p for p in SCENARIOS.iterdir() if p.is_dir()):
        report = analyze(evidence.load(str(scenario), signals=signals), rules)
        for r in report.findings:
            f = r.finding
            for text in (f.fix.summary, *f.fix.steps, *f.fix.verify, f.explanation, f.decide):
                found += [(f"{scenario.name}: {f.rule}", c) for c in commands_in(text)]
        for step in report.next_evidence:
            found += [(f"{scenario.name}: next evidence", c) for c in commands_in(step)]
    return found


def test_the_checker_catches_a_flag_that_does_not_exist():
    assert problems("aml-doctor collect x --storage-account acct -o b.tar.gz") == [
        "--storage-account is not a flag of `aml-doctor collect`"]
    assert problems("aml-doctor svc -w ws -g rg --account-name a") == []
    assert commands_in("run `aml-doctor collect <service> -o bundle.tar.gz`   # then") == ["aml-doctor collect x -o bundle.tar.gz"]


def test_fixes_mention_aml_doctor_commands_at_all():
    assert any("collect" in c for _, c in _written()), "the scan found no aml-doctor command: the pattern is broken"


@pytest.mark.parametrize("where, command", _written())
def test_every_flag_in_the_written_fixes_exists(where, command):
    assert problems(command) == [], f"{where}: {command}"


def test_every_flag_in_the_produced_fixes_exists():
    bad = [(where, command, problems(command)) for where, command in _produced() if problems(command)]
    assert bad == []
