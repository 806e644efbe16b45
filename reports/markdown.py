"""The Markdown report, optionally capped to a tracker's comment limit.

With ``max_chars`` the report is shortened until it fits, cutting in this order: the evidence of
the lowest-ranked findings, one finding after another, then the root cause's evidence, then the
other findings shrink to their title and fix, and last only a minimal summary is left. A binary
search finds the fewest cuts that fit, so a report with hundreds of findings renders a few times,
not hundreds. The report says what was cut. The result never exceeds ``max_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aml_doctor.findings import Report
from aml_doctor.evidence.redact import redact_text

from aml_doctor.reports import view
from aml_doctor.reports.sanitize import clean_report, redaction_line
from aml_doctor.reports.templating import markdown_environment

_CUT_MARK = "\n\n… [cut to fit the size limit]\n"


@dataclass
class _Cuts:
    evidence_cut: list[int] = field(default_factory=list)  # ranks, in the order they were cut
    compact: bool = False
    minimal: bool = False
    limit: int | None = None

    def evidence_dropped(self, rank: int) -> bool:
        return self.compact or rank in self.evidence_cut

    @property
    def notice(self) -> str:
        if self.limit is None:
            return ""
        parts = []
        if self.compact:
            parts.append("all evidence left out; findings after the root cause show only their title and fix")
        elif self.evidence_cut:
            parts.append(f"evidence left out for findings {_ranges(self.evidence_cut)}")
        if self.minimal:
            parts.append("not-checked rules and errors only counted, notes left out")
        if not parts:
            return ""
        return f"to fit {self.limit:,} characters: " + "; ".join(parts) + ". The full report has everything."


def _ranges(ranks: list[int]) -> str:
    """[2, 3, 4, 7] -> "2-4, 7"."""
    groups: list[list[int]] = []
    for rank in sorted(ranks):
        if groups and rank == groups[-1][-1] + 1:
            groups[-1].append(rank)
        else:
            groups.append([rank])
    return ", ".join(str(g[0]) if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)


def render_markdown(report: Report, *, max_chars: int | None = None) -> str:
    clean = clean_report(report)
    if max_chars is None:
        return redact_text(_render(clean, _Cuts()))
    if max_chars < len(_CUT_MARK) + 1:
        raise ValueError(f"max_chars must be at least {len(_CUT_MARK) + 1}")
    # Each level cuts more than the one before: the evidence of the k lowest-ranked findings
    # (the root cause, rank 1, last), then the compact and the minimal report.
    with_evidence = [r.rank for r in sorted(clean.findings, key=lambda r: -r.rank) if r.finding.evidence]
    levels = len(with_evidence) + 3

    def cuts_at(level: int) -> _Cuts:
        return _Cuts(
            evidence_cut=with_evidence[:level],
            compact=level > len(with_evidence),
            minimal=level > len(with_evidence) + 1,
            limit=max_chars,
        )

    def fitting(level: int) -> str | None:
        text = _render(clean, cuts_at(level) if level else _Cuts())
        if len(text) > max_chars:
            return None
        # Redaction can lengthen text (``sig=abc`` -> ``sig=[REDACTED]``): measure after it.
        text = redact_text(text)
        return text if len(text) <= max_chars else None

    best = fitting(0)
    if best is not None:
        return best
    best = fitting(levels - 1)
    if best is None:
        return _hard_cut(redact_text(_render(clean, cuts_at(levels - 1))), max_chars)
    # Binary search for the fewest cuts that fit; ``hi`` always names a level known to fit.
    lo, hi = 0, levels - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        text = fitting(mid)
        if text is None:
            lo = mid
        else:
            hi, best = mid, text
    return best


def _hard_cut(text: str, max_chars: int) -> str:
    """Cut the minimal report at a line end. It holds no fences or HTML blocks, so no structure breaks."""
    head = text[: max_chars - len(_CUT_MARK)]
    head = head[: head.rfind("\n")] if "\n" in head else head
    return head + _CUT_MARK


def _render(clean: Report, cuts: _Cuts) -> str:
    """The Markdown before the redaction backstop, which the callers apply. That backstop cannot
    break the Markdown: every value sits before a space, a newline or a padded code span."""
    template = markdown_environment().get_template("report.md.j2")
    text = template.render(
        r=clean,
        s=view.sections(clean),
        verdict=view.VERDICT_TEXT[clean.verdict],
        counts=view.summary(clean),
        tallies=view.tallies(view.summary(clean)),
        header=view.header_fields(clean),
        title=view.title(clean),
        not_checked_groups=view.not_checked_groups(clean),
        cut=cuts,
        redaction=redaction_line(clean.redaction),
        unrecognised_lead=view.unrecognised_lead(clean),
        unexplained_heading=view.unexplained_heading(clean),
        share=view.share,
    )
    return text
