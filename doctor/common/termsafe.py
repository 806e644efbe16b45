"""Text from the input made safe for a terminal line.

File names, cluster object names and log text reach stderr in error and progress lines. A control
character in them (ESC starting an ANSI/OSC sequence, a carriage return, a C1 control such as
U+009B, the one-character CSI) would let the input rewrite the user's terminal: its title, its
clipboard (OSC 52), what earlier lines appear to say. Every C0 and C1 control, DEL, and the Unicode
line and paragraph separators are written as visible escapes instead (``\\x1b``, ``\\u009b``).
See https://invisible-island.net/xterm/ctlseqs/ctlseqs.html for what each does.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(m: re.Match) -> str:
    ch = m.group()
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control character as a visible escape; tabs become one space."""
    text = text.replace("\t", " ")
    if keep_newlines:
        return "\n".join(_CONTROLS.sub(_escaped, line) for line in text.split("\n"))
    return _CONTROLS.sub(_escaped, text)


class _SafeProgress:
    """A progress callable that escapes each message; every other attribute (``close``, say) is
    the wrapped display's own."""

    _escapes = True

    def __init__(self, progress) -> None:
        self._progress = progress

    def __call__(self, message: str) -> None:
        self._progress(escape(str(message)))

    def __getattr__(self, name: str):
        return getattr(self._progress, name)


def safe_progress(progress):
    """``progress`` with each message escaped before it reaches the terminal (None stays None)."""
    if progress is None or getattr(progress, "_escapes", False):
        return progress
    return _SafeProgress(progress)
