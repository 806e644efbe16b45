"""The HTML report: one self-contained page, readable on screen and on paper."""

from __future__ import annotations

from aml_doctor.model import Report

from . import view
from .sanitize import backstop_markup, clean_report
from .templating import html_environment


def render_html(report: Report) -> str:
    clean = clean_report(report)
    html = html_environment().get_template("report.html.j2").render(
        r=clean,
        s=view.sections(clean),
        verdict=view.VERDICT_TEXT[clean.verdict],
        counts=view.summary(clean),
    )
    return backstop_markup(html)
