"""The known-issue index: real public cases, matched against new evidence by their error lines.

A small Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and
Beyond", 2009) over the error-looking lines of each case. A few hundred short documents need no
sparse-matrix library: the index builds in milliseconds and keeps the CLI's start fast. It works
offline, on the cases shipped in ``cases/``.

Measurement must not let a case find itself: ``build(cases, exclude_thread=...)`` leaves out every
case of one thread (leave-one-thread-out), as ``bench/bench_corpus.py`` does for each case it scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable, Sequence

from aml_doctor.views.errorlines import ERROR_LINE
from aml_doctor.knowledge.corpus import TRIM_MARK, Case
from aml_doctor.knowledge.words import WordModel

K1 = 1.2
B = 0.75
# A match must share this many distinct informative terms with the case, and reach this share of
# the best score the query could reach against itself: lower and unrelated threads are cited.
MIN_SHARED_TERMS = 3
MIN_RELATIVE_SCORE = 0.3
# Neighbours are looser: cases whose words resemble the evidence, too far off to cite as "seen
# before" but a vote for the candidate causes of a bare symptom (a nearest-neighbour reading).
NEIGHBOUR_MIN_SHARED_TERMS = 2
NEIGHBOUR_MIN_RELATIVE_SCORE = 0.2
NEIGHBOURS = 5

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_.']{2,}")
_NOISE = re.compile(
    r"^(?:[0-9a-f]{8,}|\d+|https?|www|com|net|org|the|and|for|with|this|that|from|are|was|were|not|you|your|please|"
    r"can|will|has|have|been|but|into|any|all|see|more|information|error|errors|message|details|code|line|file|"
    r"none|null|true|false|self|info|warning|debug|azureml|azure|microsoft)$",
    re.IGNORECASE,
)


def terms(text: str) -> list[str]:
    out = []
    for raw in _TOKEN.findall(text):
        word = raw.strip(".'_").lower()
        if len(word) >= 3 and not _NOISE.match(word):
            out.append(word)
    return out


def case_lines(case: Case) -> list[str]:
    lines = [ln.strip() for ln in case.evidence.replace("\\n", "\n").splitlines()]
    lines = [ln for ln in lines if ln and ln != TRIM_MARK]
    errors = [ln for ln in lines if ERROR_LINE.search(ln)]
    return errors or lines[:20]


@lru_cache(maxsize=None)
def case_terms(case: Case) -> Counter:
    """The term counts of a case's error lines. Cached per case: leave-one-thread-out rebuilds the
    index once for every case scored, and the cases themselves do not change. Callers only read it."""
    return Counter(terms("\n".join(case_lines(case))))


@dataclass(frozen=True)
class Match:
    case: Case
    score: float
    relative: float
    shared: tuple[str, ...]
    line: str  # the query line that shares most with the case


class Index:
    def __init__(self, cases: Sequence[Case], docs: Sequence[Counter] | None = None):
        self.cases = [c for c in cases if c.confirmed and not c.control] if docs is None else list(cases)
        self.docs = [case_terms(c) for c in self.cases] if docs is None else list(docs)
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        df: Counter = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    @classmethod
    def from_terms(cls, cases: Sequence[Case], docs: Sequence[Counter]) -> "Index":
        """An index over term counts compiled ahead of time (``compiled.json``)."""
        return cls(cases, docs)

    @cached_property
    def words(self) -> WordModel:
        """The same cases' terms, counted per category (``words``)."""
        return WordModel([c.category for c in self.cases], self.docs)

    def _score(self, query: Counter, i: int) -> float:
        doc, length, total = self.docs[i], self.lengths[i], 0.0
        for t in query:
            f = doc.get(t)
            if f:
                total += self.idf[t] * f * (K1 + 1) / (f + K1 * (1 - B + B * length / self.avg))
        return total

    def match(self, lines: Iterable[str], limit: int = 3) -> list[Match]:
        """The cases close enough to cite, one per thread, best first."""
        return self.lookup(lines, limit)[0]

    def neighbours(self, lines: Iterable[str], limit: int = NEIGHBOURS) -> list[Match]:
        """The cases whose words resemble ``lines``, citable or not, one per thread, best first."""
        return self.lookup(lines, neighbours=limit)[1]

    def lookup(self, lines: Iterable[str], limit: int = 3, neighbours: int = NEIGHBOURS) -> tuple[list[Match], list[Match]]:
        """``match`` and ``neighbours`` from one scoring pass over the cases."""
        lines = [ln for ln in lines if ln.strip()]
        query = Counter(t for ln in lines for t in set(terms(ln)))
        if not query or not self.docs:
            return [], []
        # The best a document could score: one holding every query term once. A term no case holds
        # counts as the rarest there is: "No module named 'ruamel'" must not match every other
        # missing module on the shared words alone.
        rarest = max(self.idf.values(), default=1.0)
        ideal = (K1 + 1) * sum(self.idf.get(t, rarest) for t in query) or 1.0
        scored = []
        for i, case in enumerate(self.cases):
            score = self._score(query, i)
            if not score:
                continue
            shared = tuple(sorted((t for t in query if t in self.docs[i]), key=lambda t: -self.idf[t]))
            scored.append((score, case.id, i, score / ideal, shared))
        scored.sort(key=lambda m: (-m[0], m[1]))
        return (
            self._best_per_thread(scored, lines, limit, MIN_SHARED_TERMS, MIN_RELATIVE_SCORE),
            self._best_per_thread(scored, lines, neighbours, NEIGHBOUR_MIN_SHARED_TERMS, NEIGHBOUR_MIN_RELATIVE_SCORE),
        )

    def _best_per_thread(self, scored, lines: list[str], limit: int, min_shared: int, min_relative: float) -> list[Match]:
        # One per thread: the best-matching case of it that is close enough.
        seen: set[str] = set()
        unique = []
        for score, _, i, relative, shared in scored:
            case = self.cases[i]
            if len(shared) < min_shared or relative < min_relative or case.thread in seen:
                continue
            seen.add(case.thread)
            best_line = max(lines, key=lambda ln: sum(self.idf.get(t, 0) for t in set(terms(ln)) if t in self.docs[i]))
            unique.append(Match(case, score, relative, shared[:8], best_line))
            if len(unique) >= limit:
                break
        return unique


def build(cases: Sequence[Case], exclude_thread: str = "") -> Index:
    return Index([c for c in cases if c.thread != exclude_thread] if exclude_thread else cases)
