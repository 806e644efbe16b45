"""The terminal view: the verdict, the root cause and its fix, then one line per other finding.

Colour is ANSI only and only when the caller asks (the CLI checks NO_COLOR and whether stdout is
a terminal). Without colour every cue is still in the words: severities are spelled out.
"""

from __future__ import annotations

import textwrap

from aml_doctor.findings import Finding, Report, Severity

from aml_doctor.reports import view
from aml_doctor.reports.sanitize import backstop_ansi, clean_report, redaction_line

WIDTH = 100
EXCERPT_LINES = 6

_SEVERITY_COLOUR = {
    Severity.CRITICAL: "1;31",
    Severity.HIGH: "31",
    Severity.MEDIUM: "33",
    Severity.LOW: "34",
    Severity.INFO: "2",
}


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, codes: str, text: str) -> str:
        return f"\x1b[{codes}m{text}\x1b[0m" if self.color else text

    def severity(self, severity: Severity) -> str:
        return self(_SEVERITY_COLOUR[severity], f"[{severity.value.upper()}]")


def _wrap(text: str, indent: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, WIDTH - len(indent), break_on_hyphens=False, break_long_words=True) or [""]
    return [indent + line if line else "" for line in lines]


def _excerpt(text: str, indent: str) -> list[str]:
    # The end of a log is where the error is: show the last lines, wrapped, never cut short.
    lines = text.splitlines()
    shown = []
    for line in lines[-EXCERPT_LINES:]:
        shown += [indent + part for part in textwrap.wrap(line, WIDTH - len(indent), drop_whitespace=False) or [""]]
    if len(lines) > EXCERPT_LINES:
        shown.insert(0, f"{indent}… {len(lines) - EXCERPT_LINES} earlier lines (see the full report)")
    return shown


def _root_cause(f: Finding, style: _Style, heading: str) -> list[str]:
    out = [
        f"{style('1', heading)} {style.severity(f.severity)} {style('1', f.title)}",
        f"  {f.category.value} · stage: {f.stage.label} · confidence {view.percent(f.confidence)} · {f.rule_mode} on {f.subject}",
        "",
    ]
    out += _wrap(f.explanation, "  ")
    for e in f.evidence:
        out += ["", "  " + style("2", f"Evidence {e.locator}")]
        out += _excerpt(e.excerpt, "    ")
    out += ["", "  " + style("1;32", "Fix:") + " " + f.fix.summary]
    out += [f"    {i}. {step}" for i, step in enumerate(f.fix.steps, 1)]
    if f.fix.verify:
        out.append("  " + style("1", "Verify:"))
        out += [f"    $ {v}" if view.is_command(v) else f"    {v}" for v in f.fix.verify]
    also = view.could_also_be(f)
    if also:
        out += [""] + _wrap(also, "  ")
    return out


def _knowledge(r: Report, style: _Style) -> list[str]:
    """Unexplained error lines, candidate causes, public reports seen before, what to collect next."""
    out: list[str] = []
    if r.verdict.value == "unrecognised":
        out += _wrap(view.unrecognised_lead(r), "  ") + [""]
    if r.unexplained:
        out.append(style("1", view.unexplained_heading(r)))
        for e in r.unexplained:
            out += [f"  {style('2', e.locator)}"] + _excerpt(e.excerpt, "    ")
        out.append("")
    if r.possible_causes:
        out.append(style("1", "Possible causes (candidates, not a diagnosis)"))
        for i, p in enumerate(r.possible_causes, 1):
            out.append(f"  {i}. {p.category.value} ({view.share(p.share)}): {p.why}")
            if p.confirm:
                out.append(f"     confirm: {p.confirm}")
        out.append("")
    if r.known_issues:
        out.append(style("1", "Seen before"))
        for k in r.known_issues:
            when = f" ({k.date[:4]})" if k.date else ""
            out += _wrap(f"{k.thread}{when}: {k.cause}", "  ")
            out += _wrap(f"Their fix: {k.fix}", "    ")
            out.append(f"    {k.source}")
        out.append("")
    if r.next_evidence:
        out.append(style("1", "What would decide"))
        out += [f"  $ {step}" for step in r.next_evidence]
        out.append("")
    return out


def render_text(report: Report, *, color: bool = False) -> str:
    clean = clean_report(report)
    style = _Style(color)
    s = view.sections(clean)
    counts = view.summary(clean)
    head = " · ".join([f"aml-doctor {clean.tool_version}"] + [f"{label} {value}" for label, value in view.header_fields(clean)])
    out = [
        head,
        f"Evidence: {clean.source}" + (f" (collected {clean.collected_at})" if clean.collected_at else ""),
        "",
        style("1", "Verdict: " + view.VERDICT_TEXT[clean.verdict]),
        "",
    ]
    if s.root:
        out += _root_cause(s.root.finding, style, s.root_heading) + [""]
    rest = sorted([*s.symptoms, *s.others], key=lambda r: r.rank)
    if rest:
        out.append(style("1", "Other findings" if s.root else "Findings"))
        for r in rest:
            f = r.finding
            note = "  (explained by the root cause)" if r.explained_by else ""
            out.append(f"  {r.rank}. {style.severity(f.severity)} {f.title}{style('2', note)}")
            out.append(f"     {f.stage.label} · {f.rule_mode} on {f.subject} · fix: {f.fix.summary}")
        out.append("")
    out += _knowledge(clean, style)
    out.append(" · ".join(view.tallies(counts)))
    out.append(redaction_line(clean.redaction))
    for group in view.not_checked_groups(clean):
        out.append(f"  not checked: {group.line}")
    for gap in clean.collection_gaps:
        if gap.what in view.GAPS_WORTH_A_LINE:
            out.append(f"  not collected: {gap.what}: {gap.error}")
    for e in (*clean.rule_errors, *clean.plugin_errors):
        last = e.error.strip().splitlines()[-1] if e.error.strip() else ""
        out.append(style("31", f"  error: {e.rule}{' (' + e.plugin + ')' if e.plugin else ''}: {last}"))
    return backstop_ansi("\n".join(out).rstrip("\n") + "\n")
