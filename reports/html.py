"""The HTML report: one self-contained page, readable on screen and on paper."""

from __future__ import annotations

from aml_doctor.findings import Report

from aml_doctor.reports import view
from aml_doctor.reports.charts import stage_strip, timeline
from aml_doctor.reports.sanitize import backstop_markup, clean_report, redaction_line
from aml_doctor.reports.templating import html_environment


def render_html(report: Report) -> str:
    clean = clean_report(report)
    html = html_environment().get_template("report.html.j2").render(
        r=clean,
        s=view.sections(clean),
        verdict=view.VERDICT_TEXT[clean.verdict],
        counts=view.summary(clean),
        tallies=view.tallies(view.summary(clean)),
        header=view.header_fields(clean),
        title=view.title(clean),
        not_checked_groups=view.not_checked_groups(clean),
        strip=stage_strip(clean),
        tl=timeline(clean.events),
        redaction=redaction_line(clean.redaction),
        unrecognised_lead=view.unrecognised_lead(clean),
        unexplained_heading=view.unexplained_heading(clean),
        share=view.share,
    )
    return backstop_markup(html)
