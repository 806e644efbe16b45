"""Remove secrets from evidence before anything is analysed, written or rendered.

Every rule of :mod:`aml_doctor.evidence.redaction_rules` (and every pattern of the configuration's
``redact = [...]``) marks the spans of secrets it recognises; overlapping spans merge, and each
becomes a token ``<redacted:3f2a>``: the first 16 bits of an HMAC of the secret under a key drawn
once per run. The same secret therefore reads the same everywhere in one run (a key in a pod's
env and in a log line can be matched up) and differently in the next, and the token reveals
nothing of the value. Environment variables, ConfigMap keys and JSON fields whose *names* say they
hold a secret have their values replaced whatever the value looks like.

What was redacted is counted (per kind, and per rule that fired, never the values) in the
:class:`Tally` of the current context: ``with counting() as tally:`` around loading a bundle
or writing one gives the summary that reports and bundle manifests carry.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import os
import re
from collections import Counter
from functools import lru_cache
from typing import Any, Iterator
from urllib.parse import unquote

try:  # the parser behind re.compile; sre_parse before Python 3.11 (and deprecated after)
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

from aml_doctor.evidence.redaction_rules import RULES, Rule, Span, kind_of, has_alnum_run, is_placeholder, looks_generated, name_strength

TOKEN_PREFIX = "<redacted:"
# A token already written, raw or escaped the ways the renderers escape it (HTML, JSON, URLs).
TOKEN_RE = re.compile(r"(?:<|&lt;|\\u003[cC]|%3[cC])(?:redacted|id|ip|account|resource):[0-9a-f]{4}(?:>|&gt;|\\u003[eE]|%3[eE])")
USER_KIND = "configured"


class _State:
    def __init__(self) -> None:
        self.key = os.urandom(16)
        self.user_rules: tuple[Rule, ...] = ()
        self.anonymize = False
        # text -> (its redacted form, (kind, rules) per secret): the same string recurs thousands
        # of times in a namespace's objects (images, paths, messages), and redacts the same way
        # within one run (one salt, one set of patterns).
        self.memo: dict[str, tuple[str, tuple[tuple[str, frozenset[str]], ...]]] = {}
        self.memo_chars = 0


_state = _State()


def configure(*, patterns: list[str] | None = None, anonymize: bool | None = None, salt: bytes | None = None) -> None:
    """Set this run's user patterns (already validated by :func:`compile_user_patterns`), the
    ``--anonymize`` switch, and, for tests that need fixed tokens, the salt."""
    if patterns is not None:
        _state.user_rules = compile_user_patterns(patterns)
    if anonymize is not None:
        _state.anonymize = anonymize
    if salt is not None:
        _state.key = salt
    _state.memo, _state.memo_chars = {}, 0


# What else holds per-run redaction state (the names --anonymize has learnt) registers here, so
# that one reset starts a fresh run without this module importing those.
_ON_RESET: list = []


def on_reset(forget) -> None:
    """Call ``forget()`` on every :func:`reset`."""
    _ON_RESET.append(forget)


def reset() -> None:
    """A fresh run: new salt, no user patterns, no anonymisation, no names learnt."""
    global _state
    _state = _State()
    for forget in _ON_RESET:
        forget()


def anonymizing() -> bool:
    return _state.anonymize


def token(secret: str, kind: str = "redacted") -> str:
    """``<redacted:3f2a>``; the secret is URL-decoded first, so its encoded forms share a token."""
    normal = unquote(unquote(secret)).strip("\"'")
    digest = hmac.new(_state.key, f"{kind}\0{normal}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"<{kind}:{digest[:4]}>"


# ---------------------------------------------------------------------------------- counting
class Tally:
    """What one load or one bundle had redacted: counts per kind and per rule, never values."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.anonymized: Counter[str] = Counter()

    def add(self, kind: str, rules: set[str]) -> None:
        self.kinds[kind] += 1
        for rule in rules:
            self.rules[rule] += 1

    def add_recorded(self, recorded: Any) -> None:
        """Add what a bundle's manifest says was redacted when it was collected."""
        if not isinstance(recorded, dict):
            return
        for field, counter in (("kinds", self.kinds), ("rules", self.rules), ("anonymized", self.anonymized)):
            values = recorded.get(field)
            if isinstance(values, dict):
                for name, n in values.items():
                    if isinstance(name, str) and isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**9:
                        counter[name[:64]] += n

    def merge(self, other: "Tally") -> None:
        self.kinds.update(other.kinds)
        self.rules.update(other.rules)
        self.anonymized.update(other.anonymized)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def summary(self):
        from aml_doctor.findings import RedactionSummary

        return RedactionSummary(
            total=self.total,
            kinds=tuple(sorted(self.kinds.items())),
            rules=tuple(sorted(self.rules.items())),
            anonymized=tuple(sorted(self.anonymized.items())),
        )

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "kinds": dict(sorted(self.kinds.items())),
            "rules": dict(sorted(self.rules.items())),
            "anonymized": dict(sorted(self.anonymized.items())),
        }


