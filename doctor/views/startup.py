"""What the scoring server's logs show about its start, parsed; the rules decide what it means.

The azureml inference server marks a failed start with fixed lines (``User's init function failed``,
``Failed to import user script``) and prints the exception that stopped it: as a traceback, as
``Error in entry script, <Type>: <message>``, or, in ``get_logs()`` excerpts and pastes, as the
exception line alone. :func:`read` returns that as a :class:`StartupLog`: the marker line and the
exception that stopped the start, with where in the user's code it was raised. It names no
category: AML004 decides the cause, from its signatures (``rules/aml004_pod_not_ready.signatures.yml``)
and from the exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.findings import EvidenceItem
from aml_doctor.views.pytraceback import INIT_COMPLETED, Traceback, chained_after, request_tracebacks, tracebacks
from aml_doctor.evidence.textdoc import Hit, TextDoc

# The server's marker lines (azureml-inference-server-http's log, and the v1 image's).
INIT_FAILED = re.compile(r"User's init function failed")
IMPORT_FAILED = re.compile(r"Failed to import user script")
# ACI's error JSON quotes the exception as "Type: message" or as its repr, "Type(\"message\")".
ERROR_IN_ENTRY_SCRIPT = re.compile(
    r"Error in entry script, (\w+(?:Error|Exception))(?:: (.+?)|\(\\?[\"'](.+?)\\?[\"']\))(?:, please run|$)"
)

# The phrases of those lines, for keeping them when a log is too large to hold whole.
SIGNALS = (
    "User's init function failed",
    "Failed to import user script",
    "No module named",
    "Error in entry script",
)

# An exception line on its own (no "Traceback" header above it), of the kinds that stop a scoring
# script from importing or loading: a log prefix such as "2022-01-01 10:00:00,123 | root | ERROR | " may precede it.
_STARTUP_EXCEPTIONS = (
    r"(?P<type>ModuleNotFoundError|ImportError|ModelNotFoundException|FileNotFoundError|OSError|"
    r"AttributeError: Can't get attribute|AttributeError(?=: module '[\w.]+' has no attribute)|KeyError|ValueError|TypeError|RuntimeError|NameError|UnpicklingError|"
    r"pickle\.UnpicklingError|joblib[\w.]*Error)"
)
BARE_EXCEPTION = re.compile(r"(?:^(?:.*?[|>\]] )?|(?<=\) ))" + _STARTUP_EXCEPTIONS + r"(?::\s*(?P<msg>.+))$", re.MULTILINE)
# Prose quotes the same line as Markdown inline code: "`FileNotFoundError: artifact.joblib` when it deploys".
INLINE_EXCEPTION = re.compile(r"`" + _STARTUP_EXCEPTIONS + r":\s*(?P<msg>[^`\n]+)`")
# Exceptions raised by the SDK or CLI on the user's machine name their own packages: those never
# come from the scoring container.
CLIENT_SIDE_TEXT = re.compile(r"marshmallow|azure[./]ai[./]ml|azure[./]cli|azcliextensions|knack|msrest|adal|azure\.mgmt|azure\.core|azureml\.core|azureml\._")


@dataclass(frozen=True)
class Raised:
    """The exception that stopped the server's start."""

    exc_type: str  # as printed: "ModuleNotFoundError", "sklearn.exceptions.NotFittedError"
    message: str
    body: str  # the traceback's text (up to 400 characters), or ""
    summary: str  # one line: "KeyError: 'MODEL_NAME' in init() at score.py line 17"
    where: str  # "/var/azureml-app/score.py line 17", or ""
    evidence: tuple[EvidenceItem, ...]
    confidence: float
    phase: str  # "init" or "import"


@dataclass(frozen=True)
class StartupLog:
    doc: TextDoc
    marker: Hit | None  # the last "User's init function failed" / "Failed to import user script"
    raised: Raised | None
    # The lines of the tracebacks raised on the user's machine (the SDK, a client, a script run by
    # hand), not by the scoring container: a known error text there is not the server's start.
    client_lines: frozenset[int] = frozenset()


def excerpt(doc: TextDoc, line_no: int, before: int = 0, after: int = 0) -> EvidenceItem:
    """The lines of ``doc`` around ``line_no``, located there."""
    return EvidenceItem(doc.locator(line_no), "\n".join(text for _, text in doc.window(line_no, before, after)))


def read(doc: TextDoc) -> StartupLog:
    """The marker line and the exception that stopped the start, from one log."""
    marker = doc.last(INIT_FAILED) or doc.last(IMPORT_FAILED)
    parsed = tracebacks(doc)
    client = frozenset(n for t in parsed if _client_side(t) for n in range(t.first_line, t.last_line + 1))
    return StartupLog(doc, marker, _raised(doc, marker, parsed), client)


