"""Run a plugin's code as a guest: in a worker thread, with a time budget, its stdout captured.

A thread that overruns its budget cannot be killed (CPython has no safe way to stop a thread), so
it is left behind as a daemon thread and the run goes on without waiting for it; the process still
exits cleanly because the interpreter never joins daemon threads. Every exception a guest raises,
``SystemExit`` and ``KeyboardInterrupt`` included, is returned as the guest's error. A real Ctrl-C
is delivered to the main thread, which is only ever waiting in ``join``, so it still stops the run
(https://docs.python.org/3/library/signal.html#signals-and-threads).

What a guest prints with ``print()`` or ``sys.stdout.write`` goes into a buffer of its own, never
into the report on stdout. Writes to file descriptor 1 itself (``os.write(1, ...)``, a C
extension's ``printf``) bypass ``sys.stdout``: while a guest runs, descriptor 1 points at a pipe
that a daemon thread drains (counted, the first ``KEPT_OUTPUT`` bytes kept), and anything another
thread writes to ``sys.stdout`` meanwhile is held and written once descriptor 1 is back. A guest
left behind keeps descriptor 1 on the pipe for the rest of the process, and ``sys.stdout`` then
writes to a duplicate of the original descriptor (``os.dup``, ``os.dup2``:
https://docs.python.org/3/library/os.html#os.dup2), so nothing a guest writes reaches the report.
"""

from __future__ import annotations

import io
import os
import select
import sys
import threading
import time
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
            with _fd1_lock:
                if _fd1.held is not None:  # descriptor 1 is the pipe: written when it is back
                    _fd1.held.append(s)
                    return len(s)
            return self.real.write(s)
        captured.write(str(s))
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in self.guests and _fd1.held is None:
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
    skipped: bool = False  # call_each: not run, its budget was spent before it started


class _Fd1Pipe:
    """The pipe descriptor 1 points at while guests run, drained by a daemon thread so that a
    guest writing a lot never blocks on a full pipe. Reads happen under ``lock``, so ``take``
    sees everything written before it was called."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.lock = threading.Lock()
        self.kept = bytearray()
        self.total = 0
        threading.Thread(target=self._drain, name="aml-doctor-fd1", daemon=True).start()

    def _drain(self) -> None:
        while True:
            select.select([self.r], [], [])
            self._read()

    def _read(self) -> None:
        with self.lock:
            while True:
                try:
                    data = os.read(self.r, 65536)
                except BlockingIOError:
                    return
                if not data:
                    return
                self.total += len(data)
                room = KEPT_OUTPUT - len(self.kept)
                if room > 0:
                    self.kept += data[:room]

    def take(self) -> tuple[int, str]:
        """Bytes written since the last ``take``: how many, and the first ``KEPT_OUTPUT``."""
        self._read()
        with self.lock:
            total, kept = self.total, bytes(self.kept)
            self.total, self.kept = 0, bytearray()
        return total, kept.decode("utf-8", "replace")


class _Fd1State:
    def __init__(self) -> None:
        self.pipe: _Fd1Pipe | None = None
        self.saved: int | None = None  # the original descriptor 1, while it is diverted
        self.users = 0  # guests running now (fleet runs may run rules in several threads)
        self.held: list[str] | None = None  # other threads' sys.stdout writes meanwhile
        self.stuck = False  # a guest was left behind: descriptor 1 stays on the pipe


_fd1_lock = threading.RLock()
_fd1 = _Fd1State()


def _diverted() -> bool:
    """Descriptor 1 is our pipe (something, a test harness, may have put another file there)."""
    try:
        return _fd1.pipe is not None and os.path.samestat(os.fstat(1), os.fstat(_fd1.pipe.w))
    except OSError:
        return False


def _divert_fd1(router: _RoutedStdout) -> bool:
    if os.name == "nt":  # select() waits on sockets only there: the drain thread cannot run
        return False
    with _fd1_lock:
        if _fd1.stuck and not _diverted():  # descriptor 1 was replaced since: start again
            _fd1.stuck, _fd1.saved = False, None
        if _fd1.stuck:
            _fd1.users += 1
            return True
        if _fd1.users == 0:
            try:
                router.flush()
                saved = os.dup(1)
            except (OSError, ValueError):
                return False  # no descriptor 1 at all: nothing to protect
            if _fd1.pipe is None:
                _fd1.pipe = _Fd1Pipe()
            os.dup2(_fd1.pipe.w, 1)
            _fd1.saved, _fd1.held = saved, []
        _fd1.users += 1
        return True


def _restore_fd1(router: _RoutedStdout, left_behind: bool) -> None:
    with _fd1_lock:
        _fd1.users -= 1
        if _fd1.stuck:
            return
        if left_behind:
            # Its later writes to descriptor 1 must not reach the report: keep descriptor 1 on
            # the pipe and give sys.stdout a stream of its own on the original descriptor.
            _fd1.stuck = True
            real = router.real
            if _writes_to_fd1(real):
                router.real = _stream_on(_fd1.saved, real)
        elif _fd1.users == 0:
            os.dup2(_fd1.saved, 1)
            os.close(_fd1.saved)
            _fd1.saved = None
        if _fd1.users == 0 or _fd1.stuck:
            held, _fd1.held = _fd1.held or [], None
            for s in held:
                router.real.write(s)


def _writes_to_fd1(stream: Any) -> bool:
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):
        return False


def _stream_on(fd: int, like: Any) -> io.TextIOWrapper:
    try:
        like.flush()
    except (OSError, ValueError):
        pass
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding=getattr(like, "encoding", None) or "utf-8",
        errors=getattr(like, "errors", None) or "strict",
        line_buffering=bool(getattr(like, "line_buffering", False)),
        write_through=True,
    )


def call(fn: Callable[[], Any], budget: float | None, name: str = "guest") -> Outcome:
    """``fn()`` in a daemon thread, waited for at most ``budget`` seconds (None: no limit)."""
    router = _router()
    outcome = Outcome()
    captured = _Captured()
    done = threading.Event()
    diverted = _divert_fd1(router)
    finished = False
    try:
        finished = _run(fn, budget, name, router, outcome, captured, done)
    finally:
        if diverted:
            _restore_fd1(router, left_behind=not finished)
    if diverted and _fd1.pipe is not None:
        total, kept = _fd1.pipe.take()
        if total:  # written to descriptor 1 while this guest ran
            captured.write(kept)
            captured.total += max(0, total - len(kept.encode()))
    if not finished:
        # Left behind: its later writes still go to its buffer (the router keeps it), never to
        # stdout, and whatever it returns later is dropped.
        return Outcome(timed_out=True, stdout=captured.text, stdout_chars=captured.total)
    return Outcome(outcome.value, outcome.error, False, captured.text, captured.total)


def _run(fn: Callable[[], Any], budget: float | None, name: str, router: _RoutedStdout,
         outcome: Outcome, captured: _Captured, done: threading.Event) -> bool:
    """Start the guest's thread and wait for it; True when it finished within ``budget``."""

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
    if finished:
        thread.join()
        router.guests.pop(thread.ident, None)
    return finished