_tally: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("aml_doctor_redaction_tally", default=None)


@contextlib.contextmanager
def counting(into: Tally | None = None) -> Iterator[Tally]:
    """Count what is redacted inside the block into ``into`` (a new tally by default), and also
    into an enclosing block's tally."""
    outer = _tally.get()
    tally = into if into is not None else Tally()
    before = Tally()
    before.merge(tally)
    reset_token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(reset_token)
        if outer is not None and outer is not tally:
            added = Tally()
            added.kinds = tally.kinds - before.kinds
            added.rules = tally.rules - before.rules
            added.anonymized = tally.anonymized - before.anonymized
            outer.merge(added)


def _count(kind: str, rules: set[str]) -> None:
    tally = _tally.get()
    if tally is not None:
        tally.add(kind, rules)


def count_anonymized(kind: str) -> None:
    tally = _tally.get()
    if tally is not None:
        tally.anonymized[kind] += 1


# ---------------------------------------------------------------------------------- text
def secret_spans(text: str) -> list[tuple[int, int, str, set[str]]]:
    """The merged spans of secrets in ``text``: (start, end, kind, names of the rules that fired)."""
    lower = text.lower()
    found: list[tuple[int, int, str, str]] = []
    size = len(text)
    positions: dict[str, list[int]] | None = {} if size >= POSITIONS_FROM else None
    rules, positions = _rules_to_try(lower, positions)
    for rule in rules:
        if size < _min_width(rule.pattern) or (rule.alnum_run and not has_alnum_run(text, rule.alnum_run)):
            continue
        found += [(s, e, k, rule.name) for s, e, k in rule.spans(text, lower, positions) if e > s]
    if not found:
        return []
    found = _outside_tokens(text, found)
    found.sort(key=lambda f: (f[0], -f[1]))
    merged: list[tuple[int, int, str, set[str]]] = []
    for start, end, kind, name in found:
        if merged and start < merged[-1][1]:
            s0, e0, k0, names = merged[-1]
            names.add(name)
            merged[-1] = (s0, max(e0, end), k0 if e0 - s0 >= end - start else kind, names)
        else:
            merged.append((start, end, kind, {name}))
    return merged


_widths: dict[re.Pattern, int] = {}


def _min_width(pattern: re.Pattern) -> int:
    """The fewest characters a match of ``pattern`` takes (its parse tree's width): a shorter text
    cannot hold one, so the 32-character key rule skips the many short strings of a pod."""
    width = _widths.get(pattern)
    if width is None:
        try:
            width = int(sre_parse.parse(pattern.pattern, pattern.flags).getwidth()[0])
        except Exception:  # noqa: BLE001 - any doubt: try the pattern
            width = 0
        _widths[pattern] = width
    return width


# A text this long also keeps where each phrase starts, so that the rules' windows need no
# ``find`` pass per phrase (Rule.windows).
POSITIONS_FROM = 64 * 1024


def _rules_to_try(lower: str, positions: dict[str, list[int]] | None = None,
                  ) -> tuple[list[Rule], dict[str, list[int]] | None]:
    """The rules whose phrases ``lower`` holds (and those without phrases), in their order: one
    Aho-Corasick pass (https://pyahocorasick.readthedocs.io) over the text for all rules' phrases,
    instead of a substring test per phrase, which made redaction most of a large bundle's
    analysis (tens of thousands of short strings times 80 phrases). ``positions``, when given,
    is filled with where each phrase starts, in order, and returned; without ``pyahocorasick``
    None is returned for it, and the rules find their phrases themselves."""
    rules, automaton, always = _phrase_automaton(_state.user_rules)
    if automaton is None:
        return [r for r in rules if not r.phrases or any(p in lower for p in r.phrases)], None
    present = set(always)
    if positions is None:
        for _, (_, indexes) in automaton.iter(lower):
            present.update(indexes)
    else:
        for end, (phrase, indexes) in automaton.iter(lower):
            present.update(indexes)
            got = positions.get(phrase)
            if got is None:
                positions[phrase] = [end - len(phrase) + 1]
            else:
                got.append(end - len(phrase) + 1)
    if not present:
        return [], positions
    return [rules[i] for i in sorted(present)], positions


