"""Why the scoring server did not start, read from its logs.

The azureml inference server prints a fixed set of lines when it cannot start (catalogue F5/F6):
``User's init function failed``, ``Failed to import user script``, missing ``init``/``run``, a bad
``run()`` signature, the Flask 2 and jinja2 clashes of old servers, and gunicorn's exit code 3. This
module turns the logs of one service into :class:`StartupFailure` records; the rules decide what
to report. The category follows ``categories.md``: a package missing altogether is an import
error, a package present in the wrong version is a dependency conflict, missing model files are
``model_not_found``, anything else raised by ``init()`` is the user's init error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.findings import Category, EvidenceItem
from aml_doctor.views.pytraceback import INIT_COMPLETED, Traceback, request_tracebacks, tracebacks
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextDoc

# Exact server strings (catalogue F6 and S17).
INIT_FAILED = re.compile(r"User's init function failed")
IMPORT_FAILED = re.compile(r"Failed to import user script")
NO_INIT = re.compile(r"does not have a init\(\) function defined")
NO_RUN = re.compile(r"does not have a run\(\) function defined")
BAD_RUN_SIGNATURE = re.compile(
    r"run\(\) cannot accept positional-only arguments, \*args, or \*\*kwargs|run\(\) needs to accept an argument for input data"
)
FLASK_REGISTER = re.compile(r"register\(\) takes 3 positional arguments but 4 were given")
JINJA_MARKUP = re.compile(r"cannot import (?:name |the )?'?Markup'? from '?jinja2")
NO_SCORE_SCRIPT = re.compile(r"No score script found|No module named 'main'|not an accessible directory in the container")
BOOT_FAILED = re.compile(r"Worker failed to boot|Exit code 3 is not normal|gunicorn/finish 3 ")
ERROR_IN_ENTRY_SCRIPT = re.compile(r"Error in entry script, (\w+(?:Error|Exception)): (.+?)(?:, please run|$)")
# v2 managed and Kubernetes online endpoints name the same failures with error codes (catalogue F6).
V2_CODES = {
    "UserScriptInitFailed": (Category.ENTRY_SCRIPT_INIT_ERROR, "init() failed (v2 UserScriptInitFailed)"),
    "UserScriptImportError": (Category.ENTRY_SCRIPT_IMPORT_ERROR, "the scoring script cannot be imported (v2 UserScriptImportError)"),
    "UserScriptFunctionNotFound": (Category.ENTRY_SCRIPT_IMPORT_ERROR, "init() or run() is missing (v2 UserScriptFunctionNotFound)"),
}
_V2_CODE = re.compile(r"\b(" + "|".join(V2_CODES) + r")\b")

# The phrases of those lines, for keeping them when a log is too large to hold whole.
SIGNALS = (
    "User's init function failed",
    "Failed to import user script",
    "function defined",
    "run() cannot accept",
    "run() needs to accept",
    "register() takes 3 positional arguments",
    "cannot import name 'Markup'",
    "No score script found",
    "No module named",
    "not an accessible directory",
    "Worker failed to boot",
    "Exit code 3 is not normal",
    "gunicorn/finish 3",
    "Error in entry script",
    "UserScript",
)

# An exception line on its own (no "Traceback" header above it), of the kinds that stop a scoring
# script from importing or loading: a log prefix such as "2022-01-01 10:00:00,123 | root | ERROR | " may precede it.
BARE_EXCEPTION = re.compile(
    r"(?:^(?:.*?[|>\]] )?|(?<=\) ))(?P<type>ModuleNotFoundError|ImportError|ModelNotFoundException|FileNotFoundError|OSError|"
    r"AttributeError: Can't get attribute|KeyError|ValueError|TypeError|RuntimeError|NameError|UnpicklingError|"
    r"pickle\.UnpicklingError|joblib[\w.]*Error)(?::\s*(?P<msg>.+))$",
    re.MULTILINE,
)
# Exceptions raised by the SDK or CLI on the user's machine name their own packages: those never
# come from the scoring container.
CLIENT_SIDE_TEXT = re.compile(r"marshmallow|azure[./]ai[./]ml|azure[./]cli|azcliextensions|knack|msrest|adal|azure\.mgmt|azure\.core|azureml\.core|azureml\._")
# Standard-library modules that newer Pythons removed: distutils in 3.12 (PEP 632), the "dead
# batteries" in 3.13 (PEP 594), imp and asynchat/asyncore in 3.12.
REMOVED_STDLIB = frozenset({
    "distutils", "imp", "asynchat", "asyncore", "smtpd", "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt",
    "imghdr", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau",
    "telnetlib", "uu", "xdrlib", "lib2to3",
})
_MODEL_ERRORS = ("ModelNotFoundException",)
_MODEL_TEXT = re.compile(r"Model not found in cache or in root|can contain only 1 file or folder|azureml-models")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# Errors that say the installed version is wrong, not that the package is absent.
_VERSION_CLASH = re.compile(
    r"cannot import name '(\w+)' from '([\w.]+)'|numpy\.core\.multiarray failed to import|"
    r"size changed, may indicate binary incompatibility|module compiled against API version|"
    r"Can't get attribute '\w+' on <module '([\w.]+)'"
)


@dataclass(frozen=True)
class StartupFailure:
    category: Category
    summary: str  # one line: "KeyError: 'MODEL_NAME' in init() at score.py line 17"
    where: str  # "/var/azureml-app/score.py line 17", or ""
    evidence: tuple[EvidenceItem, ...]
    confidence: float
    package: str = ""  # the module/package to install or re-pin, when known
    phase: str = "init"  # "init" or "import"
    alternatives: tuple[Category, ...] = ()


def classify(doc: TextDoc) -> StartupFailure | None:
    """The failure this log shows, the most specific explanation first; None if it shows none."""
    for pattern, category, summary, package in (
        (FLASK_REGISTER, Category.DEPENDENCY_VERSION_CONFLICT, "Flask 2 installed under an older azureml inference server", "flask"),
        (JINJA_MARKUP, Category.DEPENDENCY_VERSION_CONFLICT, "jinja2 3.1 removed Markup, which the old inference server imports", "jinja2"),
    ):
        hit = doc.last(pattern)
        if hit:
            return StartupFailure(category, summary, "", (excerpt(doc, hit.line_no, 3, 1),), 0.95, package, "import")
    for pattern, summary in (
        (NO_INIT, "score.py does not define init()"),
        (NO_RUN, "score.py does not define run()"),
        (BAD_RUN_SIGNATURE, "run() has a signature the server cannot call"),
    ):
        hit = doc.last(pattern)
        if hit:
            # A missing function is a broken entry script (categories.md: "entry script not found").
            category = Category.ENTRY_SCRIPT_INIT_ERROR if pattern is BAD_RUN_SIGNATURE else Category.ENTRY_SCRIPT_IMPORT_ERROR
            return StartupFailure(category, summary, "", (excerpt(doc, hit.line_no, 1, 1),), 0.95, "", "import")

    marker = doc.last(INIT_FAILED) or doc.last(IMPORT_FAILED)
    # A traceback raised while serving requests is a scoring error, and one from the SDK or a
    # client on the user's machine (wait_for_deployment raising WebserviceException) is only the messenger.
    at_request = {t.first_line for t in request_tracebacks(doc)}
    # A traceback that the server logged and then went on to complete init() did not stop the start
    # (the inference server logs its own app-insights errors while booting, for one).
    completed = [h.line_no for h in doc.search(INIT_COMPLETED)]
    tbs = [
        t for t in tracebacks(doc)
        if t.first_line not in at_request and not _client_side(t) and not any(c > t.last_line for c in completed)
    ]
    if tbs:
        # The traceback nearest after the server's marker line, else the last one in the log.
        tb = next((t for t in tbs if marker and t.first_line >= marker.line_no), tbs[-1])
        return _from_traceback(doc, _root_of_chain(tbs, tb), marker)
    entry = doc.last(ERROR_IN_ENTRY_SCRIPT)
    if entry:
        exc_type, message = entry.match.group(1), entry.match.group(2)
        category, package = _category_for(exc_type, message, "")
        return StartupFailure(category, f"{exc_type}: {message}", "", (excerpt(doc, entry.line_no),), 0.85, package)
    in_traceback = {n for t in tracebacks(doc) for n in range(t.first_line, t.last_line + 1)}
    bare = next(
        (h for h in reversed(list(doc.search(BARE_EXCEPTION))) if h.line_no not in in_traceback and not CLIENT_SIDE_TEXT.search(h.line)),
        None,
    )
    if bare:
        # get_logs() excerpts and pastes often hold the exception line alone, without its traceback.
        exc_type, message = bare.match.group("type"), bare.match.group("msg").strip()
        category, package = _category_for(exc_type, message, "")
        return StartupFailure(category, f"{exc_type}: {message}"[:200], "", (excerpt(doc, bare.line_no),), 0.7, package)
    v2 = doc.last(_V2_CODE)
    if v2:
        category, summary = V2_CODES[v2.match.group(1)]
        return StartupFailure(category, summary, "", (excerpt(doc, v2.line_no),), 0.75)
    missing_main = doc.last(NO_SCORE_SCRIPT)
    if missing_main:
        return StartupFailure(
            Category.ENTRY_SCRIPT_IMPORT_ERROR,
            "the scoring script was not found in /var/azureml-app (code not downloaded)",
            "",
            (excerpt(doc, missing_main.line_no, 1, 1),),
            0.7,
            "",
            "import",
        )
    if marker:
        return StartupFailure(Category.ENTRY_SCRIPT_INIT_ERROR, marker.line.strip(), "", (excerpt(doc, marker.line_no, 0, 3),), 0.6)
    boot = doc.last(BOOT_FAILED)
    if boot:
        # The server exits with 3 on every init or import failure; without the traceback the two
        # cannot be told apart.
        return StartupFailure(
            Category.ENTRY_SCRIPT_INIT_ERROR,
            "the inference server exited with code 3 (boot failure) without printing a traceback",
            "",
            (excerpt(doc, boot.line_no, 2, 1),),
            0.45,
            alternatives=(Category.ENTRY_SCRIPT_IMPORT_ERROR, Category.CRASH_LOOP_OTHER),
        )
    return None


_CLIENT_EXCEPTIONS = ("WebserviceException", "PapermillExecutionError", "ComputeTargetException", "HTTPError", "ConnectionError")
# The server re-raises the user's exception wrapped in its own; the cause is the one it wraps.
_SERVER_WRAPPERS = ("UserScriptImportException", "UserScriptException")


_SERVER_PATHS = ("/var/azureml-server/", "azureml_inference_server_http", "/var/azureml-app/", "azureml_contrib_services", "/azureml/contrib/services/")


def _client_side(tb: Traceback) -> bool:
    if tb.short_type in _CLIENT_EXCEPTIONS or any(
        "/azureml/core/webservice/" in f.file or "/requests/" in f.file for f in tb.frames
    ):
        return True
    # A traceback through library code only, with neither the user's script nor the inference
    # server in it, was raised by a client calling the endpoint, not by the scoring container.
    return bool(tb.frames) and tb.user_frame is None and not any(p in f.file for f in tb.frames for p in _SERVER_PATHS)


def _root_of_chain(tbs: list[Traceback], tb: Traceback) -> Traceback:
    index = tbs.index(tb)
    while index > 0 and tbs[index].chained and (tbs[index].short_type in _SERVER_WRAPPERS or tbs[index].user_frame is None):
        index -= 1
    return tbs[index]


def _from_traceback(doc: TextDoc, tb: Traceback, marker) -> StartupFailure:
    frame = tb.user_frame
    where = f"{frame.file} line {frame.line}" if frame else ""
    in_func = f" in {frame.func}()" if frame and frame.func in ("init", "run") else ""
    short_file = frame.file.rsplit("/", 1)[-1] if frame else ""
    summary = f"{tb.short_type}: {_first_sentence(tb.exc_message)}".rstrip(": ")
    if frame:
        summary += f"{in_func} at {short_file} line {frame.line}"
    category, package = _category_for(tb.exc_type, tb.exc_message, tb.excerpt(400))
    phase = "import" if marker is not None and IMPORT_FAILED.search(marker.line) else "init"
    if category is Category.ENTRY_SCRIPT_IMPORT_ERROR:
        phase = "import"
    items = []
    if marker is not None and marker.line_no < tb.first_line:
        items.append(excerpt(doc, marker.line_no))
    items.append(EvidenceItem(doc.locator(tb.first_line), tb.excerpt()))
    confidence = 0.92 if frame else 0.8
    return StartupFailure(category, summary, where, tuple(items), confidence, package, phase)


def _first_sentence(message: str, limit: int = 120) -> str:
    """Titles carry the exception's first sentence; the evidence keeps all of it."""
    cut = re.split(r"(?<=\.)\s", message, maxsplit=1)[0].rstrip(".")
    return cut if len(cut) <= limit else cut[: limit - 1] + "…"