class _Batch:
    """What the main thread and the worker of :func:`call_each` share, under ``lock``."""

    def __init__(self, n: int) -> None:
        self.lock = threading.Lock()
        self.outcomes: list[Outcome | None] = [None] * n
        self.index = 0  # the guest running now (or next)
        self.started = 0.0  # when it started (time.monotonic)
        self.budget: float | None = None  # its budget
        self.captured: _Captured | None = None  # the running guest's stdout
        self.abandoned = False  # the worker overran: it must not start another guest
        self.done = threading.Event()  # the worker finished its last guest


def call_each(fns: "list[Callable[[], Any]]", budget_of: Callable[[int], float | None]) -> list[Outcome]:
    """Each ``fns[i]()`` as a guest, one after another in one worker thread, so that a run of many
    short guests pays for one thread and one diversion of descriptor 1, not one per guest.

    ``budget_of(i)`` is asked as guest ``i`` starts; a budget of 0 or less skips the guest
    (``Outcome.skipped``). A guest that overruns its budget is left behind as :func:`call` leaves
    one, and a new worker takes the guests after it. Each guest's stdout is its own, as with
    :func:`call`."""
    router = _router()
    outcomes: list[Outcome] = []
    start = 0
    left_behind = False
    diverted = _divert_fd1(router)
    try:
        while start < len(fns):
            batch = _Batch(len(fns))
            batch.index = start
            threading.Thread(target=_work, args=(fns, start, batch, budget_of, router, diverted),
                             name="aml-doctor-rules", daemon=True).start()
            while not batch.done.wait(_next_check(batch, time.monotonic())):
                with batch.lock:
                    overran = batch.budget is not None and time.monotonic() - batch.started > batch.budget
                    if overran and batch.outcomes[batch.index] is None:
                        batch.abandoned = True
                        out = batch.captured or _Captured()
                        batch.outcomes[batch.index] = Outcome(timed_out=True, stdout=out.text, stdout_chars=out.total)
                        break
            with batch.lock:
                stop = batch.index + 1 if batch.abandoned else len(fns)
                left_behind = left_behind or batch.abandoned
                outcomes.extend(o or Outcome(skipped=True) for o in batch.outcomes[start:stop])
            start = stop
    finally:
        if diverted:
            _restore_fd1(router, left_behind=left_behind)
    return outcomes


def _next_check(batch: _Batch, now: float) -> float | None:
    """How long the main thread may sleep: until the running guest's budget ends."""
    with batch.lock:
        if batch.budget is None:
            return 0.05 if batch.started == 0.0 else None  # not started yet, or no limit
        return max(0.0, batch.started + batch.budget - now) + 0.001


def _work(fns, start: int, batch: _Batch, budget_of, router: _RoutedStdout, diverted: bool) -> None:
    ident = threading.get_ident()
    for i in range(start, len(fns)):
        with batch.lock:
            if batch.abandoned:
                return
        budget = budget_of(i)
        captured = _Captured()
        with batch.lock:
            batch.index, batch.started, batch.budget, batch.captured = i, time.monotonic(), budget, captured
            if budget is not None and budget <= 0:
                batch.outcomes[i] = Outcome(skipped=True)
                continue
        router.guests[ident] = captured
        outcome = Outcome()
        try:
            outcome.value = fns[i]()
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are a guest's error too
            outcome.error = exc
        if diverted and _fd1.pipe is not None:
            total, kept = _fd1.pipe.take()
            if total:  # written to descriptor 1 while this guest ran
                captured.write(kept)
                captured.total += max(0, total - len(kept.encode()))
        with batch.lock:
            if batch.abandoned:
                return  # overran: the main thread has recorded it and moved on
            outcome.stdout, outcome.stdout_chars = captured.text, captured.total
            batch.outcomes[i] = outcome
    router.guests.pop(ident, None)
    batch.done.set()
