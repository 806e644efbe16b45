"""One-line forms of texts and exceptions, for error lines, gaps and report notes."""

from __future__ import annotations

from typing import Any


def first_line(text: Any, default: str = "") -> str:
    """The first line of ``text`` that is not blank, stripped; ``default`` when there is none."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return default


def error_line(exc: BaseException, default: str = "") -> str:
    """``Type: first line of the message``; ``Type: default`` or just ``Type`` when the message is blank."""
    line = first_line(exc, default)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
