"""Pasted text as it really arrives, unwrapped into the lines the program printed.

Users paste log text that went through JSON (``"...\\nTraceback...\\n"`` with literal escapes), a
terminal (ANSI colours), a web page (``&quot;``), or Windows (CRLF). Rules read lines, so the text
is unwrapped first. Nothing here decides what the text means.
"""

from __future__ import annotations

import html
import re

from aml_doctor.evidence.textdoc import TextDoc, TextKind, Segment

# Text kinds a person or an SDK wrote out; container logs and build logs are the program's own bytes.
UNWRAPPED_KINDS = (TextKind.PASTED, TextKind.OPERATION, TextKind.AZUREML_LOGS, TextKind.AZUREML_INIT_LOGS)
MAX_UNWRAP_CHARS = 16 * 1024 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_ESCAPED_NEWLINE = re.compile(r"(?<!\\)(?:\\r)?\\n")
_DOUBLE_ESCAPED_NEWLINE = re.compile(r"\\\\(?:r\\\\)?n")
_ENTITY = re.compile(r"&(?:quot|#39|#34|lt|gt|amp|apos|#x27);")


def unwrap(text: str) -> str:
    """The text with ANSI codes removed, CRLF made LF, and, where the paste is an escaped string
    (more literal ``\\n`` than real line breaks), its escapes decoded."""
    if len(text) > MAX_UNWRAP_CHARS:
        return text
    # Each pattern needs a character most text lacks; ``in`` rules it out at memchr speed.
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    if "\\n" in text:  # a backslash and an n: escaped line breaks, once or twice
        real = text.count("\n")
        if len(_DOUBLE_ESCAPED_NEWLINE.findall(text)) > max(2, real):
            text = text.replace("\\\\", "\\")
        escaped = len(_ESCAPED_NEWLINE.findall(text))
        if escaped >= 2 and escaped > real:
            text = _ESCAPED_NEWLINE.sub("\n", text).replace('\\"', '"').replace("\\t", "\t").replace("\\'", "'")
    if "&" in text and len(_ENTITY.findall(text)) >= 3:
        text = html.unescape(text)
    return text


def unwrap_doc(doc: TextDoc) -> TextDoc:
    """``doc`` itself, its one segment unwrapped when it is a kind a person pasted and it was kept whole."""
    if doc.kind not in UNWRAPPED_KINDS or len(doc.segments) != 1 or doc.segments[0].first_line != 1:
        return doc
    text = doc.segments[0].text
    new = unwrap(text)
    if new == text:
        return doc
    doc.segments = [Segment(1, new)]
    doc.total_lines = doc.segments[0].line_count()
    doc._line_index = None
    return doc