def _raised(doc: TextDoc, marker: Hit | None, parsed: list[Traceback]) -> Raised | None:
    # A traceback raised while serving requests is a scoring error, and one from the SDK or a
    # client on the user's machine (wait_for_deployment raising WebserviceException) is only the messenger.
    at_request = {t.first_line for t in request_tracebacks(doc)}
    # A traceback that the server logged and then went on to complete init() did not stop the start
    # (the inference server logs its own app-insights errors while booting, for one).
    completed = [h.line_no for h in doc.search(INIT_COMPLETED)]
    tbs = [
        t for t in parsed
        if t.first_line not in at_request and not _client_side(t) and not any(c > t.last_line for c in completed)
    ]
    if tbs:
        # The traceback nearest after the server's marker line, else the last one in the log; of a
        # chain ("During handling of the above exception ..."), the one that propagated is its last.
        tb = next((t for t in tbs if marker and t.first_line >= marker.line_no), tbs[-1])
        return _from_traceback(doc, _propagated(tbs, tb), marker)
    entry = doc.last(ERROR_IN_ENTRY_SCRIPT)
    if entry:
        exc_type, message = entry.match.group(1), entry.match.group(2) or entry.match.group(3)
        return Raised(exc_type, message, "", f"{exc_type}: {message}", "", (excerpt(doc, entry.line_no),), 0.85, "init")
    in_traceback = {n for t in parsed for n in range(t.first_line, t.last_line + 1)}
    bare = next(
        (
            h for h in reversed(sorted([*doc.search(BARE_EXCEPTION), *doc.search(INLINE_EXCEPTION)], key=lambda h: h.line_no))
            if h.line_no not in in_traceback and not CLIENT_SIDE_TEXT.search(h.line) and not _handled_inside_another(doc, h.line_no)
        ),
        None,
    )
    if bare:
        # get_logs() excerpts and pastes often hold the exception line alone, without its traceback.
        exc_type, message = bare.match.group("type"), bare.match.group("msg").strip()
        return Raised(exc_type, message, "", f"{exc_type}: {message}"[:200], "", (excerpt(doc, bare.line_no),), 0.7, "init")
    return None


_CLIENT_EXCEPTIONS = ("WebserviceException", "PapermillExecutionError", "ComputeTargetException", "HTTPError", "ConnectionError")
# The server re-raises the user's exception wrapped in its own; the cause is the one it wraps.
_SERVER_WRAPPERS = ("UserScriptImportException", "UserScriptException")


_SERVER_PATHS = ("/var/azureml-server/", "azureml_inference_server_http", "/var/azureml-app/", "azureml_contrib_services", "/azureml/contrib/services/")


def _handled_inside_another(doc: TextDoc, line_no: int) -> bool:
    # "KeyError: 'http'" and then "During handling of the above exception ... MlflowException: No
    # plugin found" (mlflow#5588): the exception that propagated is the second one, and it is the
    # message to read. The server's own wrappers are the exception: the cause is the one they wrap.
    outer = chained_after(doc, line_no)
    return outer is not None and outer.split(":", 1)[0].rsplit(".", 1)[-1] not in _SERVER_WRAPPERS


def _client_side(tb: Traceback) -> bool:
    if tb.short_type in _CLIENT_EXCEPTIONS or any(
        "/azureml/core/webservice/" in f.file or "/requests/" in f.file for f in tb.frames
    ):
        return True
    # A traceback through library code only, with neither the user's script nor the inference
    # server in it, was raised by a client calling the endpoint, not by the scoring container.
    if not tb.frames:
        return False
    if tb.user_frame is None and not any(p in f.file for f in tb.frames for p in _SERVER_PATHS):
        return True
    # One that starts at the top level of a file outside the server and the app folder came from a
    # script run by hand (``python model_download.py`` on a compute instance, DeepSpeed-MII#184):
    # in the container the server's frames come first, and it imports the entry script.
    outermost = tb.frames[0]
    return outermost.func == "<module>" and not any(p in outermost.file for p in _SERVER_PATHS)


def _propagated(tbs: list[Traceback], tb: Traceback) -> Traceback:
    """The exception that stopped the start, from ``tb``'s chain: the chain's last traceback, the one
    that propagated; then back over what the server wraps around the user's own exception."""
    index = tbs.index(tb)
    while index + 1 < len(tbs) and tbs[index + 1].chained:
        index += 1
    while index > 0 and tbs[index].chained and (tbs[index].short_type in _SERVER_WRAPPERS or tbs[index].user_frame is None):
        index -= 1
    return tbs[index]


def _from_traceback(doc: TextDoc, tb: Traceback, marker) -> Raised:
    frame = tb.user_frame
    where = f"{frame.file} line {frame.line}" if frame else ""
    in_func = f" in {frame.func}()" if frame and frame.func in ("init", "run") else ""
    short_file = frame.file.rsplit("/", 1)[-1] if frame else ""
    summary = f"{tb.short_type}: {_first_sentence(tb.exc_message)}".rstrip(": ")
    if frame:
        summary += f"{in_func} at {short_file} line {frame.line}"
    phase = "import" if marker is not None and IMPORT_FAILED.search(marker.line) else "init"
    items = []
    if marker is not None and marker.line_no < tb.first_line:
        items.append(excerpt(doc, marker.line_no))
    items.append(EvidenceItem(doc.locator(tb.first_line), tb.excerpt()))
    confidence = 0.92 if frame else 0.8
    return Raised(tb.exc_type, tb.exc_message, tb.excerpt(400), summary, where, tuple(items), confidence, phase)


def _first_sentence(message: str, limit: int = 120) -> str:
    """Titles carry the exception's first sentence; the evidence keeps all of it."""
    cut = re.split(r"(?<=\.)\s", message, maxsplit=1)[0].rstrip(".")
    return cut if len(cut) <= limit else cut[: limit - 1] + "…"
