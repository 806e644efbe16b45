"""Make report text safe to show: secrets masked, control characters made visible.

Renderers work on a *cleaned copy* of the report (the model itself is frozen and never changed),
so every escaping step sees text that is already redacted. Each renderer then runs its final
output through ``redact_text`` once more as a backstop. That second pass must not break the
output's syntax: a pattern such as ``AccountKey=[^;\\s"']+`` would happily eat a closing ``</pre>``
or an ANSI reset, so the backstops below redact only the stretches of text between markup.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any

from aml_doctor.model import Report
from aml_doctor.redact import redact_text

# C0 controls other than tab, newline and carriage return, DEL and C1 controls. ANSI colour codes
# in a log must not recolour a terminal, and XML 1.0 cannot hold most of these at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _clean(value: Any, text_fn) -> Any:
    if isinstance(value, str):
        return text_fn(value)
    if isinstance(value, tuple):
        return tuple(_clean(v, text_fn) for v in value)
    if isinstance(value, enum.Enum):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _clean(getattr(value, f.name), text_fn) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def clean_report(report: Report, *, keep_controls: bool = False) -> Report:
    """A copy of ``report`` with every string redacted; control characters made visible unless
    ``keep_controls`` (JSON escapes them itself and consumers want the exact text)."""
    if keep_controls:
        return _clean(report, redact_text)
    return _clean(report, lambda s: redact_text(visible_controls(s)))


# --- backstops over final output -------------------------------------------------------------

_TAG = re.compile(r"(<[^>]*>)")
_ATTR_VALUE = re.compile(r'="([^"]*)"')


def backstop_markup(markup: str) -> str:
    """Redact HTML or XML text nodes and attribute values, leaving the tags themselves whole.

    Escaped text never holds a literal ``<`` or ``>``, so splitting on tags is exact for output
    this package generated."""
    parts = _TAG.split(markup)
    for i, part in enumerate(parts):
        if i % 2:
            parts[i] = _ATTR_VALUE.sub(lambda m: '="' + redact_text(m.group(1)) + '"', part)
        else:
            parts[i] = redact_text(part)
    return "".join(parts)


_ANSI = re.compile(r"(\x1b\[[0-9;]*m)")


def backstop_ansi(text: str) -> str:
    """Redact the text between ANSI colour codes, so a reset code is never swallowed."""
    parts = _ANSI.split(text)
    return "".join(p if i % 2 else redact_text(p) for i, p in enumerate(parts))


# An escaped quote inside a JSON string: an odd run of backslashes before ``"``.
_JSON_ESCAPED_QUOTE = re.compile(r'(?<!\\)((?:\\\\)*)\\"')


def backstop_json(text: str) -> str:
    """Redact serialized JSON without letting a pattern swallow the backslash of a ``\\"``.

    Quotes inside strings are written as ``\\u0022`` first, so the only ``"`` left in the text
    delimit strings, and every redaction pattern stops at them."""
    return redact_text(_JSON_ESCAPED_QUOTE.sub(r"\1\\u0022", text))
