"""Base rates: among real cases that showed the same symptom, how often each category was the cause.

A bare symptom (a liveness probe 502, a "container application crashed" wrapper, DeploymentTimedOut)
says *that* a deployment failed, not why. The corpus says what it usually was. The shares come from
the confirmed cases whose evidence shows the same symptom; ``exclude_thread`` leaves a thread out,
so that a case being measured is never its own evidence. A symptom that names a category by itself
(``symptoms.yml``: a missing module is typical of an import error) adds one case for it, so a tie
between real cases goes to what the symptom says. The symptoms are data; this module only counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from aml_doctor.knowledge.corpus import Case

SYMPTOMS_FILE = Path(__file__).with_name("symptoms.yml")


@dataclass(frozen=True)
class Symptom:
    """A symptom: a pattern over the evidence text, and the category it names when it names one
    (``symptoms.yml`` says what each field means)."""

    name: str
    pattern: re.Pattern
    reads_as: str = ""
    needs: re.Pattern | None = None
    unless: re.Pattern | None = None

    def shown_by(self, text: str) -> bool:
        return (
            bool(self.pattern.search(text))
            and (self.needs is None or bool(self.needs.search(text)))
            and not (self.unless and self.unless.search(text))
        )


def _load_symptoms(path: Path = SYMPTOMS_FILE) -> tuple[Symptom, ...]:
    import yaml

    out = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for item in yaml.load(path.read_text(encoding="utf-8"), Loader=loader):
        flags = 0 if item.get("case") else re.IGNORECASE
        optional = {k: re.compile(item[k], flags) for k in ("needs", "unless") if item.get(k)}
        out.append(Symptom(item["name"], re.compile(item["pattern"], flags), item.get("reads_as", ""), **optional))
    return tuple(out)


SYMPTOMS = _load_symptoms()
_BY_NAME = {s.name: s for s in SYMPTOMS}


def symptoms_in(text: str) -> set[str]:
    return {s.name for s in SYMPTOMS if s.shown_by(text)}


def readings_of(symptoms: Iterable[str]) -> set[str]:
    """The categories the symptoms themselves name."""
    return {_BY_NAME[name].reads_as for name in symptoms if name in _BY_NAME and _BY_NAME[name].reads_as}


@lru_cache(maxsize=None)
def case_symptoms(case: Case) -> frozenset[str]:
    """The symptoms a corpus case shows. Cached per case: leave-one-thread-out rebuilds the base
    rates once for every case scored, and running every pattern over every case each time made the
    corpus bench and its test quadratic in regex work."""
    return frozenset(symptoms_in(case.evidence))


class Priors:
    def __init__(self, cases: Sequence[Case]):
        self.by_symptom: dict[str, Counter] = {}
        self.by_target: dict[str, Counter] = {}
        for case in cases:
            if case.confirmed and not case.control:
                self._add(case.category, case.target, case_symptoms(case))

    def _add(self, category: str, target: str, symptoms: Iterable[str]) -> None:
        for name in symptoms:
            self.by_symptom.setdefault(name, Counter())[category] += 1
        self.by_target.setdefault(target, Counter())[category] += 1

    @classmethod
    def from_symptoms(cls, rows: Iterable[tuple[str, str, Sequence[str]]]) -> "Priors":
        """Base rates from (category, target, symptoms) rows compiled ahead of time (``compiled.json``)."""
        priors = cls(())
        for category, target, symptoms in rows:
            priors._add(category, target, symptoms)
        return priors

    def target_shares(self, target: str) -> tuple[dict[str, float], int]:
        """The category shares among the cases of one platform (all platforms when it is not known),
        and how many cases that is."""
        counts = self.by_target.get(target) if target else None
        if not counts:
            counts = Counter()
            for c in self.by_target.values():
                counts.update(c)
        n = sum(counts.values())
        return ({category: k / n for category, k in counts.items()} if n else {}), n

    def shares(self, symptoms: Iterable[str]) -> dict[str, float]:
        """The category shares the symptoms give, each symptom one equal vote: its own shares over
        the cases that showed it, its reading counted as one case more. A specific symptom ("an
        exception in init()", three cases) is not drowned by a generic one ("crashed", thirty)."""
        out: dict[str, float] = {}
        voters = 0
        for name in symptoms:
            counts = Counter(self.by_symptom.get(name, Counter()))
            reading = _BY_NAME[name].reads_as if name in _BY_NAME else ""
            if reading:
                counts[reading] += 1
            n = sum(counts.values())
            if not n:
                continue
            voters += 1
            for category, k in counts.items():
                out[category] = out.get(category, 0.0) + k / n
        return {category: share / voters for category, share in out.items()} if voters else {}

    def real_count(self, symptoms: Iterable[str], category: str) -> int:
        """How many real cases showing any of ``symptoms`` had ``category``."""
        return sum(self.by_symptom.get(name, Counter()).get(category, 0) for name in symptoms)


def build(cases: Sequence[Case], exclude_thread: str = "") -> Priors:
    return Priors([c for c in cases if c.thread != exclude_thread] if exclude_thread else cases)
