"""Base rates: among real cases that showed the same symptom, how often each category was the cause.

A bare symptom (a liveness probe 502, a "container application crashed" wrapper, DeploymentTimedOut)
says *that* a deployment failed, not why. The corpus says what it usually was. The shares come from
the confirmed cases whose evidence shows the same symptom; ``exclude_thread`` leaves a thread out,
so that a case being measured is never its own evidence.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from aml_doctor.knowledge.corpus import Case

# The symptoms a report can show without its cause; each a plain pattern over the evidence text.
SYMPTOMS = {
    "deployment-timed-out": re.compile(r"DeploymentTimedOut|Timed out waiting for (?:AKS )?deployment|pollTimeout", re.I),
    "container-crashed": re.compile(r"container application crashed|CrashLoopBackOff|Back-off restarting failed container|crash", re.I),
    "probe-failed": re.compile(r"(?:Liveness|Readiness) probe failed|ResourceNotReady|not ready|probe", re.I),
    "deployment-failed": re.compile(r"KubernetesDeploymentFailed|AciDeploymentFailed|DeploymentFailed|non-successful terminal state|state: (?:Failed|Unhealthy)", re.I),
    "http-502": re.compile(r"\b502\b|Bad Gateway", re.I),
    "http-503": re.compile(r"\b503\b|Service Unavailable", re.I),
    "http-504": re.compile(r"\b504\b|Gateway Time-?out", re.I),
    "internal-server-error": re.compile(r"InternalServerError|Internal Server Error|\b500\b", re.I),
    # A missing module, pasted or told in prose ("got rpy2 module not found error during deployment").
    "missing-module": re.compile(
        r"\bmodule not found\b|No module named|ModuleNotFoundError|ImportError|not (?:being )?able to find \w+|"
        r"cannot find module|could not import",
        re.I,
    ),
    # Authentication, told or pasted: a key, a token, a 401 or a 403.
    "auth": re.compile(r"authenticat\w*|unauthori[sz]ed|\b401\b|\b403\b|\bforbidden\b|api[- ]key|auth(?:entication)? key", re.I),
}


def symptoms_in(text: str) -> set[str]:
    return {name for name, pattern in SYMPTOMS.items() if pattern.search(text)}


class Priors:
    def __init__(self, cases: Sequence[Case]):
        self.by_symptom: dict[str, Counter] = {}
        self.by_target: dict[str, Counter] = {}
        for case in cases:
            if case.confirmed and not case.control:
                self._add(case.category, case.target, symptoms_in(case.evidence))

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
        """The category shares over every case that showed any of ``symptoms``."""
        total: Counter = Counter()
        for name in symptoms:
            total.update(self.by_symptom.get(name, Counter()))
        n = sum(total.values())
        return {category: count / n for category, count in total.items()} if n else {}


def build(cases: Sequence[Case], exclude_thread: str = "") -> Priors:
    return Priors([c for c in cases if c.thread != exclude_thread] if exclude_thread else cases)
