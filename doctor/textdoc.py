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
import re
from collections import deque
from typing import BinaryIO, Iterator, Sequence
from dataclasses import dataclass, field

FULL_LIMIT = 16 * 1024 * 1024
HEAD_LIMIT = 2 * 1024 * 1024
TAIL_LIMIT = 8 * 1024 * 1024
MIDDLE_HIT_LIMIT = 5000
CONTEXT_LINES = 3
_CHUNK = 1024 * 1024


class TextKind(enum.Enum):
    CONTAINER_LOG = "container_log"
    AZUREML_LOGS = "azureml_logs"  # Webservice.get_logs()
    AZUREML_INIT_LOGS = "azureml_init_logs"  # Webservice.get_logs(init=True)
    OPERATION = "operation"  # the deployment exception or operation log
    BUILD_LOG = "build_log"  # ImageLogs/.../build.log
    PASTED = "pasted"  # text/*.txt: whatever a user pasted


@dataclass
class _Segment:
    first_line: int
    text: str
    _starts: list[int] | None = None

    def line_starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            find = self.text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._starts = starts
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
    segments: list[_Segment]
    pod: str = ""
    container: str = ""
    previous: bool = False
    total_lines: int = 0
    skipped: str = ""  # what was not kept, for the report
    replaced_bytes: bool = False  # some bytes were not UTF-8 and were replaced
    _line_index: dict[int, tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def from_text(cls, path: str, kind: TextKind, text: str, **kw) -> "TextDoc":
        seg = _Segment(1, text)
        return cls(path=path, kind=kind, segments=[seg], total_lines=seg.line_count(), **kw)

    def locator(self, line_no: int) -> str:
        return f"{self.path}:{line_no}"

    @property
    def text(self) -> str:
        return "\n".join(s.text.rstrip("\n") for s in self.segments)

    def lines(self) -> Iterator[tuple[int, str]]:
        for seg in self.segments:
            for i in range(seg.line_count()):
                yield seg.first_line + i, seg.line_at(i)

    def search(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Iterator[Hit]:
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        for seg in self.segments:
            starts = None
            for m in regex.finditer(seg.text):
                starts = starts or seg.line_starts()
                index = bisect.bisect_right(starts, m.start()) - 1
                yield Hit(self, seg.first_line + index, seg.line_at(index), m)

    def first(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Hit | None:
        return next(self.search(pattern, flags), None)

    def last(self, pattern: str | re.Pattern, flags: int = re.IGNORECASE) -> Hit | None:
        hits = deque(self.search(pattern, flags), maxlen=1)
        return hits[0] if hits else None

    def line(self, line_no: int) -> str | None:
        if self._line_index is None:
            self._line_index = {}
            for si, seg in enumerate(self.segments):
                for i in range(seg.line_count()):
                    self._line_index[seg.first_line + i] = (si, i)
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


def read_text_stream(
    stream: BinaryIO,
    path: str,
    kind: TextKind,
    signals: Sequence[str] = (),
    **kw,
) -> TextDoc:
    """Read a document from a binary stream in bounded memory (see the module docstring)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    replaced = False
    kept_head: list[str] = []
    head_chars = 0
    tail: deque[tuple[int, str]] = deque()  # (first line number, text ending at a line boundary)
    tail_chars = 0
    middle: deque[_Segment] = deque(maxlen=MIDDLE_HIT_LIMIT)
    middle_hits = 0
    carry = ""
    line_no = 1  # number of the first line of the next complete chunk
    total_chars = 0
    in_head = True
    evicted_any = False

    needles = tuple({n.lower() for n in signals if n})

    def evict(first: int, text: str) -> None:
        nonlocal middle_hits
        if not needles:
            return
        lower = text.lower()
        positions: list[int] = []
        for needle in needles:
            pos = lower.find(needle)
            while pos != -1:
                positions.append(pos)
                pos = lower.find(needle, lower.find("\n", pos) + 1 or len(lower))
        if not positions:
            return
        seg = _Segment(first, text)
        starts = seg.line_starts()
        wanted = sorted({bisect.bisect_right(starts, p) - 1 for p in positions})
        count = seg.line_count()
        spans: list[list[int]] = []
        for index in wanted:
            lo, hi = max(0, index - CONTEXT_LINES), min(count - 1, index + CONTEXT_LINES)
            if spans and lo <= spans[-1][1] + 1:
                spans[-1][1] = hi
            else:
                spans.append([lo, hi])
        for lo, hi in spans:
            middle_hits += 1
            lines = [seg.line_at(i) for i in range(lo, hi + 1)]
            middle.append(_Segment(first + lo, "\n".join(lines) + "\n"))

    while True:
        raw = stream.read(_CHUNK)
        final = not raw
        chunk = decoder.decode(raw, final=final)
        if "\ufffd" in chunk:
            replaced = True
        data = carry + chunk
        if final:
            carry = ""
            complete = data
        else:
            cut = data.rfind("\n")
            if cut == -1:
                carry, complete = data, ""
            else:
                carry, complete = data[cut + 1:], data[: cut + 1]
        if complete:
            total_chars += len(complete)
            lines_in = complete.count("\n") + (0 if complete.endswith("\n") else 1)
            if in_head and head_chars + len(complete) <= HEAD_LIMIT:
                kept_head.append(complete)
                head_chars += len(complete)
            else:
                in_head = False
                tail.append((line_no, complete))
                tail_chars += len(complete)
                # Only start dropping once the whole document can no longer be kept.
                while total_chars > FULL_LIMIT and tail_chars > TAIL_LIMIT and len(tail) > 1:
                    first, text = tail.popleft()
                    tail_chars -= len(text)
                    evicted_any = True
                    evict(first, text)
            line_no += lines_in
        if final:
            break

    head_text = "".join(kept_head)
    segments: list[_Segment] = []
    if not evicted_any:
        whole = head_text + "".join(t for _, t in tail)
        segments.append(_Segment(1, whole))
    else:
        segments.append(_Segment(1, head_text))
        segments.extend(middle)
        first_tail = tail[0][0]
        segments.append(_Segment(first_tail, "".join(t for _, t in tail)))
    total_lines = line_no - 1
    skipped = ""
    if evicted_any:
        head_lines = segments[0].line_count()
        skipped = (
            f"{path}: {total_chars // (1024 * 1024)} MiB; kept lines 1-{head_lines} and "
            f"{segments[-1].first_line}-{total_lines}, and {len(middle)} excerpt(s) from between that match a rule"
        )
        if middle_hits > len(middle):
            skipped += f" (the {middle_hits - len(middle)} earliest excerpt(s) dropped)"
    return TextDoc(
        path=path,
        kind=kind,
        segments=segments,
        total_lines=max(total_lines, 0),
        skipped=skipped,
        replaced_bytes=replaced,
        **kw,
    )
