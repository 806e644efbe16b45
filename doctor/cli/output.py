"""Writing what a command produced: a report to stdout or ``--output-file``, and its exit code."""

from __future__ import annotations

import errno
import os
import stat
import sys

from aml_doctor.cli.errors import UsageError
from aml_doctor.common.exitcodes import ExitCode


class OutputError(Exception):
    """The report could not be written (ENOSPC, EPIPE, EIO): one line, exit code 6."""


def use_color(choice: str, stream) -> bool:
    """``--color``: always, never, or auto (a terminal, and NO_COLOR unset: https://no-color.org)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def emit(report, args, config) -> int:
    """Render, write to --output-file or stdout, and turn the findings into the exit code."""
    from aml_doctor import reports
    from aml_doctor.findings import Severity

    color = use_color(args.color, sys.stdout) and not args.output_file and args.format == "text"
    try:
        text = reports.render(report, args.format, color=color, max_chars=args.max_chars)
    except ValueError as exc:  # --max-chars with a format other than md, or too small to say anything
        raise UsageError(str(exc)) from None
    write_output(args.output_file, text)
    fail_on = args.fail_on or config.fail_on or "medium"
    if fail_on == "never":
        return ExitCode.OK
    threshold = Severity.parse(fail_on)
    if any(threshold <= r.finding.severity for r in report.findings):
        return ExitCode.FINDINGS
    if report.verdict.value == "unrecognised":
        return ExitCode.UNRECOGNISED
    return ExitCode.OK


def silence_stdout() -> None:
    """Point fd 1 at the null device after a failed write.

    The interpreter's own flush at exit would fail again and print a traceback ("Exception
    ignored ... BrokenPipeError"): https://docs.python.org/3/library/signal.html#note-on-sigpipe
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _not_regular(mode: int) -> str:
    for test, label in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return label
    return "" if stat.S_ISREG(mode) else "not a regular file"


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except OSError as exc:  # ENOSPC on a full disk, EPIPE when the reader went away
        silence_stdout()
        raise OutputError(f"cannot write the report to standard output: {exc.strerror or exc}") from None


def write_output(path: str | None, text: str) -> None:
    """``text`` to stdout (no path) or to the regular file ``path``, replaced whole or not at all."""
    if not path:
        _write_stdout(text)
        return
    # Only a regular file is replaced: never a device (as root, replacing /dev/null would destroy
    # it), a FIFO, or a symlink (the link itself would be replaced, its target left as it was).
    try:
        kind = _not_regular(os.lstat(path).st_mode)
    except FileNotFoundError:
        kind = ""
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if kind:
        raise UsageError(f"refusing to write {path}: it is {kind}; the report goes only to a regular file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
