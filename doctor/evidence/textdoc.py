"""Text evidence (logs, build logs, pasted errors) held in bounded memory.

A document up to ``FULL_LIMIT`` characters is kept whole. A larger one is read once, as a stream:
its head and tail are kept, and from the middle only the lines that contain a *signal* (a phrase some
rule declared it looks for, matched without regard to case) with a few lines of context. Signals are
plain phrases, not regexes, because ``str.find`` scans hundreds of megabytes in a second where a
large regex alternation takes minutes. When the middle holds more matches than can be kept, the
latest are kept: the failure that matters is usually the most recent one. Line numbers always refer to the original
file, so a locator such as ``logs/svc/c.log:1843211`` stays true. The report says what was skipped.
"""

from __future__ import annotations

import bisect
import codecs
import enum
import itertools
import re
from collections import deque
from functools import lru_cache
from typing import BinaryIO, Iterator, Sequence
from dataclasses import dataclass, field

from aml_doctor.evidence import prefilter
from aml_doctor.evidence.frozen import ReadOnlyError

FULL_LIMIT = 16 * 1024 * 1024
HEAD_LIMIT = 2 * 1024 * 1024
TAIL_LIMIT = 8 * 1024 * 1024
MIDDLE_HIT_LIMIT = 5000
MIDDLE_CHAR_LIMIT = 4 * 1024 * 1024  # the excerpts from the middle, together
COMMON_HITS = 1000  # lines a signal may keep from the middle before it counts as background
CONTEXT_LINES = 3
_CHUNK = 1024 * 1024
# A line longer than this keeps its first and last LINE_KEEP characters, with a note of the cut.
MAX_LINE_CHARS = 64 * 1024
LINE_KEEP = 16 * 1024
# Only tried at line starts, so each attempt scans at most one line: linear in the text. It runs
# only on a chunk that _may_hold_a_long_line.
_OVERLONG = re.compile(r"(?m)^[^\n]{%d,}" % (MAX_LINE_CHARS + 1))


class TextKind(enum.Enum):
    CONTAINER_LOG = "container_log"
    AZUREML_LOGS = "azureml_logs"  # Webservice.get_logs()
    AZUREML_INIT_LOGS = "azureml_init_logs"  # Webservice.get_logs(init=True)
    OPERATION = "operation"  # the deployment exception or operation log
    BUILD_LOG = "build_log"  # ImageLogs/.../build.log
    PASTED = "pasted"  # text/*.txt: whatever a user pasted


