"""Every redaction pattern does work linear in its input: measured by counting steps, not by a clock.

A regular expression scan tries a match at each start position. The scan is linear when each try
costs a bounded number of steps whatever the input's length; the ReDoS of issue 13 (``tokentoken...``
taking 62 s for 100 KB) was a try whose cost grew with the rest of the input. So for each pattern
and each adversarial input of 1 MB and of 4 MB, :class:`Steps` runs the tries from the start
positions of one period of the input on a backtracking matcher with the semantics of Python's
``re`` (built from ``re``'s own parse tree) and counts its steps: the counts must be equal for 1×
and 4× (no growth with length) and small. A test on the pattern issue 13 measured shows the
counter sees quadratic work where it exists.
"""

from __future__ import annotations

import re
import sys
import threading

import pytest

from aml_doctor.evidence import redact
from aml_doctor.evidence.redaction_rules import RULES

try:
    from re import _constants as C
    from re import _parser as P
except ImportError:  # Python 3.10
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

MB = 1_000_000
_SINGLE = {C.LITERAL, C.NOT_LITERAL, C.IN, C.ANY}


class Steps:
    """A backtracking matcher over ``re``'s parse tree that counts what it does."""

    def __init__(self, pattern: re.Pattern, text: str):
        self.tree = P.parse(pattern.pattern, pattern.flags)
        self.icase = bool(pattern.flags & re.IGNORECASE)
        self.text = text
        self.n = len(text)
        self.steps = 0
        self.groups: dict[int, tuple[int, int]] = {}

    # ---- one character
    def _category(self, cat, ch: str) -> bool:
        name = str(cat)
        if "DIGIT" in name:
            ok = ch.isdigit()
        elif "SPACE" in name:
            ok = ch.isspace()
        elif "WORD" in name:
            ok = ch.isalnum() or ch == "_"
        elif "LINEBREAK" in name:
            ok = ch == "\n"
        else:
            raise NotImplementedError(name)
        return not ok if "NOT" in name else ok

    def _in(self, items, ch: str) -> bool:
        negate = False
        hit = False
        chars = {ch, ch.lower(), ch.upper()} if self.icase else {ch}
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                hit = hit or chr(av) in chars
            elif op is C.RANGE:
                hit = hit or any(av[0] <= ord(c) <= av[1] for c in chars)
            elif op is C.CATEGORY:
                hit = hit or self._category(av, ch)
            else:
                raise NotImplementedError(op)
        return hit != negate

    def _one(self, op, av, pos: int) -> bool:
        if pos >= self.n:
            return False
        ch = self.text[pos]
        if op is C.LITERAL:
            return ch == chr(av) or (self.icase and ch.lower() == chr(av).lower())
        if op is C.NOT_LITERAL:
            return not (ch == chr(av) or (self.icase and ch.lower() == chr(av).lower()))
        if op is C.ANY:
            return ch != "\n"
        return self._in(av, ch)

    # ---- sequences, with a continuation for what follows
    def match(self, items, i: int, pos: int, k) -> bool:
        while True:
            if i == len(items):
                return k(pos)
            op, av = items[i]
            self.steps += 1
            if op in _SINGLE:
                if not self._one(op, av, pos):
                    return False
                i, pos = i + 1, pos + 1
                continue
            if op is C.AT:
                name = str(av)
                t, n = self.text, self.n
                if "BOUNDARY" in name:
                    w = lambda j: 0 <= j < n and (t[j].isalnum() or t[j] == "_")  # noqa: E731
                    at = w(pos - 1) != w(pos)
                    ok = at if "NON" not in name else not at
                elif name.endswith("BEGINNING") or name.endswith("BEGINNING_STRING"):
                    ok = pos == 0
                elif "END" in name:
                    ok = pos == n
                else:
                    raise NotImplementedError(name)
                if not ok:
                    return False
                i += 1
                continue
            rest = lambda p, i=i: self.match(items, i + 1, p, k)  # noqa: E731
            if op is C.SUBPATTERN:
                group, sub = av[0], av[-1]
                if group is None:
                    return self.match(sub, 0, pos, rest)
                saved = self.groups.get(group)

                def close(p, start=pos, group=group, saved=saved):
                    self.groups[group] = (start, p)
                    if rest(p):
                        return True
                    if saved is None:
                        self.groups.pop(group, None)
                    else:
                        self.groups[group] = saved
                    return False

                return self.match(sub, 0, pos, close)
            if op is C.BRANCH:
                return any(self.match(alt, 0, pos, rest) for alt in av[1])
            if op in (C.MAX_REPEAT, C.MIN_REPEAT):
                return self._repeat(op is C.MAX_REPEAT, av, pos, rest)
            if op in (C.ASSERT, C.ASSERT_NOT):
                direction, sub = av
                if direction > 0:
                    ok = self.match(sub, 0, pos, lambda p: True)
                else:
                    width = sub.getwidth()[0] if hasattr(sub, "getwidth") else P.SubPattern(P.State(), sub).getwidth()[0]
                    ok = pos - width >= 0 and self.match(sub, 0, pos - width, lambda p: p == pos)
                if ok != (op is C.ASSERT):
                    return False
                i += 1
                continue
            if op is C.GROUPREF:
                start, end = self.groups[av]
                length = end - start
                self.steps += length
                if self.text[pos:pos + length] != self.text[start:end]:
                    return False
                i, pos = i + 1, pos + length
                continue
            raise NotImplementedError(op)

    def _repeat(self, greedy: bool, av, pos: int, rest) -> bool:
        low, high, sub = av
        sub = list(sub)
        if len(sub) == 1 and sub[0][0] in _SINGLE:
            op, a = sub[0]
            count = 0
            while count < high and self._one(op, a, pos + count):
                count += 1
                self.steps += 1
            if count < low:
                return False
            order = range(count, low - 1, -1) if greedy else range(low, count + 1)
            for j in order:
                self.steps += 1
                if rest(pos + j):
                    return True
            return False

        def again(count: int, p: int) -> bool:
            self.steps += 1
            if not greedy and count >= low and rest(p):
                return True
            if count < high and self.match(sub, 0, p, lambda q: q != p and again(count + 1, q)):
                return True
            return greedy and count >= low and rest(p)

        return again(0, pos)

    def attempt(self, pos: int) -> int:
        """Steps of one try at ``pos`` (what ``search`` does there before moving on)."""
        before = self.steps
        self.groups = {}
        self.match(list(self.tree), 0, pos, lambda p: True)
        return self.steps - before


