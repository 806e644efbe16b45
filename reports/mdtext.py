"""Escaping for Markdown that is pasted into GitHub, Azure DevOps and Jira.

Text from a log must show as text: no emphasis, links, headings, HTML, @mentions or code spans
of its own. Every filter returns :class:`MdText`; the Markdown template's ``finalize`` refuses a
plain string, so a field printed without escaping fails loudly instead of injecting markup.
"""

from __future__ import annotations

import html
import re

from aml_doctor.evidence.redact import redact_text

from aml_doctor.reports import view


class MdText(str):
    """A string already made safe for the spot in the Markdown where a filter put it."""


def require_escaped(value):
    if isinstance(value, MdText) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"unescaped value in the Markdown template: {value!r}")


# Characters that start inline markup (and GitHub's @mentions); HTML specials become entities.
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]|~#!@]")
_HTML_SPECIAL = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# At the start of a line these make a block: list items, setext underlines, ordered lists.
_LINE_START = re.compile(r"^([-+=]|\d+(?=[.)]))")


def _escape_inline(text: str) -> str:
    text = re.sub(r"[<>&]", lambda m: _HTML_SPECIAL[m.group()], text)
    return _INLINE_SPECIAL.sub(lambda m: "\\" + m.group(), text)


def _escape_line(line: str) -> str:
    # Leading blanks would make an indented code block; a leading marker would make a list.
    line = _escape_inline(line.strip())
    return _LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1).isdigit() else "\\" + m.group(1), line)


def md_escape(text: str) -> MdText:
    """One line of inline text: whitespace (newlines too) folds to single spaces."""
    return MdText(_escape_line(" ".join(str(text).split())))


def md_block(text: str) -> MdText:
    """Prose that may span lines: each line escaped, line breaks kept, blank lines as paragraphs."""
    lines = str(text).strip("\n").split("\n")
    return MdText("  \n".join(_escape_line(line) if line.strip() else "" for line in lines).replace("  \n  \n", "\n\n"))


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)


def md_code(text: str) -> MdText:
    """An inline code span that holds any text: its fence is longer than any backtick run in it."""
    text = " ".join(str(text).split())
    fence = "`" * (_longest_run(text, "`") + 1)
    # Spaces inside the fence (dropped when rendered) keep a backtick at either end apart from
    # the fence, and keep the redaction backstop from swallowing the closing fence
    # (``AccountKey=[^;\s"']+`` runs on to the next space).
    if text.startswith("`") or text.endswith("`") or redact_text(text + fence) != redact_text(text) + fence:
        return MdText(f"{fence} {text} {fence}")
    return MdText(f"{fence}{text}{fence}")


def md_fence(text: str, info: str = "text") -> MdText:
    """A fenced code block that a backtick run inside ``text`` cannot close early."""
    body = str(text).strip("\n")
    fence = "`" * max(3, _longest_run(body, "`") + 1)
    return MdText(f"{fence}{info}\n{body}\n{fence}")


def md_html(text: str) -> MdText:
    """Text inside a raw HTML block (a ``<summary>``), where Markdown is not parsed."""
    return MdText(html.escape(" ".join(str(text).split()), quote=True))


_SAFE_URL = re.compile(r"https://[^\s<>`\"'\\]+")


def md_link(url: str) -> MdText:
    """An https link as an autolink; anything else as plain text."""
    url = str(url).strip()
    if _SAFE_URL.fullmatch(url):
        return MdText(f"<{url}>")
    return md_escape(url)


def md_percent(confidence: float) -> MdText:
    return MdText(view.percent(confidence))


FILTERS = {
    "md_escape": md_escape,
    "md_block": md_block,
    "md_code": md_code,
    "md_fence": md_fence,
    "md_html": md_html,
    "md_link": md_link,
    "md_percent": md_percent,
}