def _read_only(kind: str):
    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_sealed", False):
            raise ReadOnlyError(f"evidence is read-only: cannot set {kind}.{name}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if getattr(self, "_sealed", False):
            raise ReadOnlyError(f"evidence is read-only: cannot delete {kind}.{name}")
        object.__delattr__(self, name)

    return __setattr__, __delattr__


@dataclass
class Segment:
    first_line: int
    text: str
    _starts: list[int] | None = None
    _index: "_LineIndex | None" = field(default=None, repr=False, compare=False)

    __setattr__, __delattr__ = _read_only("segment")

    def index(self) -> "_LineIndex":
        if self._index is None or self._index.text is not self.text:
            object.__setattr__(self, "_index", _LineIndex(self.text, self.line_starts()))  # a cache
        return self._index

    def seal(self) -> None:
        object.__setattr__(self, "_sealed", True)

    def line_starts(self) -> list[int]:
        if self._starts is None or (self._index is not None and self._index.text is not self.text):
            # Each line's length plus its newline, summed: all in C, where a find per line was not.
            parts = self.text.split("\n")
            del parts[-1]
            starts = list(itertools.accumulate(map((1).__add__, map(len, parts)), initial=0))
            object.__setattr__(self, "_starts", starts)  # a cache: allowed once sealed
        return self._starts

    def line_count(self) -> int:
        return len(self.line_starts()) - (1 if self.text.endswith("\n") else 0)

    def line_at(self, index: int) -> str:
        starts = self.line_starts()
        end = starts[index + 1] - 1 if index + 1 < len(starts) else len(self.text)
        return self.text[starts[index]:end]


@dataclass(frozen=True)
class Hit:
    """A regex match in a document, with the line it is on."""

    doc: "TextDoc"
    line_no: int
    line: str
    match: re.Match

    @property
    def locator(self) -> str:
        return self.doc.locator(self.line_no)


@dataclass
class TextDoc:
    path: str
    kind: TextKind
    segments: list[Segment]
    pod: str = ""
    container: str = ""
    previous: bool = False
    total_lines: int = 0
    skipped: str = ""  # what was not kept, for the report
    replaced_bytes: bool = False  # some bytes were not UTF-8 and were replaced
    _line_index: dict[int, tuple[int, int]] | None = field(default=None, repr=False)

    __setattr__, __delattr__ = _read_only("TextDoc")

    def seal(self) -> None:
        """Read-only from now on (before any rule sees it): its segments become a tuple, and
        setting or deleting an attribute of the document or of a segment raises."""
        object.__setattr__(self, "segments", tuple(self.segments))
        for seg in self.segments:
            seg.seal()
        object.__setattr__(self, "_sealed", True)

    @classmethod
    def from_text(cls, path: str, kind: TextKind, text: str, **kw) -> "TextDoc":
        seg = Segment(1, text)
        return cls(path=path, kind=kind, segments=[seg], total_lines=seg.line_count(), **kw)

    def locator(self, line_no: int) -> str:
        return f"{self.path}:{line_no}"

    @property
    def text(self) -> str:
        cached = getattr(self, "_text", None)
        if cached is not None:
            return cached
        text = "\n".join(s.text.rstrip("\n") for s in self.segments)
        if getattr(self, "_sealed", False):
            object.__setattr__(self, "_text", text)  # a cache: the text no longer changes
        return text

    def lines(self) -> Iterator[tuple[int, str]]:
        for seg in self.segments:
            for i in range(seg.line_count()):
                yield seg.first_line + i, seg.line_at(i)

    def search(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Iterator[Hit]:
        """Every match of ``pattern``, in order, with its line. A pattern whose matches stay on one
        line and need one of a few literals (:mod:`aml_doctor.evidence.prefilter`) runs only on the
        lines that hold one, found in one scan of the document for all rules' literals."""
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        known = _PLANS.get(regex)
        if known is None:
            known = _PLANS[regex] = _plan(regex)
        plan, literals = known
        for seg in self.segments:
            lines = None if plan is None or len(seg.text) < _INDEX_FROM else seg.index().candidates(plan, regex, literals)
            if lines is None:
                starts = None
                for m in regex.finditer(seg.text):
                    starts = starts or seg.line_starts()
                    index = bisect.bisect_right(starts, m.start()) - 1
                    yield Hit(self, seg.first_line + index, seg.line_at(index), m)
                continue
            indexes, per_line = lines
            if not indexes:
                continue
            text, starts = seg.text, seg.line_starts()
            last = len(starts) - 1
            for k, index in enumerate(indexes):
                end = starts[index + 1] if index < last else len(text)
                for m in (regex if per_line is None else per_line[k]).finditer(text, starts[index], end):
                    yield Hit(self, seg.first_line + index, seg.line_at(index), m)

    def first(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Hit | None:
        return next(self.search(pattern, flags), None)

    def last(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Hit | None:
        hits = deque(self.search(pattern, flags), maxlen=1)
        return hits[0] if hits else None

    def line(self, line_no: int) -> str | None:
        if self._line_index is None:
            index = {}
            for si, seg in enumerate(self.segments):
                for i in range(seg.line_count()):
                    index[seg.first_line + i] = (si, i)
            object.__setattr__(self, "_line_index", index)  # a cache: allowed once sealed
        where = self._line_index.get(line_no)
        if where is None:
            return None
        return self.segments[where[0]].line_at(where[1])

    def window(self, line_no: int, before: int = 0, after: int = 0) -> list[tuple[int, str]]:
        out = []
        for n in range(line_no - before, line_no + after + 1):
            text = self.line(n)
            if text is not None:
                out.append((n, text))
        return out


# A segment shorter than this is searched whole: indexing it costs more than it saves.
_INDEX_FROM = 512
# Candidate lines past this share of a segment's lines: the whole segment is searched instead.
_DENSE = 0.5

_KNOWN: dict[str, None] = {}  # every literal some pattern asked for, in order (a set that keeps order)
_LEARNT: set = set()  # the plans whose literals are in _KNOWN
# pattern -> (its plan, or None to search the whole text; every literal the plan may look for)
_PLANS: dict[re.Pattern, tuple[prefilter.Plan | None, frozenset[str]]] = {}


def _plan(regex: re.Pattern) -> tuple[prefilter.Plan | None, frozenset[str]]:
    plan = prefilter.plan_for(regex)
    if plan.literals is None and not plan.branches:
        return None, frozenset()
    if plan not in _LEARNT:
        _learn(plan)
    literals = frozenset(lit for choices in (plan.choices, *(c or () for _, c in plan.branches))
                         for group in choices for lit in group)
    return plan, literals
_automaton_state: dict = {"size": -1, "automaton": None, "needles": (), "indexed": frozenset()}
_seeded = False


def _learn(plan: prefilter.Plan) -> None:
    _LEARNT.add(plan)
    for choices in (plan.choices, *(c or () for _, c in plan.branches)):
        for literals in choices:
            for literal in literals:
                if literal not in _KNOWN:
                    _KNOWN[literal] = None


def _seed() -> None:
    """Learn the literals of the patterns aml-doctor's own modules compiled at import (the rules',
    the views'), so that a document's one scan finds them all; any other pattern's literals are
    learnt at its first search and looked for with ``str.find`` in documents already indexed."""
    global _seeded
    _seeded = True
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith("aml_doctor.") or module is None:
            continue
        for value in list(vars(module).values()):
            for item in value if isinstance(value, (tuple, list)) else (value,):
                for inner in item if isinstance(item, tuple) else (item,):
                    if isinstance(inner, re.Pattern):
                        plan = prefilter.plan_for(inner)
                        if plan.literals or plan.branches:
                            _learn(plan)


def _automaton():
    """One Aho-Corasick automaton (https://pyahocorasick.readthedocs.io) for every literal learnt
    so far, rebuilt only when a document is indexed after new literals were learnt."""
    if not _seeded:
        _seed()
    state = _automaton_state
    if state["size"] != len(_KNOWN):
        needles = tuple(_KNOWN)
        automaton = None
        try:
            import ahocorasick
        except ImportError:
            ahocorasick = None
        if ahocorasick is not None and needles:
            automaton = ahocorasick.Automaton()
            for i, needle in enumerate(needles):
                automaton.add_word(needle, i)
            automaton.make_automaton()
        state.update(size=len(needles), automaton=automaton, needles=needles,
                     indexed=frozenset(needles) if automaton is not None else frozenset())
    return state["automaton"], state["needles"]


_NO_LINES: list[int] = []  # shared, never changed
_NONE_FOUND = (_NO_LINES, None)


class _LineIndex:
    """The lines of one segment that hold each literal, from one scan of its lower-cased text."""

    __slots__ = ("text", "lower", "starts", "lines", "cache", "indexed", "present")

    def __init__(self, text: str, starts: list[int]):
        self.text = text
        self.lower: str | None = None  # made again only for a literal learnt after the scan
        self.starts = starts
        self.lines: dict[str, list[int]] = {}
        self.cache: dict = {}
        self.indexed: frozenset[str] = frozenset()  # the literals the scan looked for
        self.present: frozenset[str] = frozenset()  # those of them it found
        automaton, needles = _automaton()
        if automaton is None:
            return
        found: dict[int, list[int]] = {}
        bisect_right = bisect.bisect_right
        # The automaton reports matches in the order they end: the line is looked up again only when
        # a match ends past the current one (an access log holds several literals on every line).
        line, line_end, last = -1, -1, len(starts) - 1
        for end, which in automaton.iter(prefilter.lower(text)):
            if end >= line_end:
                line = bisect_right(starts, end, line + 1) - 1
                line_end = starts[line + 1] if line < last else len(text) + 1
            got = found.get(which)
            if got is None:
                found[which] = [line]
            elif got[-1] != line:
                got.append(line)
        self.lines = {needles[i]: lines for i, lines in found.items()}
        self.indexed = _automaton_state["indexed"]
        self.present = frozenset(self.lines)

    def lines_of(self, literal: str) -> list[int]:
        got = self.lines.get(literal)
        if got is None:
            if literal in self.indexed:  # looked for and not found
                return _NO_LINES
            got = []  # learnt after this segment was indexed
            if self.lower is None:
                self.lower = prefilter.lower(self.text)
            find, starts = self.lower.find, self.starts
            pos = find(literal)
            while pos != -1:
                line = bisect.bisect_right(starts, pos) - 1
                got.append(line)
                nxt = starts[line + 1] if line + 1 < len(starts) else len(self.lower)
                pos = find(literal, nxt)
            got = got or _NO_LINES
            self.lines[literal] = got
        return got

    def candidates(self, plan: prefilter.Plan, regex: re.Pattern, literals: frozenset[str] = frozenset(),
                   ) -> tuple[list[int], list[re.Pattern] | None] | None:
        """The lines to search, in order, and the pattern for each (None: ``regex`` for all);
        None when they are most of the lines (the whole text is searched then). ``literals``:
        all that ``plan`` may look for; when the scan looked for them all and found none, no line."""
        # Checked before the cache, and not cached: most patterns find nothing in most segments,
        # and a middle excerpt of a huge log is one of thousands of segments.
        if literals and plan.rest is None and literals.isdisjoint(self.present) and literals <= self.indexed:
            return _NONE_FOUND
        key = regex
        if key in self.cache:
            return self.cache[key]
        lines: tuple[list[int], list[re.Pattern] | None] | None
        if plan.literals is not None:
            found = self._sparsest(plan.choices)
            if not found:
                indexes: list[int] = _NO_LINES
            elif len(found) == 1:
                indexes = found[0]
            else:
                indexes = sorted(set().union(*found))
            lines = (indexes, None)
        else:
            lines = self._branch_lines(plan, regex)
        if lines is not None and len(lines[0]) > _DENSE * len(self.starts):
            lines = None
        self.cache[key] = lines
        return lines

    def _sparsest(self, choices: tuple[tuple[str, ...], ...]) -> list[list[int]]:
        """The line lists of the required set found on the fewest lines of this segment."""
        best: list[list[int]] | None = None
        for literals in choices:
            found = [f for f in map(self.lines_of, literals) if f]
            if best is None or sum(map(len, found)) < sum(map(len, best)):
                best = found
            if not best:
                break
        return best or []

    def _branch_lines(self, plan: prefilter.Plan, regex: re.Pattern) -> list[tuple[int, re.Pattern]] | None:
        present: dict[int, set[int]] = {}  # line -> the branches that may match on it
        limit = _DENSE * len(self.starts)
        for which, (_, choices) in enumerate(plan.branches):
            for lines in self._sparsest(choices) if choices else ():
                for line in lines:
                    present.setdefault(line, set()).add(which)
            if len(present) > limit:
                return None
        if plan.rest is not None:
            rest = {i for i, (_, choices) in enumerate(plan.branches) if choices is None}
            starts = self.starts
            for m in plan.rest.finditer(self.text):
                present.setdefault(bisect.bisect_right(starts, m.start()) - 1, set()).update(rest)
                if len(present) > limit:
                    return None
        indexes = sorted(present)
        if plan.groups:  # renumbering groups would change what callers read from the match
            return indexes, None
        variants: dict[frozenset[int], re.Pattern] = {}
        per_line = []
        for line in indexes:
            which = frozenset(present[line])
            rx = variants.get(which)
            if rx is None:
                rx = variants[which] = prefilter.variant(plan, which)
            per_line.append(rx)
        return indexes, per_line


def _may_hold_a_long_line(text: str) -> bool:
    """False when no line of ``text`` can exceed MAX_LINE_CHARS: a line that long contains a whole
    aligned window of half that width, so a newline in every such window rules it out. That is a
    few dozen ``find`` calls per chunk instead of a regex over every line."""
    width = MAX_LINE_CHARS // 2
    find = text.find
    return any(find("\n", start, start + width) == -1 for start in range(0, len(text) - width + 1, width))


@lru_cache(maxsize=8)
def _signal_automaton(needles: tuple[tuple[int, str], ...]):
    """One automaton per set of signals, shared by every document read with it (a bundle's 500
    files would otherwise build 500 of the same); None without ``pyahocorasick``."""
    try:
        import ahocorasick
    except ImportError:
        return None
    automaton = ahocorasick.Automaton()
    for i, needle in needles:
        automaton.add_word(needle, i)
    automaton.make_automaton()
    return automaton


class _Needles:
    """Finds where any signal occurs in lower-cased text. With ``pyahocorasick`` installed, one
    pass of an Aho-Corasick automaton (https://pyahocorasick.readthedocs.io) for all signals at
    once, about ten times faster than one ``str.find`` pass per signal with the rules' 200-odd
    signals; without it, those passes."""

    def __init__(self, needles: tuple[str, ...]):
        self.needles = needles
        self.active = dict(enumerate(needles))  # index -> signal, less those dropped
        self.automaton = None
        self._build()

    def _build(self) -> None:
        self.automaton = _signal_automaton(tuple(self.active.items())) if self.active else None

    def drop(self, indexes) -> None:
        """Stop looking for these signals (they are this document's background)."""
        for i in indexes:
            self.active.pop(i, None)
        self._build()

    def positions(self, lower: str) -> list[tuple[int, int]]:
        """(position, index of the signal) of every occurrence, at most one per signal and line."""
        if self.automaton is not None:
            return list(self.automaton.iter(lower))
        positions: list[tuple[int, int]] = []
        for i, needle in self.active.items():
            pos = lower.find(needle)
            while pos != -1:
                positions.append((pos, i))
                pos = lower.find(needle, lower.find("\n", pos) + 1 or len(lower))
        return positions


class _LongLines:
    """Cuts lines longer than ``MAX_LINE_CHARS`` to their head and tail, in one pass.

    The incomplete last line of each chunk is carried into the next. Carried whole, a log that is
    one long line would be re-concatenated at every chunk, quadratic in its length; here the carry
    never exceeds ``MAX_LINE_CHARS`` plus a chunk, because a line past the limit keeps only its
    first ``LINE_KEEP`` characters and a rolling window of its last ``LINE_KEEP``."""

    def __init__(self) -> None:
        self.carry = ""
        self.head: str | None = None  # the start of the overlong line being read
        self.dropped = 0  # its characters not kept so far
        self.cut_lines = 0

    def _marker(self) -> str:
        return f" [... {self.dropped} characters of this line not kept ...] "

    def _shorten(self, text: str) -> str:
        """Complete lines of ``text`` (it ends at a line boundary) cut to the limit."""
        if len(text) <= MAX_LINE_CHARS or not _may_hold_a_long_line(text):
            return text
        def cut(m: re.Match) -> str:
            self.cut_lines += 1
            line = m.group()
            return f"{line[:LINE_KEEP]} [... {len(line) - 2 * LINE_KEEP} characters of this line not kept ...] {line[-LINE_KEEP:]}"
        return _OVERLONG.sub(cut, text)

    def feed(self, chunk: str, final: bool) -> str:
        """Return the complete lines ``chunk`` finishes (all that is left when ``final``)."""
        data = self.carry + chunk
        cut = len(data) - 1 if final else data.rfind("\n")
        if cut == -1:  # still inside one line
            self.carry = data
            self._bound_carry()
            return ""
        complete, self.carry = data[: cut + 1], data[cut + 1:]
        if self.head is not None:
            end = complete.find("\n")
            end = len(complete) if end == -1 else end
            rest = complete[:end]
            self.dropped += max(0, len(rest) - LINE_KEEP)
            complete = self.head + self._marker() + rest[-LINE_KEEP:] + complete[end:]
            self.head, self.dropped = None, 0
            self.cut_lines += 1
            first_nl = complete.find("\n")
            if first_nl != -1:
                complete = complete[: first_nl + 1] + self._shorten(complete[first_nl + 1:])
        else:
            complete = self._shorten(complete)
        self._bound_carry()
        return complete

    def _bound_carry(self) -> None:
        if self.head is None and len(self.carry) > MAX_LINE_CHARS:
            self.head = self.carry[:LINE_KEEP]
            self.dropped = len(self.carry) - 2 * LINE_KEEP
            self.carry = self.carry[-LINE_KEEP:]
        elif self.head is not None and len(self.carry) > LINE_KEEP:
            self.dropped += len(self.carry) - LINE_KEEP
            self.carry = self.carry[-LINE_KEEP:]


def read_text_stream(
    stream: BinaryIO,
    path: str,
    kind: TextKind,
    signals: Sequence[str] = (),
    *,
    keep_chars: int | None = None,
    **kw,
) -> TextDoc:
    """Read a document from a binary stream in bounded memory (see the module docstring).

    ``keep_chars`` is what this document may keep, when the bundle's own budget of kept text
    (``evidence.MAX_KEPT_TEXT_CHARS``) is smaller than ``FULL_LIMIT``: the head, tail and
    excerpts shrink with it. With nothing left, the document is not read at all, and says so."""
    full_limit = FULL_LIMIT if keep_chars is None else max(0, min(FULL_LIMIT, keep_chars))
    if full_limit <= 0:
        return TextDoc(path=path, kind=kind, segments=[Segment(1, "")], total_lines=0,
                       skipped=f"{path}: not read; the bundle's budget of kept text was used up by earlier files", **kw)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    replaced = False
    lines = _LongLines()
    kept = _Kept(full_limit, _Middle(_Needles(tuple(sorted({n.lower() for n in signals if n}))),
                                     min(MIDDLE_CHAR_LIMIT, full_limit // 4)))
    while True:
        raw = stream.read(_CHUNK)
        final = not raw
        chunk = decoder.decode(raw, final=final)
        replaced = replaced or "\ufffd" in chunk
        complete = lines.feed(chunk, final)
        if complete:
            kept.add(complete)
        if final:
            break
    segments = kept.segments()
    skipped = kept.note(path, segments)
    if lines.cut_lines:
        long_lines = (
            f"{lines.cut_lines} line(s) longer than {MAX_LINE_CHARS // 1024} KiB kept as their first and "
            f"last {LINE_KEEP // 1024} KiB"
        )
        skipped = f"{skipped}; {long_lines}" if skipped else f"{path}: {long_lines}"
    return TextDoc(
        path=path,
        kind=kind,
        segments=segments,
        total_lines=max(kept.line_no - 1, 0),
        skipped=skipped,
        replaced_bytes=replaced,
        **kw,
    )


class _Kept:
    """What a streamed document keeps: its head, a rolling tail, and from the lines that leave
    the tail, the excerpts the middle keeps (:class:`_Middle`)."""

    def __init__(self, full_limit: int, middle: "_Middle"):
        self.full_limit = full_limit
        self.head_limit = min(HEAD_LIMIT, full_limit // 8)
        self.tail_limit = min(TAIL_LIMIT, full_limit // 2)
        self.middle = middle
        self.head: list[str] = []
        self.head_chars = 0
        self.in_head = True
        self.tail: deque[tuple[int, str]] = deque()  # (first line number, text ending at a line boundary)
        self.tail_chars = 0
        self.total_chars = 0
        self.line_no = 1  # number of the first line of the next complete chunk
        self.evicted_any = False

    def add(self, complete: str) -> None:
        """A chunk of complete lines."""
        self.total_chars += len(complete)
        lines_in = complete.count("\n") + (0 if complete.endswith("\n") else 1)
        if self.in_head and self.head_chars + len(complete) <= self.head_limit:
            self.head.append(complete)
            self.head_chars += len(complete)
        else:
            self.in_head = False
            self.tail.append((self.line_no, complete))
            self.tail_chars += len(complete)
            # Only start dropping once the whole document can no longer be kept.
            while self.total_chars > self.full_limit and self.tail_chars > self.tail_limit and len(self.tail) > 1:
                first, text = self.tail.popleft()
                self.tail_chars -= len(text)
                self.evicted_any = True
                self.middle.evict(first, text)
        self.line_no += lines_in

    def segments(self) -> list[Segment]:
        head_text = "".join(self.head)
        if not self.evicted_any:
            return [Segment(1, head_text + "".join(t for _, t in self.tail))]
        return [Segment(1, head_text), *self.middle.kept, Segment(self.tail[0][0], "".join(t for _, t in self.tail))]

    def note(self, path: str, segments: list[Segment]) -> str:
        """What the document left out, or "" when it kept everything."""
        if not self.evicted_any:
            return ""
        middle = self.middle
        note = (
            f"{path}: {self.total_chars // (1024 * 1024)} MiB; kept lines 1-{segments[0].line_count()} and "
            f"{segments[-1].first_line}-{self.line_no - 1}, and {len(middle.kept)} excerpt(s) from between that match a rule"
        )
        if middle.excerpts > len(middle.kept):
            note += f" (the {middle.excerpts - len(middle.kept)} earliest excerpt(s) dropped)"
        common = sorted(middle.needles.needles[i] for i, n in middle.hits.items() if n > COMMON_HITS)
        if common:
            note += f"; found on more than {COMMON_HITS} lines, so kept only at first: {', '.join(common[:5])}"
        return note


class _Middle:
    """The excerpts kept from lines that leave a long document's tail: the lines holding a rule's
    signal, with ``CONTEXT_LINES`` around them, the latest ones first to stay."""

    def __init__(self, needles: _Needles, limit: int):
        self.needles = needles
        self.limit = limit
        self.kept: deque[Segment] = deque(maxlen=MIDDLE_HIT_LIMIT)
        self.chars = 0
        self.excerpts = 0  # made, including those dropped since
        self.hits: dict[int, int] = {}  # signal index -> lines of this document it was found on

    def evict(self, first: int, text: str) -> None:
        if not self.needles.active:
            return
        lower = text.lower()
        # Lower-casing can change a string's length (U+0130 becomes two characters); positions
        # then map to the wrong lines, so fall back to the original text's own case-folding.
        if len(lower) != len(text):
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        positions = self.needles.positions(lower)
        if not positions:
            return
        seg = Segment(first, text)
        starts = seg.line_starts()
        for lo, hi in _spans(self._wanted(positions, starts), seg.line_count()):
            end = starts[hi + 1] if hi + 1 < len(starts) else len(text)
            piece = text[starts[lo]:end]
            self._keep(Segment(first + lo, piece if piece.endswith("\n") else piece + "\n"))

    def _wanted(self, positions: list[tuple[int, int]], starts: list[int]) -> list[int]:
        """The lines worth an excerpt: those holding a signal that is not this log's background."""
        lines_hit = set()
        for pos, which in positions:
            line = bisect.bisect_right(starts, pos) - 1
            if (which, line) in lines_hit:
                continue
            lines_hit.add((which, line))
            self.hits[which] = self.hits.get(which, 0) + 1
        # A signal on every line of this log ("POST /score" in an access log) is this log's
        # background, not its failure: past COMMON_HITS lines it keeps no more excerpts, so
        # that it cannot push the rare lines that matter out of the kept middle.
        common = [which for which in {w for w, _ in lines_hit} if self.hits[which] > COMMON_HITS]
        if common:
            self.needles.drop(common)
        return sorted({line for which, line in lines_hit if self.hits[which] <= COMMON_HITS})

    def _keep(self, excerpt: Segment) -> None:
        self.excerpts += 1
        if len(self.kept) == self.kept.maxlen:
            self.chars -= len(self.kept[0].text)
        self.kept.append(excerpt)
        self.chars += len(excerpt.text)
        # The latest excerpts are the ones worth keeping (see the module docstring).
        while self.chars > self.limit and len(self.kept) > 1:
            self.chars -= len(self.kept.popleft().text)


def _spans(lines: list[int], count: int) -> list[list[int]]:
    """The lines with ``CONTEXT_LINES`` around each, overlapping windows merged."""
    spans: list[list[int]] = []
    for index in lines:
        lo, hi = max(0, index - CONTEXT_LINES), min(count - 1, index + CONTEXT_LINES)
        if spans and lo <= spans[-1][1] + 1:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return spans
