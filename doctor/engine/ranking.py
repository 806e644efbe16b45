"""Order findings root cause first, and link each symptom to the finding that explains it.

The order follows the deployment's stages (``model.Stage``): a failure at an earlier stage stops
the later ones from ever running, so it explains what they show. Symptoms (a crash loop, the
service state, a timed-out operation) come after every cause. A cause whose own evidence is weak
(confidence below ``WEAK``) ranks after the confident causes but before the symptoms. Ties break
on severity, confidence, rule id and subject, so the order is the same on every run.
"""

from __future__ import annotations

from typing import Iterable

from aml_doctor.findings import Finding, RankedFinding, Verdict

WEAK = 0.5


def _tier(f: Finding) -> int:
    if f.is_symptom:
        return 2
    return 1 if f.confidence < WEAK else 0


def sort_key(f: Finding):
    return (_tier(f), int(f.stage), -f.severity.rank, -f.confidence, f.rule, f.subject, f.title)


def rank(findings: Iterable[Finding]) -> tuple[RankedFinding, ...]:
    ordered = sorted(findings, key=sort_key)
    if not ordered:
        return ()
    root = ordered[0]
    ranked = [RankedFinding(root, 1)]
    for i, f in enumerate(ordered[1:], start=2):
        # A later stage cannot fail on its own while an earlier one has already failed: the root
        # cause explains it. A finding at the same or an earlier stage stands on its own.
        explained = f.stage > root.stage and not root.is_symptom
        ranked.append(RankedFinding(f, i, explained_by=root.key if explained else ""))
    return tuple(ranked)


def verdict(ranked: tuple[RankedFinding, ...]) -> Verdict:
    if not ranked:
        return Verdict.NO_PROBLEM_FOUND
    if ranked[0].finding.is_symptom:
        return Verdict.SYMPTOMS_ONLY
    if ranked[0].finding.confidence < WEAK:
        return Verdict.POSSIBLE_CAUSE
    return Verdict.ROOT_CAUSE_FOUND
