"""The Jinja2 environments for the Markdown and HTML templates.

Jinja2 is imported here, on first use, never when ``aml_doctor.reports`` is imported: the CLI's
cold start must not pay for it.
"""

from __future__ import annotations

import functools
from pathlib import Path

_TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def html_environment():
    import jinja2

    # Autoescape everything, fail on any undefined name. Nothing taken from a log is marked safe.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from aml_doctor.reports import mdhtml

    env.filters["markdown"] = mdhtml.md_to_html
    env.filters["markdown_inline"] = mdhtml.md_to_inline_html
    env.filters["link"] = mdhtml.link
    _add_helpers(env)
    return env


@functools.cache
def markdown_environment():
    import jinja2

    from aml_doctor.reports import mdtext

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Markdown has no autoescape: refuse to print any string that no escaping filter produced.
        finalize=mdtext.require_escaped,
    )
    env.filters.update(mdtext.FILTERS)
    _add_helpers(env)
    return env


def _add_helpers(env) -> None:
    from aml_doctor.reports import view

    env.tests["long_excerpt"] = view.is_long
    env.tests["command"] = view.is_command
    env.filters["line_count"] = view.line_count
    env.filters["percent"] = view.percent
