"""The terminal view: short, root cause and its fix first, colour only on request."""

import re

from aml_doctor.findings import EvidenceItem
from aml_doctor.reports import render
from report_factory import BUILD_LOG, make_report, mount_failure, pod_not_ready

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_plain_text_reads_in_order():
    out = render(make_report(), "text")
    assert not ANSI.search(out)
    lines = out.splitlines()
    verdict = lines.index("Verdict: Root cause found")
    root = next(i for i, line in enumerate(lines) if line.startswith("Root cause [HIGH] Blob volume cannot be mounted"))
    fix = next(i for i, line in enumerate(lines) if line.startswith("  Fix: Sync the workspace keys"))
    others = lines.index("Other findings")
    assert verdict < root < fix < others
    assert "    1. az ml workspace sync-keys -w ws1 -g rg1" in lines
    assert "    $ kubectl get pod -l azuremlappname=scorer   # Running; no new FailedMount events" in lines
    also = next(i for i, line in enumerate(lines) if line.startswith("  Could also be: auth_error. What decides: Check the storage"))
    assert fix < also < others
    numbered = [line for line in lines[others:] if re.match(r"  \d+\. ", line)]
    assert [n.split(".")[0].strip() for n in numbered] == ["2", "3", "4"]
    assert "(explained by the root cause)" in numbered[1]
    assert "rules run: 9 · not run: 1 · rule errors: 1 · plugin errors: 1 · collection gaps: 1" in lines


def test_colour_only_when_asked_and_words_carry_the_meaning():
    plain = render(make_report(), "text")
    coloured = render(make_report(), "text", color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    assert "\x1b[31m[HIGH]\x1b[0m" in coloured


def test_long_evidence_shows_its_end_and_says_what_is_hidden():
    out = render(make_report([mount_failure(evidence=(EvidenceItem("image/build.log:12", BUILD_LOG),))]), "text")
    assert "CondaValueError: pip returned an error" in out
    assert "… 19 earlier lines (see the full report)" in out
    assert "Collecting package-0==" not in out


def test_log_escape_sequences_cannot_drive_the_terminal():
    out = render(make_report([mount_failure(title="boom \x1b]0;pwned\x07 \x1b[2J")]), "text", color=False)
    assert "\x1b" not in out and "\x07" not in out
    assert "boom \\x1b]0;pwned\\x07 \\x1b[2J" in out


def test_symptoms_only():
    out = render(make_report([pod_not_ready()]), "text")
    assert "Verdict: Symptoms found, root cause not identified" in out
    assert "Root cause" not in out
    assert "  1. [MEDIUM] Scoring pod never became ready" in out
