"""guard.call_each: many guests in one worker thread, each still with its own budget and stdout."""

import threading
import time

from aml_doctor.engine import guard


def test_a_guest_that_overruns_is_left_behind_and_the_guests_after_it_still_run():
    release = threading.Event()
    ran = []

    def quick(n):
        def fn():
            ran.append(n)
            return n
        return fn

    def hangs():
        release.wait(60)
        return "late"

    started = time.monotonic()
    outcomes = guard.call_each([quick(0), hangs, quick(2), quick(3)], lambda i: 0.5)
    release.set()
    assert time.monotonic() - started < 30  # the hung guest was not waited for
    assert [o.value for o in outcomes] == [0, None, 2, 3]
    assert [o.timed_out for o in outcomes] == [False, True, False, False]
    assert ran == [0, 2, 3]


def test_each_guest_keeps_its_own_errors_and_stdout():
    def prints():
        print("from the second guest")
        return []

    def exits():
        raise SystemExit(3)

    outcomes = guard.call_each([lambda: 1, prints, exits, lambda: 4], lambda i: 10)
    assert outcomes[0].value == 1 and outcomes[0].stdout_chars == 0
    assert outcomes[1].stdout == "from the second guest\n"
    assert isinstance(outcomes[2].error, SystemExit) and outcomes[2].stdout_chars == 0
    assert outcomes[3].value == 4


def test_a_guest_whose_budget_is_spent_before_it_starts_is_skipped_not_run():
    ran = []
    outcomes = guard.call_each([lambda: ran.append(0), lambda: ran.append(1)], lambda i: 5 if i == 0 else 0)
    assert ran == [0]
    assert [o.skipped for o in outcomes] == [False, True]


def test_a_hundred_guests_share_one_worker_thread():
    names = set()

    def record():
        names.add(threading.current_thread().ident)

    guard.call_each([record] * 100, lambda i: 10)
    assert len(names) == 1
