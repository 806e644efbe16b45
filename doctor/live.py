"""``aml-doctor SERVICE``: collect live evidence and diagnose it in one step."""

from __future__ import annotations

import sys

from .exitcodes import ExitCode


def main_live(argv: list[str]) -> int:
    print(
        f"aml-doctor: error: live diagnosis of {argv[0]!r} is not available in this build; "
        "collect the evidence into a bundle and run `aml-doctor analyze BUNDLE`",
        file=sys.stderr,
    )
    return ExitCode.USAGE_ERROR