_automata: dict = {}


def _phrase_automaton(user_rules: tuple[Rule, ...]):
    """(rules, automaton of their phrases to the rule's index, indexes of rules without phrases),
    built once per set of user patterns; the automaton is None without ``pyahocorasick``."""
    key = user_rules
    if key not in _automata:
        rules = (*RULES, *user_rules)
        always = frozenset(i for i, r in enumerate(rules) if not r.phrases)
        try:
            import ahocorasick
        except ImportError:
            _automata[key] = (rules, None, always)
            return _automata[key]
        automaton = ahocorasick.Automaton()
        owners: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            for phrase in rule.phrases:
                owners.setdefault(phrase, []).append(i)
        if owners:
            for phrase, indexes in owners.items():
                automaton.add_word(phrase, (phrase, tuple(indexes)))
            automaton.make_automaton()
        else:
            automaton = None
        _automata.clear()  # one run has one set of user patterns
        _automata[key] = (rules, automaton, always)
    return _automata[key]


def _outside_tokens(text: str, found: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """Spans minus the tokens already in the text, so a second pass never re-redacts a token."""
    if "redacted:" not in text and not _state.anonymize:
        return found
    tokens = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    if not tokens:
        return found
    out = []
    for start, end, kind, name in found:
        pieces = [(start, end)]
        for ts, te in tokens:
            if te <= start or ts >= end:
                continue
            pieces = [p for s, e in pieces for p in ((s, min(e, ts)), (max(s, te), e)) if p[1] > p[0]]
        out += [(s, e, kind, name) for s, e in pieces if text[s:e].strip(" \"'") != ""]
    return out


# Remembered (see _State.memo): at most MEMO_ENTRIES strings of MEMO_CHARS characters in all.
MEMO_CHARS = 32 * 1024 * 1024
MEMO_ENTRIES = 1 << 16


def redact_text(text: str) -> str:
    """``text`` with every recognised secret replaced by its token."""
    if len(text) < 6:
        return text
    memo = _state.memo if len(text) <= MEMO_CHARS // 64 else None
    if memo is not None:
        known = memo.get(text)
        if known is not None:
            for kind, names in known[1]:
                _count(kind, names)
            return known[0]
    spans = secret_spans(text)
    if not spans:
        if memo is not None:
            _remember(memo, text, text, ())
        return text
    out, last = [], 0
    counted = []
    for start, end, kind, names in spans:
        out += [text[last:start], token(text[start:end])]
        last = end
        _count(kind, names)
        counted.append((kind, frozenset(names)))
    out.append(text[last:])
    result = "".join(out)
    if memo is not None:
        _remember(memo, text, result, tuple(counted))
    return result


def _remember(memo: dict, text: str, result: str, counted: tuple) -> None:
    size = len(text) + (len(result) if result is not text else 0)
    if len(memo) >= MEMO_ENTRIES or _state.memo_chars + size > MEMO_CHARS:
        memo.clear()
        _state.memo_chars = 0
    memo[text] = (result, counted)
    # Redacting is idempotent (a token is never redacted again: _outside_tokens), so what this
    # pass wrote needs nothing from the next one: a renderer's backstop over already-cleaned
    # text finds it here instead of scanning it again.
    if result is not text:
        memo[result] = (result, ())
    _state.memo_chars += size


# ---------------------------------------------------------------------------------- objects
def is_secret_name(name: str) -> bool:
    return name_strength(name) == "strong"


# A name's strength depends on the name alone; a namespace's objects repeat a few hundred names.
_strength = lru_cache(maxsize=4096)(name_strength)


def _redact_value(name: str, value: str) -> str:
    """A JSON string under ``name``: a strong name's value goes whatever it is; a weak name's
    (``key``, ``token``) only when it looks generated; anything else is searched as text."""
    strength = _strength(name) if name else ""
    if value and strength and not is_placeholder(value) and not TOKEN_RE.fullmatch(value):
        if strength == "strong" or looks_generated(value):
            _count(kind_of(name), {"named-field"})
            return token(value)
    return redact_text(value)


def redact_object(obj: Any) -> Any:
    """Redact a JSON-like structure in place and return it.

    Walked without recursion (nesting cannot overflow the stack) and visiting each container once,
    so a YAML document whose aliases share one node many times costs that node once."""
    seen: set[int] = set()
    stack = [obj]
    strength = _strength
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            # Kubernetes env entries and az acr credential show: {"name": "ACR_PASSWORD", "value": "..."}
            name = node.get("name") if "value" in node else None  # only a "value" reads it
            env_name = name if isinstance(name, str) and strength(name) else None
            for key, value in node.items():  # values are replaced in place: the dict keeps its size
                if isinstance(value, str):
                    if key == "name":
                        new = redact_text(value)
                    else:
                        field = env_name if key == "value" and env_name is not None else key
                        if not strength(str(field)):
                            if len(value) < 6:
                                continue
                            new = redact_text(value)
                        else:
                            new = _redact_value(str(field), value)
                    if new is not value:
                        node[key] = new
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    if len(value) >= 6:
                        new = redact_text(value)
                        if new is not value:
                            node[i] = new
                elif isinstance(value, (dict, list)):
                    stack.append(value)
    return obj


def redacted_view(value: Any) -> Any:
    """``redact_object`` and :func:`aml_doctor.evidence.frozen.freeze` in one walk: a read-only
    redacted copy of JSON-like ``value``. A namespace's objects are walked once at load instead
    of twice (the walk itself, over a quarter of a million strings for 1,000 pods and 10,000
    events, cost more than redacting them). Depth is bounded by the bundle's shape check."""
    from aml_doctor.evidence.frozen import FrozenDict, FrozenList

    strength = _strength
    memo = _state.memo

    def text(item: str) -> str:
        known = memo.get(item)  # the common case, inlined: a string seen before with no secret
        if known is not None and not known[1]:
            return known[0]
        return redact_text(item)

    def view(node: Any) -> Any:
        if isinstance(node, dict):
            # Kubernetes env entries and az acr credential show: {"name": "ACR_PASSWORD", "value": "..."}
            name = node.get("name") if "value" in node else None  # only a "value" reads it
            env_name = name if isinstance(name, str) and strength(name) else None
            out = {}
            for key, item in node.items():
                if isinstance(item, str):
                    if key == "name":
                        item = text(item)
                    else:
                        field = env_name if key == "value" and env_name is not None else key
                        if strength(str(field)):
                            item = _redact_value(str(field), item)
                        elif len(item) >= 6:
                            item = text(item)
                elif isinstance(item, (dict, list, tuple)):
                    item = view(item)
                out[key] = item
            return FrozenDict(out)
        if isinstance(node, (list, tuple)):
            return FrozenList(
                (text(item) if len(item) >= 6 else item) if isinstance(item, str)
                else view(item) if isinstance(item, (dict, list, tuple)) else item
                for item in node
            )
        return node

    return view(value)


# ---------------------------------------------------------------------------------- user patterns
class PatternError(ValueError):
    pass


def _nested_repeat(tree, inside: bool = False) -> bool:
    for op, av in tree:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            unbounded = high == sre_parse.MAXREPEAT
            if inside and unbounded:
                return True
            if _nested_repeat(sub, inside or unbounded or high > 1):
                return True
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise PatternError("back-references are not allowed")
        elif name == "SUBPATTERN":
            if _nested_repeat(av[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(b, inside) for b in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            if _nested_repeat(av[-1] if name != "ATOMIC_GROUP" else av, inside):
                return True
    return False


def compile_user_patterns(patterns: list[str]) -> tuple[Rule, ...]:
    """Rules for ``[tool.aml-doctor] redact = [...]``: each a regular expression whose first group
    (or whole match) is the secret. Named ``configured-1``, ``configured-2``... in summaries, so a
    pattern that spells out a literal secret is never printed. Patterns with back-references or a
    repetition inside an unbounded repetition (the shapes that backtrack exponentially) are refused."""
    rules = []
    for i, pattern in enumerate(patterns, 1):
        try:
            compiled = re.compile(pattern)
            if _nested_repeat(sre_parse.parse(pattern)):
                raise PatternError("a repetition inside an unbounded repetition can take exponential time")
        except re.error as exc:
            raise PatternError(f"redact pattern {i} is not a regular expression: {exc}") from None
        except PatternError as exc:
            raise PatternError(f"redact pattern {i}: {exc}") from None
        if compiled.match(""):
            raise PatternError(f"redact pattern {i} matches the empty string")
        rules.append(_user_rule(f"{USER_KIND}-{i}", compiled))
    return tuple(rules)


def _user_rule(name: str, compiled: re.Pattern) -> Rule:
    def pick(m: re.Match, text: str) -> list[Span]:
        group = 1 if compiled.groups and m.group(1) else 0
        return [(m.start(group), m.end(group), USER_KIND)]

    return Rule(name, USER_KIND, compiled, (), pick)
