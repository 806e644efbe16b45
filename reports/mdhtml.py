"""Finding text, written in Markdown by the rules, as HTML for the HTML report.

Rules write ``score.py`` in backticks and the odd ``**bold**``; the HTML report would otherwise
show them literally. markdown-it-py renders them with raw HTML switched off, so anything
HTML-like in the text (a log line quoted in a title, say) comes out escaped, exactly as Jinja2's
autoescape would write it. Only https links become links; any other URL scheme stays text. The
result is markup that markdown-it itself escaped, so it is the one thing the template prints
without escaping again.
"""

from __future__ import annotations

import functools
import re

_HTTPS = re.compile(r"https://[^\s<>`\"'\\]+")


@functools.cache
def _parser():
    from markdown_it import MarkdownIt

    # commonmark with raw HTML off (the default "commonmark" preset turns it on), no images (the
    # page loads nothing), and no headings or rules: finding text is prose, not a document.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "heading", "lheading", "hr", "html_block", "html_inline"])
    md.validateLink = lambda url: bool(_HTTPS.fullmatch(url.strip()))

    def link_open(self, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def md_to_html(text: str):
    """Block Markdown (paragraphs, lists, code spans) as safe HTML."""
    from markupsafe import Markup

    return Markup(_parser().render(str(text)))


def md_to_inline_html(text: str):
    """One line of Markdown (a fix step, a summary) as safe inline HTML."""
    from markupsafe import Markup

    return Markup(_parser().renderInline(str(text)))


def link(url: str):
    """An https URL as a link; anything else as escaped text."""
    from markupsafe import Markup, escape

    url = str(url).strip()
    if _HTTPS.fullmatch(url):
        return Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url)
    return escape(url)
