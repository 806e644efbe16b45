"""What a regular expression needs on a line before it can match there, read from its parse tree.

``TextDoc.search`` runs a rule's pattern only on the lines that can hold a match: the lines that
contain one of the pattern's *required literals* (a set of strings one of which every match
contains), found in the document's one multi-pattern scan (:mod:`aml_doctor.evidence.textdoc`).
This is the prefilter that regex engines built for scanning logs use (ripgrep, Hyperscan:
https://www.usenix.org/conference/nsdi19/presentation/wang-xiang), done here on Python's own
parse tree (``re._parser``, the parser behind ``re.compile``).

It is exact, not a heuristic: a pattern is filtered only when it is *line-local* (no part of it,
lookarounds included, can match a newline, and it has no anchor whose meaning depends on where
the text ends), so each match lies inside one line, and that line contains a required literal.
Any other pattern is searched over the whole text, as before.

Literals are compared lower-cased against lower-cased text (a superset for a case-sensitive
pattern too). Under ``re.IGNORECASE`` three non-ASCII letters also match ASCII ones: U+0130 and
U+0131 match ``i``, U+212A ``k``, U+017F ``s`` (found by trying every code point); the text's
lower-cased copy maps them to those letters, and a literal that is not ASCII is not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

try:  # the parser behind re.compile; sre_parse before Python 3.11 (and deprecated after)
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re import _constants as sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# Fewer characters than this make a literal useless as a filter (it is on most lines).
MIN_LITERAL = 3
# Required sets kept per pattern or branch, for the index to choose from.
CHOICES = 3
# A product of alternatives larger than this is not expanded (``[ab][cd][ef]...``).
MAX_ALTERNATIVES = 64

_NEWLINE = 10
# Categories whose characters include a newline.
_NEWLINE_CATEGORIES = {"CATEGORY_SPACE", "CATEGORY_NOT_DIGIT", "CATEGORY_NOT_WORD", "CATEGORY_LINEBREAK",
                       "CATEGORY_UNI_SPACE", "CATEGORY_UNI_NOT_DIGIT", "CATEGORY_UNI_NOT_WORD",
                       "CATEGORY_UNI_LINEBREAK", "CATEGORY_LOC_NOT_WORD"}
FOLD = {0x130: "i", 0x131: "i", 0x212A: "k", 0x17F: "s"}


class _Unknown(Exception):
    """A construct this reader does not follow: the pattern is searched over the whole text."""


@dataclass(frozen=True)
class Plan:
    """How to search with one pattern: over ``literals``' lines only, or (None) everywhere.

    A pattern that is an alternation of line-local branches may instead have ``branches``: each
    branch's own literals (None for a branch with none, which ``rest`` finds by itself), so that
    the lines to search are those holding a branch's literal or matching ``rest``, and on each
    line only the branches that can match there are tried (see :func:`variant`)."""

    literals: tuple[str, ...] | None
    branches: tuple[tuple[str, tuple[tuple[str, ...], ...] | None], ...] = ()
    choices: tuple[tuple[str, ...], ...] = ()  # ``literals`` first, then other required sets
    rest: re.Pattern | None = None
    flags: int = 0
    groups: int = 0


def lower(text: str) -> str:
    """``text`` lower-cased, same length, with the letters ``re.IGNORECASE`` folds onto ASCII
    mapped to them (see the module docstring)."""
    low = text.lower()
    if text.isascii():
        return low
    if len(low) != len(text):  # U+0130 lower-cases to two characters: fold one by one
        low = "".join(FOLD.get(ord(c)) or (c.lower() if len(c.lower()) == 1 else c) for c in text)
    return low.translate(FOLD)


@lru_cache(maxsize=4096)
def plan(pattern: str, flags: int) -> Plan:
    try:
        tree = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return Plan(None)
    flags = tree.state.flags
    try:
        if _can_cross_lines(tree, flags):
            return Plan(None)
        choices = _choices(tree)
    except (_Unknown, RecursionError):
        return Plan(None)
    # An alternation is filtered branch by branch: each branch on the lines of its own sparsest
    # literals, which finds fewer lines than the literals of all branches together.
    branched = _plan_branches(pattern, flags, tree.state.groups - 1)
    if branched.branches:
        return branched
    if choices:
        return Plan(choices[0], choices=choices)
    return Plan(None)


def _useful(found: set[str] | None) -> tuple[str, ...] | None:
    if not found or min(len(s) for s in found) < MIN_LITERAL or not all(s.isascii() for s in found):
        return None
    # A literal that contains another adds no line the other does not find.
    kept = sorted(found, key=len)
    minimal = [s for i, s in enumerate(kept) if not any(t in s for t in kept[:i])]
    return tuple(sorted(minimal))


def _plan_branches(pattern: str, flags: int, groups: int) -> Plan:
    """A line-local alternation without literals common to all branches: each branch its own."""
    sources = split_branches(pattern)
    if len(sources) < 2:
        return Plan(None)
    branches, rest = [], []
    for source in sources:
        try:
            choices = _choices(sre_parse.parse(source, flags)) or None
        except (re.error, _Unknown, RecursionError, OverflowError):
            return Plan(None)
        branches.append((source, choices))
        if choices is None:
            rest.append(source)
    if len(rest) == len(sources):
        return Plan(None)
    try:
        rest_re = re.compile("|".join(rest), flags) if rest else None
    except re.error:
        return Plan(None)
    return Plan(None, branches=tuple(branches), rest=rest_re, flags=flags, groups=groups)


def split_branches(pattern: str) -> list[str]:
    """The top-level alternatives of ``pattern``'s source (``a|b(c|d)`` gives ``a``, ``b(c|d)``);
    [] when the source starts with global flags or cannot be split safely."""
    if pattern.startswith("(?") and re.match(r"\(\?[aiLmsux]+\)", pattern):
        return []
    out, depth, start, i, n = [], 0, 0, 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return []
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth != 0:
        return []
    out.append(pattern[start:])
    return out


@lru_cache(maxsize=1024)
def variant(plan_: Plan, present: frozenset[int]) -> re.Pattern:
    """The alternation of only the branches in ``present``, in their order. On a line that holds
    none of the other branches' literals those cannot match, so this finds the same matches
    there. Only used for a pattern without groups, whose matches it cannot renumber."""
    return re.compile("|".join(src for i, (src, _) in enumerate(plan_.branches) if i in present), plan_.flags)


def plan_for(regex: re.Pattern) -> Plan:
    if not isinstance(regex.pattern, str):
        return Plan(None)
    return plan(regex.pattern, regex.flags)


# ------------------------------------------------------------------------------ line-locality
def _can_cross_lines(tree, flags: int) -> bool:
    """True when some match could contain a newline or depends on where the text ends."""
    for op, av in tree:
        name = str(op)
        if name == "LITERAL":
            if av == _NEWLINE:
                return True
        elif name == "NOT_LITERAL":
            if av != _NEWLINE:
                return True
        elif name == "ANY":
            if flags & re.DOTALL:
                return True
        elif name == "IN":
            if _set_has_newline(av):
                return True
        elif name == "AT":
            where = str(av)
            if where in ("AT_END_STRING",) or (where == "AT_END" and not flags & re.MULTILINE):
                return True
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if _can_cross_lines(av[2], flags):
                return True
        elif name == "SUBPATTERN":
            add, remove = av[1], av[2]
            if _can_cross_lines(av[3], (flags | add) & ~remove):
                return True
        elif name == "BRANCH":
            if any(_can_cross_lines(b, flags) for b in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _can_cross_lines(av[1], flags):
                return True
        elif name == "ATOMIC_GROUP":
            if _can_cross_lines(av, flags):
                return True
        else:  # GROUPREF, GROUPREF_EXISTS, and anything newer
            raise _Unknown(name)
    return False


def _set_has_newline(items) -> bool:
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    body = items[1:] if negate else items
    has = False
    for op, av in body:
        name = str(op)
        if name == "LITERAL" and av == _NEWLINE:
            has = True
        elif name == "RANGE" and av[0] <= _NEWLINE <= av[1]:
            has = True
        elif name == "CATEGORY" and str(av) in _NEWLINE_CATEGORIES:
            has = True
        elif name not in ("LITERAL", "RANGE", "CATEGORY"):
            raise _Unknown(name)
    return has != negate


# ------------------------------------------------------------------------------ literals
def _exact(tree) -> set[str] | None:
    """The strings a sequence matches, when they are few and each a plain string; else None."""
    out = {""}
    for op, av in tree:
        alts = _exact_item(op, av)
        if alts is None:
            return None
        out = {a + b for a in out for b in alts}
        if len(out) > MAX_ALTERNATIVES:
            return None
    return out


def _exact_item(op, av) -> set[str] | None:
    name = str(op)
    if name == "LITERAL":
        return {chr(av).lower()}
    if name == "IN":
        chars = set()
        for iop, iav in av:
            if str(iop) != "LITERAL":
                return None
            chars.add(chr(iav).lower())
        return chars if len(chars) <= 8 else None
    if name == "SUBPATTERN":
        return _exact(av[3])
    if name == "BRANCH":
        out: set[str] = set()
        for b in av[1]:
            sub = _exact(b)
            if sub is None:
                return None
            out |= sub
        return out if len(out) <= MAX_ALTERNATIVES else None
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] == av[1] == 1:
        return _exact(av[2])
    if name == "AT":  # zero-width: adds nothing to the strings
        return {""}
    if name in ("ASSERT", "ASSERT_NOT"):
        return {""}
    return None


def _required(tree) -> set[str] | None:
    """A set of strings one of which every match of the sequence contains (None: none known).

    Consecutive items with exact strings join into one run (``Err`` ``(?:or|no)`` gives ``error``,
    ``errno``); every run, and every group that must match at least once, is a candidate, and the
    one whose shortest string is longest wins."""
    candidates = _candidates(tree)
    return max(candidates, key=_quality) if candidates else None


def _candidates(tree) -> list[set[str]]:
    candidates: list[set[str]] = []
    run = {""}
    for op, av in tree:
        alts = _exact_item(op, av)
        if alts is not None:
            joined = {a + b for a in run for b in alts}
            if len(joined) > MAX_ALTERNATIVES:
                candidates.append(run)
                joined = alts if len(alts) <= MAX_ALTERNATIVES else {""}
            run = joined
            continue
        candidates.append(run)
        run = {""}
        sub = _required_item(op, av)
        if sub:
            candidates.append(sub)
    candidates.append(run)
    return [c for c in candidates if c and "" not in c]


def _choices(tree) -> tuple[tuple[str, ...], ...]:
    """Every useful required set of the top-level sequence, best first (at most ``CHOICES``):
    any one of them is exact, and a document's index picks the one on the fewest lines."""
    out: list[tuple[str, ...]] = []
    for candidate in sorted(_candidates(tree), key=_quality, reverse=True):
        useful = _useful(candidate)
        if useful and useful not in out:
            out.append(useful)
    return tuple(out[:CHOICES])


def _required_item(op, av) -> set[str] | None:
    name = str(op)
    if name == "SUBPATTERN":
        return _required(av[3])
    if name == "BRANCH":
        out: set[str] = set()
        for b in av[1]:
            sub = _required(b)
            if not sub:
                return None
            out |= sub
        return out if len(out) <= 4 * MAX_ALTERNATIVES else None
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
        return _required(av[2])
    if name == "ATOMIC_GROUP":
        return _required(av)
    return None


def _quality(strings: set[str]) -> tuple[int, int]:
    return (min(len(s) for s in strings), -len(strings))
