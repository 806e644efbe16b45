"""Order findings root cause first, and link each symptom to the finding that explains it.

The order follows the deployment's stages (``model.Stage``): a failure at an earlier stage stops
the later ones from ever running, so it explains what they show. Symptoms (a crash loop, the
service state, a timed-out operation) come after every cause. A cause whose own evidence is weak
(confidence below ``WEAK``) ranks after the confident causes but before the symptoms. Ties break
on severity, confidence, rule id and subject, so the order is the same on every run.

Rules also say how they relate, as data (:class:`aml_doctor.engine.rule.Rule`): a finding of a rule
that ``supersedes`` another rule (or one of its modes) removes that rule's findings, and a finding
of a rule that ``explains`` another ranks that rule's findings after itself, explained by it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from aml_doctor.findings import Finding, RankedFinding, Verdict

WEAK = 0.5


def _tier(f: Finding) -> int:
    if f.is_symptom:
        return 2
    return 1 if f.confidence < WEAK else 0


def sort_key(f: Finding):
    return (_tier(f), int(f.stage), -f.severity.rank, -f.confidence, f.rule, f.subject, f.title)


def _names(target: str, f: Finding) -> bool:
    """Whether a declared relation's target (``AML011`` or ``AML004[init-error]``) names ``f``."""
    return target.upper() in (f.rule.upper(), f.rule_mode.upper())


def _declared(rules: Sequence, attr: str) -> dict[str, tuple[str, ...]]:
    """Per rule id, and per ``ID[mode]``, the targets of relation ``attr`` (supersedes, explains)."""
    out: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        rid = getattr(rule, "id", "")
        out[rid] = tuple(getattr(rule, attr, ()) or ())
        for mode in getattr(rule, "modes", ()) or ():
            out[f"{rid}[{mode.id}]"] = tuple(getattr(mode, attr, ()) or ())
    return out


def _targets(f: Finding, declared: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return declared.get(f.rule, ()) + (declared.get(f.rule_mode, ()) if f.mode else ())


def superseded_dropped(findings: list[Finding], rules: Sequence = ()) -> list[Finding]:
    """``findings`` without those another rule's finding supersedes (never two that supersede
    each other: a cycle of declarations must not silence both)."""
    declared = _declared(rules, "supersedes")
    if not any(declared.values()):
        return list(findings)

    def supersedes(g: Finding, f: Finding) -> bool:
        return g.rule != f.rule and any(_names(t, f) for t in _targets(g, declared))

    return [f for f in findings if not any(supersedes(g, f) and not supersedes(f, g) for g in findings)]


def rank(findings: Iterable[Finding], rules: Sequence = ()) -> tuple[RankedFinding, ...]:
    ordered = sorted(findings, key=sort_key)
    if not ordered:
        return ()
    explains = _declared(rules, "explains")
    explainer: dict[str, Finding] = {}
    for f in ordered:
        g = next((g for g in ordered if g.rule != f.rule and any(_names(t, f) for t in _targets(g, explains))), None)
        if g is not None and not any(_names(t, g) for t in _targets(f, explains)):
            explainer[f.key] = g
    for key, g in explainer.items():
        # The explained finding follows the finding that explains it.
        f = next(x for x in ordered if x.key == key)
        if ordered.index(f) < ordered.index(g):
            ordered.remove(f)
            ordered.insert(ordered.index(g) + 1, f)
    root = ordered[0]
    ranked = [RankedFinding(root, 1)]
    for i, f in enumerate(ordered[1:], start=2):
        # A later stage cannot fail on its own while an earlier one has already failed: the root
        # cause explains it. A finding at the same or an earlier stage stands on its own.
        if f.key in explainer:
            ranked.append(RankedFinding(f, i, explained_by=explainer[f.key].key))
            continue
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
