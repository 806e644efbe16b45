"""What every renderer shows, worked out once: the sections of a report and its counts.

A report reads root cause first, then the symptoms that root cause explains (the causal chain),
then the findings that stand on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.findings import Finding, RankedFinding, Report, Severity, Verdict

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


PASTED_TEXT = "pasted text"


def is_pasted(report: Report) -> bool:
    return report.source == PASTED_TEXT


def where_missing(report: Report, reason: str) -> str:
    """evidence.why_missing says "in the bundle"; pasted text is no bundle, and says so."""
    return reason.replace(" in the bundle", " in the pasted text") if is_pasted(report) else reason


def header_fields(report: Report) -> tuple[tuple[str, str], ...]:
    """(label, value) for the report's header, leaving out what is empty (pasted text has no namespace)."""
    fields = (("service", report.service), ("namespace", report.namespace), ("workspace", report.workspace))
    return tuple((label, value) for label, value in fields if value)


def title(report: Report) -> str:
    """What the report is about: the service, else the evidence (``pasted text``, a bundle's path)."""
    return report.service or report.source or "evidence"


@dataclass(frozen=True)
class NotCheckedGroup:
    """The rules that one missing source left unchecked: one line in every format."""

    why: str  # "not collected: no workspace given (...)", "no kubernetes/pods.json in the pasted text"
    sources: tuple[str, ...]  # the evidence sources concerned, when the reason names them
    rules: tuple[str, ...]
    partly: bool  # True: the rules ran without this source; False: they could not run at all

    @property
    def line(self) -> str:
        what = "partly checked" if self.partly else "not run"
        without = f" (without {', '.join(self.sources)})" if self.sources and self.partly else ""
        return f"{self.why}: {', '.join(self.rules)} {what}{without}"


def _reasons(reason: str) -> tuple[bool, list[tuple[str, str]]]:
    """(partly, [(source, why), ...]) from an engine reason line."""
    if reason.startswith("partly checked: ran without "):
        body = reason[len("partly checked: ran without "):]
        items = []
        # "src (why (with parens)); src2 (why2)": split at "; " only where the parentheses balance.
        depth, start = 0, 0
        for i, ch in enumerate(body):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and body.startswith("; ", i):
                items.append(body[start:i])
                start = i + 2
        items.append(body[start:])
        out = []
        for item in items:
            source, _, why = item.partition(" (")
            out.append((source.strip(), why[:-1] if why.endswith(")") else why))
        return True, out
    return False, [("", part.strip()) for part in reason.split(" or ")] if " or " in reason and "no " in reason else [("", reason)]


def not_checked_groups(report: Report) -> tuple[NotCheckedGroup, ...]:
    """"Not checked" by missing source, one group each, rules in id order: 19 rules that lack the
    workspace make one line, not 19."""
    groups: dict[tuple[str, bool], tuple[list[str], list[str]]] = {}
    for n in report.not_checked:
        partly, reasons = _reasons(n.reason)
        if not partly:
            # A rule that could not run: every alternative is missing; group on the whole reason.
            reasons = [("", " or ".join(w for _, w in reasons))]
        for source, why in reasons:
            why = why[len("not collected: "):] if why.startswith("not collected: ") else why
            key = (where_missing(report, why), partly)
            sources, rules = groups.setdefault(key, ([], []))
            if source and source not in sources:
                sources.append(source)
            if n.rule not in rules:
                rules.append(n.rule)
    out = [NotCheckedGroup(why, tuple(sources), tuple(sorted(rules)), partly)
           for (why, partly), (sources, rules) in groups.items()]
    return tuple(sorted(out, key=lambda g: (g.partly, -len(g.rules), g.why)))


def severity_counts(report: Report) -> dict[str, int]:
    counts = {s.value: 0 for s in reversed(list(Severity))}
    for r in report.findings:
        counts[r.finding.severity.value] += 1
    return counts


def summary(report: Report) -> dict:
    return {
        "findings": len(report.findings),
        # Findings the root cause explains: the count every format prints under "Symptoms explained".
        "symptoms": len(sections(report).symptoms),
        "by_severity": severity_counts(report),
        "rules_run": report.rules_run,
        # Of the rules run, how many ran without some of the evidence they read; and the rules
        # that could not run at all. not_checked is the two together (the not_checked list's length).
        "partly_checked": sum(1 for n in report.not_checked if n.reason.startswith("partly checked")),
        "not_run": sum(1 for n in report.not_checked if not n.reason.startswith("partly checked")),
        "not_checked": len(report.not_checked),
        "rule_errors": len(report.rule_errors),
        "plugin_errors": len(report.plugin_errors),
        "collection_gaps": len(report.collection_gaps),
    }


# A watch that never saw the Deployment, or a cluster that refused its pods: worth saying in the
# terminal too, where the other gaps are only counted (they show through "not checked").
GAPS_WORTH_A_LINE = ("deployments", "pods")


def tallies(counts: dict) -> list[str]:
    """The count line, the same words in every format: rules run, of them partly checked, not run."""
    run = f"rules run: {counts['rules_run']}"
    if counts["partly_checked"]:
        run += f" ({counts['partly_checked']} partly checked)"
    return [
        run,
        f"not run: {counts['not_run']}",
        f"rule errors: {counts['rule_errors']}",
        f"plugin errors: {counts['plugin_errors']}",
        f"collection gaps: {counts['collection_gaps']}",
    ]


# The first word of a "Verify" entry that is a command to run; anything else is prose.
_COMMANDS = {"kubectl", "az", "aml-doctor", "curl", "openssl", "python", "python3", "pip", "docker", "nslookup", "dig",
             "helm", "wget", "jq", "grep", "cat", "echo", "ls", "nc", "telnet", "kubelogin", "conda", "Invoke-WebRequest"}


def is_command(text: str) -> bool:
    words = str(text).strip().split()
    return bool(words) and words[0] in _COMMANDS


def line_count(text: str) -> int:
    return text.count("\n") + 1 if text else 0


def is_long(excerpt: str) -> bool:
    return line_count(excerpt) > LONG_EXCERPT_LINES or len(excerpt) > LONG_EXCERPT_CHARS


def unexplained_heading(report: Report) -> str:
    """Beside a root cause, the error lines no finding quotes are often its consequences (the worker
    exiting, the container restarted): they are the other error lines, not errors nothing explains."""
    if report.verdict is Verdict.ROOT_CAUSE_FOUND:
        return "Other error lines (no finding quotes them)"
    return "Error lines no rule explains"


def could_also_be(f: Finding) -> str:
    """The runner-up categories a finding names, with what would decide, as one plain line ("" if none)."""
    if not f.alternatives:
        return ""
    line = "Could also be: " + ", ".join(c.value for c in f.alternatives) + "."
    return f"{line} What decides: {f.decide}" if f.decide else line


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
