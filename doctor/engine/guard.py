"""Run a plugin's code as a guest: in a worker thread, with a time budget, its stdout captured.

A thread that overruns its budget cannot be killed (CPython has no safe way to stop a thread), so
it is left behind as a daemon thread and the run goes on without waiting for it; the process still
exits cleanly because the interpreter never joins daemon threads. Every exception a guest raises,
``SystemExit`` and ``KeyboardInterrupt`` included, is returned as the guest's error. A real Ctrl-C
is delivered to the main thread, which is only ever waiting in ``join``, so it still stops the run
(https://docs.python.org/3/library/signal.html#signals-and-threads).

What a guest prints with ``print()`` or ``sys.stdout.write`` goes into a buffer of its own, never
into the report on stdout. Writes to file descriptor 1 itself (``os.write(1, ...)``) bypass
Python's ``sys.stdout`` and are not caught: see docs/limits.md.
"""

from __future__ import annotations

import io
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

# How much of a guest's stdout is kept to report; the rest is only counted.
KEPT_OUTPUT = 4096


class _Captured:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def write(self, s: str) -> None:
        self.total += len(s)
        if self.kept < KEPT_OUTPUT:
            piece = s[: KEPT_OUTPUT - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _RoutedStdout(io.TextIOBase):
    """``sys.stdout`` for the whole process while guests run: a guest thread's writes go to its
    own buffer, every other thread's to the real stream."""

    def __init__(self, real: Any) -> None:
        self.real = real
        # One registry for every router: a guest left behind by one run keeps writing to its
        # buffer even after something (a test harness) replaced sys.stdout and a new router came.
        self.guests = _GUESTS

    def write(self, s: str) -> int:
        captured = self.guests.get(threading.get_ident())
        if captured is None:
            return self.real.write(s)
        captured.write(str(s))
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in self.guests:
            self.real.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


_router_lock = threading.Lock()
_GUESTS: dict[int, _Captured] = {}  # thread ident -> its captured output


def _router() -> _RoutedStdout:
    """Install the router on ``sys.stdout`` (once; again if something replaced it since)."""
    with _router_lock:
        current = sys.stdout
        if isinstance(current, _RoutedStdout):
            return current
        router = _RoutedStdout(current)
        sys.stdout = router
        return router


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    stdout: str = ""
    stdout_chars: int = 0


def call(fn: Callable[[], Any], budget: float | None, name: str = "guest") -> Outcome:
    """``fn()`` in a daemon thread, waited for at most ``budget`` seconds (None: no limit)."""
    router = _router()
    outcome = Outcome()
    captured = _Captured()
    done = threading.Event()

    def target() -> None:
        router.guests[threading.get_ident()] = captured
        try:
            outcome.value = fn()
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are a guest's error too
            outcome.error = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"aml-doctor-{name}", daemon=True)
    thread.start()
    # Event.wait, like join, is interrupted by a real Ctrl-C in the main thread.
    finished = done.wait(budget if budget is None or budget > 0 else 0)
    if not finished:
        # Left behind: its later writes still go to its buffer (the router keeps it), never to
        # stdout, and whatever it returns later is dropped.
        return Outcome(timed_out=True, stdout=captured.text, stdout_chars=captured.total)
    thread.join()
    router.guests.pop(thread.ident, None)
    return Outcome(outcome.value, outcome.error, False, captured.text, captured.total)
