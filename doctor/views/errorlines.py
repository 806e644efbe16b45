"""Lines that look like an error, and lines that show health, in any text evidence.

This parses; it never decides a cause. The engine uses it so that evidence with an error that no
rule explains is reported as *unrecognised*, never as "no problem found", and so that "no problem
found" is said only where the evidence shows health.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.evidence.store import Evidence
from aml_doctor.evidence.textdoc import TextDoc

MAX_LINES = 8
MAX_LINE_CHARS = 400

# Words and shapes that real failure output carries: Python exceptions (bare or in a traceback),
# AzureML and ARM error codes, HTTP failure statuses, Kubernetes warning reasons, build failures.
# A bare "Exception in <where>" heads a traceback: Python's threading ("Exception in thread
# Thread-1:") and gunicorn's arbiter before a worker that failed to boot exits with code 3.
_EXCEPTION_IN = r"\bException in (?:thread|\w+ process)\b"
ERROR_LINE = re.compile(
    r"Traceback \(most recent call last\)|" + _EXCEPTION_IN +
    r"|\b[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b(?::|[^\S\n]*$| \()"
    r"|\bError\b[^\S\n]*[:(]|(?-i:\bERROR\b|\bFATAL\b|\bCRITICAL\b)"
    r"|\bfail(?:ed|ure|s)?\b|\bunable to\b|\bcannot\b|\bcan't\b|\bcould not\b|\bnot found\b|\bdenied\b|\bforbidden\b"
    r"|\bunauthori[sz]ed\b|\btimed? ?out\b|\bunhealthy\b|\bunschedulable\b|\brefused\b|\bcrash\w*"
    r"|\bBack-?off\b|\bOOMKilled\b|\bEvicted\b|\bkilled\b|\bexit(?:ed)? (?:with )?(?:code|status) [1-9]"
    r"|\"code\"[^\S\n]*:[^\S\n]*\"\w+\"|'code'[^\S\n]*:[^\S\n]*'\w+'|^[^\S\n]*\(\w+\)[^\S\n]|\bCode:[^\S\n]*\w+"
    r"|\b(?:HTTP(?:/\d(?:\.\d)?)?|status(?: code)?:?|statusCode\"?:?)[^\S\n]*(?:4\d\d|5\d\d)\b"
    r"|\b(?:400|401|403|404|408|409|413|429|500|502|503|504) (?:Bad|Unauthori|Forbidden|Not Found|Request Timeout|Conflict|"
    r"Payload|Too Many|Internal|Bad Gateway|Service Unavailable|Gateway Time)",
    re.IGNORECASE | re.MULTILINE,
)
# The part of those shapes that says something failed outright, not a word a healthy log may also
# print (a timeout setting, "not found" of an optional file): a healthy-looking service with one of
# these unexplained is still not an all-clear.
STRONG_ERROR = re.compile(
    r"Traceback \(most recent call last\)|" + _EXCEPTION_IN + r"|\b[A-Z]\w*(?:Error|Exception)\b:|(?-i:\bERROR\b|\bFATAL\b|\bCRITICAL\b)"
    r"|\bfailed\b|\bcrash\w*|\bBack-?off\b|\bOOMKilled\b|\bEvicted\b"
    r"|\"code\"\s*:\s*\"\w+\"|'code'\s*:\s*'\w+'|^\s*\(\w+\)\s|\b(?:HTTP(?:/\d(?:\.\d)?)?|status(?: code)?:?)\s*5\d\d\b",
    re.IGNORECASE | re.MULTILINE,
)
# Lines that carry an error word but say nothing failed: log levels of a healthy server, docs
# boilerplate, counters of zero.
_NOT_AN_ERROR = re.compile(
    r"\b0 (?:errors?|failures?|failed)\b|\bno errors?\b|\bwithout errors?\b|\berror[_-]?(?:log|file|handler)\b"
    r"|\bfailover\b|\bignore[sd]? (?:the )?errors?\b|^\s*#|\bon_?error\b|raise_for_status|error_response"
    r"|\bINFO\b.*\b200\b"
    # The inference server's own start-up banner and logger names (a healthy server prints them).
    r"|gunicorn\.error\b|Worker Timeout \(seconds\)|timeout is set to|Scoring timeout (?:is|setting)"
    r"|Found extra keys in the config file|\bis normal\b|Timeout\(sec\): \d"
    # pip 20.2's notice about its new resolver, printed as "ERROR:" in builds that succeed.
    r"|After October 2020 you may experience errors",
    re.IGNORECASE,
)
# The scoring server started and answers, the service or pod is healthy, a build succeeded.
_HEALTHY = re.compile(
    r"Users?'s init has completed successfully|Scoring server started|Listening at: http"
    r"|Starting HTTP server|\bState\b[\"':\s]*Healthy\b|current service state: Healthy|service state: Healthy"
    r"|\bprovisioning_?state\b[\"':\s]*Succeeded|Successfully built [0-9a-f]{6,}|Successfully tagged"
    r"|\b\d+/\d+\s+Running\b|\"(?:ready|Ready)\"\s*:\s*true|\bReady\s+True\b|200 OK|\" 200 \d"
    r"|Succeeded\b.*\bdeployment\b|deployment\b.*\bSucceeded\b|\bHealthy\b",
    re.IGNORECASE,
)


# A log line's own prefix before its message: a timestamp, then "logger | LEVEL | " fields
# ("2020-11-06 20:04:11,861 | root | ERROR | User's init function failed"), as the inference server's
# logger prints them. The message after it is what another copy of the line repeats unprefixed.
_TIMESTAMP = r"\d{4}-\d\d-\d\d[T ][\d:.,]+(?:[+-]\d\d:?\d\d|Z)?"
_LOG_PREFIX = re.compile(
    rf"^(?:{_TIMESTAMP}\s*(?:[|-]\s*)?)?(?:[\w.\[\]-]+\s*\|\s*){{0,3}}(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s*\|\s*"
    rf"|^{_TIMESTAMP}\s+"
)


def message_of(line: str) -> str:
    """A log line without its timestamp and logger/level prefix."""
    return _LOG_PREFIX.sub("", line.strip(), count=1)


@dataclass(frozen=True)
class TextLine:
    locator: str
    line: str

    @property
    def strong(self) -> bool:
        return bool(STRONG_ERROR.search(self.line))


def error_lines(ev: Evidence, limit: int = MAX_LINES, width: int = MAX_LINE_CHARS) -> list[TextLine]:
    """Error-looking lines in every text document, in document order, at most ``limit``, each cut
    to ``width`` characters."""
    return ev.derived(("error_lines", limit, width), lambda: _scan(ev.docs(), ERROR_LINE, limit, skip=_NOT_AN_ERROR, width=width))


def healthy_lines(ev: Evidence, limit: int = MAX_LINES) -> list[TextLine]:
    return ev.derived(("healthy_lines", limit), lambda: _scan(ev.docs(), _HEALTHY, limit))


def _scan(
    docs: list[TextDoc], pattern: re.Pattern, limit: int, skip: re.Pattern | None = None, width: int = MAX_LINE_CHARS
) -> list[TextLine]:
    out: list[TextLine] = []
    seen: set[str] = set()
    for doc in docs:
        for hit in doc.search(pattern):
            line = hit.line.strip()
            if not line or line in seen or (skip is not None and skip.search(line)):
                continue
            seen.add(line)
            out.append(TextLine(hit.locator, line[:width]))
            if len(out) >= limit:
                return out
    return out
