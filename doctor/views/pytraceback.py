"""Find Python tracebacks in logs and point at the user's own line.

Logs wrap tracebacks in prefixes (``2020-03-12 13:34:44,500 | root | ERROR | ``, runit timestamps):
the prefix in front of ``Traceback (most recent call last):`` is stripped from the lines that follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.evidence.textdoc import TextDoc

_START = re.compile(r"Traceback \(most recent call last\):")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault|[A-Z]\w*))(?::\s?(?P<msg>.*))?$")
_PLATFORM_PATHS = ("/site-packages/", "/dist-packages/", "/var/azureml-server/", "/lib/python", "<frozen ")
_CHAINED = ("The above exception was the direct cause of the following exception", "During handling of the above exception")
# AzureML's exceptions print their text on indented lines after the type: "\tMessage: ...".
_AZUREML_MESSAGE = re.compile(r"^\s+Message:\s*(.+)$")
MAX_TRACEBACK_LINES = 400
# The server logs this once init() returned; a traceback after it was raised while serving requests.
INIT_COMPLETED = re.compile(r"Users's init has completed successfully")
INIT_STARTED = re.compile(r"Invoking user's init function")


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    func: str
    code: str

    @property
    def is_user_code(self) -> bool:
        return not any(p in self.file for p in _PLATFORM_PATHS)


@dataclass(frozen=True)
class Traceback:
    doc: TextDoc
    first_line: int
    last_line: int
    frames: tuple[Frame, ...]
    exc_type: str
    exc_message: str
    # True when this traceback was raised while handling (or from) the one before it.
    chained: bool = False

    @property
    def user_frame(self) -> Frame | None:
        """The deepest frame in the user's own code (score.py and friends)."""
        for frame in reversed(self.frames):
            if frame.is_user_code:
                return frame
        return None

    @property
    def short_type(self) -> str:
        return self.exc_type.rsplit(".", 1)[-1]

    @property
    def locator(self) -> str:
        return self.doc.locator(self.last_line)

    def excerpt(self, max_lines: int = 25) -> str:
        lines = [text for _, text in self.doc.window(self.first_line, 0, self.last_line - self.first_line)]
        if len(lines) > max_lines:
            lines = lines[:3] + [f"... {len(lines) - max_lines + 3} lines ..."] + lines[-(max_lines - 4):]
        return "\n".join(lines)


def chained_after(doc: TextDoc, line_no: int, within: int = 12) -> str | None:
    """When Python's chaining sentence ("During handling of the above exception, another exception
    occurred:") follows the exception line at ``line_no``, the exception line it leads to ("" when
    the paste stops before it); None when no chaining follows. The exception at ``line_no`` was
    then only the context of the one that propagated."""
    following = [text.strip() for _, text in doc.window(line_no, 0, within)[1:] if text.strip()]
    if not following or not any(following[0].startswith(marker) for marker in _CHAINED):
        return None
    return next((line for line in following[1:] if _EXC.match(line) and not line.startswith("Traceback")), "")


def tracebacks(doc: TextDoc) -> list[Traceback]:
    out: list[Traceback] = []
    for hit in doc.search(_START, 0):
        chained = bool(out) and any(
            marker in text for _, text in doc.window(out[-1].last_line + 1, 0, max(0, hit.line_no - out[-1].last_line - 1)) for marker in _CHAINED
        )
        prefix = hit.line[: hit.match.start()]
        frames: list[Frame] = []
        pending: tuple[str, int, str] | None = None
        exc_type = exc_msg = ""
        last = hit.line_no
        for n, raw in doc.window(hit.line_no + 1, 0, MAX_TRACEBACK_LINES):
            line = raw[len(prefix):] if prefix and raw.startswith(prefix) else raw
            m = _FRAME.match(line)
            if m:
                if pending:
                    frames.append(Frame(*pending, ""))
                pending = (m.group("file"), int(m.group("line")), m.group("func"))
                last = n
                continue
            if line.startswith((" ", "\t")) or not line.strip() or line.lstrip().startswith(("^", "~")):
                if pending and line.strip() and not set(line.strip()) <= set("^~ "):
                    frames.append(Frame(*pending, line.strip()))
                    pending = None
                last = n
                continue
            e = _EXC.match(line.strip())
            if e:
                exc_type, exc_msg, last = e.group("type"), (e.group("msg") or "").strip(), n
                short = exc_type.rsplit(".", 1)[-1]
                if exc_msg.rstrip(":") in ("", short):
                    for m_no, follow in doc.window(n + 1, 0, 3):
                        m = _AZUREML_MESSAGE.match(follow)
                        if m:
                            exc_msg, last = m.group(1).strip(), m_no
                            break
            break
        if pending:
            frames.append(Frame(*pending, ""))
        if exc_type:
            out.append(Traceback(doc, hit.line_no, last, tuple(frames), exc_type, exc_msg, chained))
    return out


def _is_run_frame(tb: Traceback) -> bool:
    return any(f.is_user_code and f.func == "run" for f in tb.frames)


# Frames a worker passes through while it boots: gunicorn spawning it, and the server building its
# app. A traceback through them is a start that failed, even after init() completed (the v1 server
# registers its blueprint after init(), and a Werkzeug too new for it fails there).
_BOOT_FRAMES = ("gunicorn/arbiter.py", "/var/azureml-server/wsgi.py", "/var/azureml-server/create_app.py")


def _is_boot(tb: Traceback) -> bool:
    return any(f.file.endswith(_BOOT_FRAMES) for f in tb.frames)


# The inference servers' functions that serve a scoring request (v1 /var/azureml-server/synchronous/
# routes.py, the azureml-inference-server-http package): a traceback through one is a request's.
SCORING_ROUTE = ("run_scoring", "invoke_run", "handle_score", "invoke_user_with_timer", "score_realtime")


def through_scoring_route(tb: Traceback) -> bool:
    return any(f.func in SCORING_ROUTE and not f.is_user_code for f in tb.frames)


def request_tracebacks(doc: TextDoc) -> list[Traceback]:
    """Tracebacks raised while serving requests: one passing through a user ``run()`` frame or the
    server's scoring route, or any traceback logged after the server said init() completed (and
    before it started init() again) that is not a worker's boot.
    The server chains its own exception (``RunFunctionException``, ``UserScriptException``) after the
    user's, so both halves of a chained run() failure are returned."""
    completed = [h.line_no for h in doc.search(INIT_COMPLETED)]
    started = [h.line_no for h in doc.search(INIT_STARTED)]

    def after_init(line_no: int) -> bool:
        done = max((n for n in completed if n < line_no), default=None)
        restarted = max((n for n in started if n < line_no), default=None)
        return done is not None and (restarted is None or restarted < done)

    return [
        tb for tb in tracebacks(doc)
        if _is_run_frame(tb) or through_scoring_route(tb) or (after_init(tb.first_line) and not _is_boot(tb))
    ]
