"""What every renderer shows, worked out once: the sections of a report and its counts.

A report reads root cause first, then the symptoms that root cause explains (the causal chain),
then the findings that stand on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.model import RankedFinding, Report, Severity, Verdict

VERDICT_TEXT = {
    Verdict.ROOT_CAUSE_FOUND: "Root cause found",
    Verdict.POSSIBLE_CAUSE: "Possible cause found: confirm it before acting",
    Verdict.SYMPTOMS_ONLY: "Symptoms found, root cause not identified",
    Verdict.UNRECOGNISED: "Unrecognised: the evidence shows errors that no rule explains",
    Verdict.NO_PROBLEM_FOUND: "No problem found",
}

# An excerpt longer than this is folded away (Markdown) or scrolls (HTML).
LONG_EXCERPT_LINES = 15
LONG_EXCERPT_CHARS = 1500


@dataclass(frozen=True)
class Sections:
    root: RankedFinding | None
    symptoms: tuple[RankedFinding, ...]  # explained by the root cause
    others: tuple[RankedFinding, ...]
    root_heading: str = "Root cause"


def sections(report: Report) -> Sections:
    root_finding = report.root_cause
    if root_finding is None:
        return Sections(None, (), report.findings)
    root = report.findings[0]
    rest = report.findings[1:]
    symptoms = tuple(r for r in rest if r.explained_by == root_finding.key)
    others = tuple(r for r in rest if r.explained_by != root_finding.key)
    heading = "Possible cause" if report.verdict is Verdict.POSSIBLE_CAUSE else "Root cause"
    return Sections(root, symptoms, others, heading)


def share(value: float) -> str:
    return f"{round(value * 100)}%"


def unrecognised_lead(report: Report) -> str:
    """The sentence under an unrecognised verdict: why this is not an all-clear."""
    if report.unexplained:
        return "These lines look like errors, and no rule explains them. This is not an all-clear."
    return "Nothing in this evidence shows the deployment healthy, and no rule found a failure. This is not an all-clear."


def severity_counts(report: Report) -> dict[str, int]:
    counts = {s.value: 0 for s in reversed(list(Severity))}
    for r in report.findings:
        counts[r.finding.severity.value] += 1
    return counts


def summary(report: Report) -> dict:
    return {
        "findings": len(report.findings),
        "symptoms": sum(1 for r in report.findings if r.finding.is_symptom),
        "by_severity": severity_counts(report),
        "rules_run": report.rules_run,
        "not_checked": len(report.not_checked),
        "rule_errors": len(report.rule_errors),
        "plugin_errors": len(report.plugin_errors),
        "collection_gaps": len(report.collection_gaps),
    }


def line_count(text: str) -> int:
    return text.count("\n") + 1 if text else 0


def is_long(excerpt: str) -> bool:
    return line_count(excerpt) > LONG_EXCERPT_LINES or len(excerpt) > LONG_EXCERPT_CHARS


def percent(confidence: float) -> str:
    return f"{round(confidence * 100)}%"


_LINE_LOCATOR = re.compile(r"^(?P<path>.+?):(?P<line>[1-9][0-9]*)$")


def split_locator(locator: str) -> tuple[str, int | None, str]:
    """``logs/p/c.log:42`` -> (path, 42, ""); ``kubernetes/pods.json#p/status`` -> (path, None, fragment)."""
    path, _, fragment = locator.partition("#")
    m = _LINE_LOCATOR.match(path)
    if m and not fragment:
        return m.group("path"), int(m.group("line")), ""
    return path, None, fragment
