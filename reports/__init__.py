"""Render a :class:`aml_doctor.findings.Report` as text, Markdown, HTML, JSON, SARIF or JUnit XML.

    from aml_doctor.reports import FORMATS, render
    print(render(report, "md", max_chars=65_000))

Each format lives in its own module, imported on first use: importing this package costs nothing
(no Jinja2, no JSON Schema), which keeps the CLI's cold start short. Every renderer works on a
redacted copy of the report and redacts its final output once more.
"""

from __future__ import annotations

import importlib

from aml_doctor.findings import Report

# format name -> (module, function)
_RENDERERS = {
    "text": ("text", "render_text"),
    "md": ("markdown", "render_markdown"),
    "html": ("html", "render_html"),
    "json": ("json_report", "render_json"),
    "sarif": ("sarif", "render_sarif"),
    "junit": ("junit", "render_junit"),
}

FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def render(report: Report, fmt: str, *, color: bool = False, max_chars: int | None = None) -> str:
    """The report in format ``fmt``.

    ``color`` adds ANSI colours to the ``text`` format; the caller decides (NO_COLOR, a TTY).
    ``max_chars`` caps the ``md`` format for trackers with a comment limit.
    Raises ValueError for an unknown format or an option the format does not take.
    """
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    if max_chars is not None and fmt != "md":
        raise ValueError(f"a size limit applies only to the md format, not {fmt!r}")
    module_name, function_name = _RENDERERS[fmt]
    renderer = getattr(importlib.import_module(f"{__name__}.{module_name}"), function_name)
    if fmt == "text":
        return renderer(report, color=color)
    if fmt == "md":
        return renderer(report, max_chars=max_chars)
    return renderer(report)
