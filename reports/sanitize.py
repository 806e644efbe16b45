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
from typing import Any, Iterator

from aml_doctor.evidence import redact
from aml_doctor.findings import RedactionSummary, Report
from aml_doctor.evidence.redact import redact_text

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
    if isinstance(value, (enum.Enum, RedactionSummary)):  # the summary holds counts and rule names only
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _clean(getattr(value, f.name), text_fn) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _strings(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, (type, RedactionSummary)):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))


def clean_report(report: Report, *, keep_controls: bool = False) -> Report:
    """A copy of ``report`` with every string redacted; control characters made visible unless
    ``keep_controls`` (JSON escapes them itself and consumers want the exact text).

    With ``--anonymize`` the identifiers are replaced too: every string is read once to learn the
    names (so a name learnt from the last evidence item is replaced in the title as well), then
    each is rewritten. The copy's ``redaction`` summary adds what this pass replaced."""
    text_fn = redact_text if keep_controls else (lambda s: redact_text(visible_controls(s)))
    if redact.anonymizing():
        from aml_doctor.evidence.redaction_anonymize import anonymize_text, learn_names, learn_text

        learn_names("resource", [report.service, report.namespace, report.workspace])
        for s in _strings(report):
            learn_text(s)
        plain_fn = text_fn
        text_fn = lambda s: anonymize_text(plain_fn(s))  # noqa: E731
    with redact.counting() as tally:
        clean = _clean(report, text_fn)
    if not tally.total and not tally.anonymized:
        return clean
    before = redact.Tally()
    before.add_recorded({"kinds": dict(report.redaction.kinds), "rules": dict(report.redaction.rules),
                         "anonymized": dict(report.redaction.anonymized)})
    before.merge(tally)
    return dataclasses.replace(clean, redaction=before.summary())


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
            parts[i] = _ATTR_VALUE.sub(lambda m: '="' + _markup_text(m.group(1)) + '"', part)
        else:
            parts[i] = _markup_text(part)
    return "".join(parts)


_RAW_TOKEN = re.compile(r"<((?:redacted|id|ip|account|resource):[0-9a-f]{4})>")


def _markup_text(text: str) -> str:
    """Redacted, with the tokens this pass wrote escaped: a raw ``<redacted:3f2a>`` would be a tag."""
    out = redact_text(text)
    return out if out == text else _RAW_TOKEN.sub(r"&lt;\1&gt;", out)


_ANSI = re.compile(r"(\x1b\[[0-9;]*m)")


def backstop_ansi(text: str) -> str:
    """Redact the text between ANSI colour codes, so a reset code is never swallowed."""
    parts = _ANSI.split(text)
    return "".join(p if i % 2 else redact_text(p) for i, p in enumerate(parts))


def backstop_document(document: Any) -> Any:
    """Redact every string of JSON-ready data (dicts, lists, scalars) before it is serialized: the
    backstop of the JSON formats, on the values themselves rather than on their escaped form in
    the output, so text the cleaning pass already redacted is recognised as such
    (``redact_text`` remembers what it wrote) instead of being scanned again. Keys are redacted
    too; numbers, booleans and null are left as they are."""
    if isinstance(document, str):
        return redact_text(document)
    if isinstance(document, dict):
        return {redact_text(k) if isinstance(k, str) else k: backstop_document(v) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [backstop_document(v) for v in document]
    return document


def escape_c1(serialized: str) -> str:
    """C1 controls (U+0080-U+009F; U+009B alone is a CSI) and U+2028/U+2029 are legal raw in a
    JSON string but act on a terminal that shows the file: written as \\u escapes, same value."""
    if serialized.isascii():  # O(1) in CPython (the string's own flag): nothing to escape
        return serialized
    return _JSON_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", serialized)


# One JSON string as json.dumps writes it: quotes inside are escaped, so this ends at its own quote.
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def backstop_json(text: str) -> str:
    """Redact serialized JSON string by string: a pattern never reaches past a string's closing
    quote, never swallows the backslash of a ``\\"``, and never turns a number into a token, so
    the output still parses."""
    redacted = _JSON_STRING.sub(lambda m: '"' + redact_text(m.group(0)[1:-1]) + '"', text)
    # C1 controls (U+0080-U+009F; U+009B alone is a CSI) and U+2028/U+2029 are legal raw in a
    # JSON string but act on a terminal that shows the file: written as \u escapes, same value.
    return _JSON_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", redacted)


_JSON_C1 = re.compile("[\x80-\x9f\u2028\u2029]")


# --- what was redacted ------------------------------------------------------------------------


def redaction_document(summary: RedactionSummary) -> dict:
    """The summary as JSON-ready data (the JSON report's ``redaction``; SARIF's run property).
    Lists of {kind, count} rather than {kind: count}: a kind named ``password`` must not read as a
    password field to a redaction pass over the output."""
    return {
        "total": summary.total,
        "kinds": [{"kind": k, "count": n} for k, n in summary.kinds],
        "rules": [{"rule": k, "count": n} for k, n in summary.rules],
        "anonymized": [{"kind": k, "count": n} for k, n in summary.anonymized],
    }


def redaction_line(summary: RedactionSummary) -> str:
    """One line: "Redacted 3 secrets (account-key 1, sas 2) by rules jwt 1, named-value 2"."""
    if not summary.total:
        line = "Redacted: no secrets recognised"
    else:
        kinds = ", ".join(f"{k} {n}" for k, n in summary.kinds)
        rules = ", ".join(f"{k} {n}" for k, n in summary.rules)
        line = f"Redacted {summary.total} secret{'s' if summary.total != 1 else ''} ({kinds}) by rules {rules}"
    if summary.anonymized:
        line += "; anonymized " + ", ".join(f"{k} {n}" for k, n in summary.anonymized)
    return line