def _run_deep(fn):
    """The matcher recurses once per repetition (values go up to 1024 units): a big stack."""
    result: dict = {}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    threading.stack_size(512 * 2**20)
    try:
        t = threading.Thread(target=lambda: result.setdefault("v", fn()))
        t.start()
        t.join()
    finally:
        threading.stack_size(0)
        sys.setrecursionlimit(old)
    return result["v"]


def _adversarial(rule) -> dict[str, str]:
    """Inputs that make a pattern try hard: its phrases repeated, with and without separators,
    and long runs of the characters its values are made of."""
    units = {f"{p}": p for p in rule.phrases[:4]}
    units.update({f"{p}=": p + "=" for p in rule.phrases[:3]})
    units.update({f"{p}:'": p + ":'" for p in rule.phrases[:2]})
    units.update({f"{p} ": p + " " for p in rule.phrases[:2]})
    units.update({"token": "token", "a": "a", "A1+": "A1+", "eyJ.": "eyJa.", "%2B": "%2B", "('": "('a", "-p ": "-p ", "://a:": "://a:"})
    return {name: unit for name, unit in units.items() if unit}


def _max_steps(pattern: re.Pattern, unit: str, size: int) -> int:
    text = (unit * (size // len(unit) + 1))[:size]
    steps = Steps(pattern, text)
    return max(steps.attempt(pos) for pos in range(len(unit) + 1))


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_pattern_costs_the_same_per_start_on_1mb_and_4mb(rule):
    def measure():
        rows = []
        for name, unit in _adversarial(rule).items():
            rows.append((name, _max_steps(rule.pattern, unit, MB), _max_steps(rule.pattern, unit, 4 * MB)))
        return rows

    rows = _run_deep(measure)
    for name, one, four in rows:
        assert one == four, f"{rule.name} on {name!r}: {one} steps per start at 1 MB, {four} at 4 MB"
        # A try reads at most a value (1024 units, each a few steps) or a PEM body: bounded.
        assert one < 60_000, f"{rule.name} on {name!r}: {one} steps per start"


def test_the_counter_sees_the_quadratic_pattern_issue_13_measured():
    # The key/value pattern before this change: an unbounded name tail, then a separator.
    old = re.compile(
        r"""(?ix)((?:token|primarykey|secondarykey|apikey|api_key|accountkey|account_key|access_key|
        accesskey|scoring_key|scoringkey|auth_key|authkey|sas)[a-z0-9_]*["']?\s*[:=]\s*["']?)
        (?!\[REDACTED\])((?=[^\s"',;}]*\d)[^\s"',;}]{6,}|[^\s"',;}]{16,})"""
    )
    small, large = _run_deep(lambda: (_max_steps(old, "token", 16_000), _max_steps(old, "token", 64_000)))
    assert large > 3.5 * small  # each try grows with the input: quadratic in all


def test_user_patterns_that_backtrack_exponentially_are_refused():
    for bad in (r"(a+)+$", r"(\w*)*x", r"(x|y+)*z", r"(a)\1"):
        with pytest.raises(redact.PatternError):
            redact.compile_user_patterns([bad])
    assert redact.compile_user_patterns([r"ACME-[0-9A-F]{32}", r"tenant-secret:(\S{8,64})"])


def test_a_megabyte_of_every_adversarial_input_redacts_without_hanging():
    """Not a timing assertion: the real engine over 1 MB of each input must simply finish (a
    quadratic pattern would take hours here), and the text keeps its length order."""
    for unit in ("token", "token=", "key:'", "password ", "secret ", "eyJa.", "A1+", "-p ", "://a:", "('a", "%2B", "Bearer ", "name=", "Q~"):
        text = (unit * (MB // len(unit) + 1))[:MB]
        out = redact.redact_text(text)
        assert len(out) <= 2 * len(text)
