"""A call in a thread of its own, waited for until a deadline.

Some SDK calls send requests without a timeout, or retry them for minutes (azureml-core does
both), so a hung endpoint would hang the run. The call runs in a daemon thread instead; a thread
still running at the deadline is left behind and the caller goes on without its answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None  # what the call raised
    started: bool = True  # False: the deadline had passed before the call could start
    timed_out: bool = False  # True: still running at the deadline, left behind


def call_before(fn: Callable[[], Any], deadline: float, name: str) -> Outcome:
    """``fn()`` in a daemon thread named ``name``, waited for until ``deadline`` (``time.monotonic()``)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Outcome(started=False)
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which reports it as one line
            outcome.error = exc

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(remaining)
    if worker.is_alive():
        return Outcome(timed_out=True)
    return outcome