def _category_for(exc_type: str, message: str, body: str) -> tuple[Category, str]:
    short = exc_type.rsplit(".", 1)[-1]
    text = f"{message}\n{body}"
    if short in _MODEL_ERRORS or (short in ("FileNotFoundError", "OSError") and _MODEL_TEXT.search(message)):
        return Category.MODEL_NOT_FOUND, ""
    clash = _VERSION_CLASH.search(text)
    if clash:
        return Category.DEPENDENCY_VERSION_CONFLICT, clash.group(2) or clash.group(3) or ""
    if short in ("ModuleNotFoundError", "ImportError"):
        missing = _MISSING_MODULE.search(message)
        module = missing.group(1) if missing else ""
        if module.split(".")[0] in REMOVED_STDLIB:
            # The module was part of Python and a newer Python removed it: the environment's Python
            # is too new for the package that imports it (PEP 594, PEP 632).
            return Category.DEPENDENCY_VERSION_CONFLICT, module.split(".")[0]
        # A private submodule of an installed package (sklearn.ensemble._forest) missing while a model
        # is unpickled means the model was saved by another version of that library.
        if module and "." in module and any(part.startswith("_") for part in module.split(".")[1:]):
            return Category.DEPENDENCY_VERSION_CONFLICT, module.split(".")[0]
        return Category.ENTRY_SCRIPT_IMPORT_ERROR, module.split(".")[0]
    return Category.ENTRY_SCRIPT_INIT_ERROR, ""
