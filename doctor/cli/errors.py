"""The command line's own errors, and the one line each becomes on stderr."""

from __future__ import annotations

import sys


class UsageError(Exception):
    """Bad input from the user: one line, exit code 2."""


def print_error(message: str, prog: str = "aml-doctor") -> None:
    """``aml-doctor: error: <the first line of message>`` on stderr.

    The message may quote a file name, cluster data or an SDK's answer: secrets are redacted and
    what could drive the terminal is escaped, as in every report.
    """
    from aml_doctor.common.termsafe import escape
    from aml_doctor.common.text import first_line
    from aml_doctor.evidence.redact import redact_text

    print(f"aml-doctor: error: {escape(redact_text(first_line(message)))}", file=sys.stderr)
