"""Score aml-doctor on the real-world corpus, leave-one-thread-out, in two evidence forms.

For each scored case, the known-issue index and the base rates are rebuilt without the case's own
thread, so the score measures diagnosis, not memory. The case's evidence is diagnosed twice: as
pasted text (``analyze --text``), and laid out as a bundle in the file its channel would occupy
(``get_logs()`` output as ``azureml/logs.txt``, a build log under ``storage/azureml/ImageLogs/``,
an exception as ``azureml/operation.txt``, kubectl output as ``text/kubectl.txt``).

A case's *leading categories* are the categories of its causes in report order (findings that are
not symptoms), then the runner-up categories the first of them names ("Could also be", in every
report format), then its possible causes: top-1 asks whether the established category is the first
of them, top-3 whether it is among the first three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from aml_doctor.knowledge.corpus import Case

FORMS = ("text", "bundle")

_BUNDLE_PATH = {
    "get_logs": "azureml/logs.txt",
    "build_log": "storage/azureml/ImageLogs/00000000-0000-0000-0000-000000000000/build.log",
    "kubectl": "text/kubectl.txt",
}


@dataclass(frozen=True)
class Outcome:
    case: Case
    form: str
    verdict: str
    leading: tuple[str, ...]
    above_low: int  # findings above severity low (controls must have none)
    # The leading categories without the leading cause's runner-ups: the measure before they were
    # counted, printed beside it so the difference they make stays visible.
    without_runner_ups: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        """Docs cases share their source with the signatures written from the same pages; user
        reports are the independent measure."""
        return "docs" if self.case.source_kind == "docs" else "user report"

    @property
    def top1(self) -> bool:
        return bool(self.leading) and self.leading[0] == self.case.category

    @property
    def top3(self) -> bool:
        return self.case.category in self.leading[:3]

    @property
    def top3_without_runner_ups(self) -> bool:
        return self.case.category in self.without_runner_ups[:3]

    @property
    def silent(self) -> bool:
        return not self.leading

    @property
    def false_all_clear(self) -> bool:
        return not self.case.control and self.verdict == "no_problem_found"


def bundle_files(case: Case) -> dict[str, bytes]:
    path = _BUNDLE_PATH.get(case.channel, "azureml/operation.txt")
    source = {"azureml/logs.txt": "azureml_logs", "azureml/operation.txt": "operation"}.get(path, "text")
    collected = [source, "text"] + (["build_log"] if case.channel == "build_log" else [])
    manifest = {
        "format_version": 1, "service": "", "namespace": "", "workspace": "", "collected_at": "",
        "collector": {"name": "aml-doctor corpus bench", "version": "1"}, "collected": collected, "not_collected": [],
    }
    return {"manifest.json": json.dumps(manifest).encode(), path: case.evidence.encode("utf-8")}


def knowledge_without(cases: Sequence[Case], thread: str = ""):
    """The known-issue index and base rates from ``cases``, with ``thread``'s cases left out."""
    from aml_doctor.engine.diagnosis import Knowledge
    from aml_doctor.knowledge import index, priors

    return Knowledge(index.build(cases, exclude_thread=thread), priors.build(cases, exclude_thread=thread))


def diagnose(case: Case, form: str, rules, knowledge):
    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze, signals_for

    signals = signals_for(rules)
    if form == "text":
        ev = evidence_mod.from_texts([(f"{case.id}.txt", case.evidence.encode("utf-8"))], signals=signals)
    else:
        ev = evidence_mod.load(bundle_files(case), signals=signals, label=case.id)
    return analyze(ev, rules, knowledge=knowledge)


def outcome(case: Case, form: str, report) -> Outcome:
    from aml_doctor.findings import Severity

    causes = [r.finding for r in report.findings if not r.finding.is_symptom]
    runner_ups = causes[0].alternatives if causes else ()
    found = [f.category for f in causes]
    possible = [p.category for p in report.possible_causes]
    above_low = sum(1 for r in report.findings if Severity.LOW < r.finding.severity)
    return Outcome(case, form, report.verdict.value, _unique(found + list(runner_ups) + possible), above_low, _unique(found + possible))


def _unique(categories) -> tuple[str, ...]:
    out: list[str] = []
    for category in categories:
        if category.value not in out:
            out.append(category.value)
    return tuple(out)


def measure(
    cases: Sequence[Case], rules, forms: Sequence[str] = FORMS, use_knowledge: bool = True, only: set[str] | frozenset = frozenset()
) -> list[Outcome]:
    """Score every scored case (or only the ids in ``only``); the knowledge comes from all ``cases``
    but the one being scored's thread."""
    empty = knowledge_without(())
    out = []
    for case in cases:
        if not case.scored or (only and case.id not in only):
            continue
        knowledge = knowledge_without(cases, case.thread) if use_knowledge else empty
        for form in forms:
            out.append(outcome(case, form, diagnose(case, form, rules, knowledge)))
    return out


def table(outcomes: Sequence[Outcome], by: str) -> list[str]:
    """Rows per ``by`` (category or target): cases, top-1, top-3, silent, false all-clears."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if not o.case.control:
            groups.setdefault(getattr(o, by) if by == "origin" else getattr(o.case, by), []).append(o)
    lines = [f"{by:<38} {'cases':>5} {'top1':>5} {'top3':>5} {'silent':>6} {'allclear':>8}"]
    total = [0, 0, 0, 0, 0]
    for key in sorted(groups):
        rows = groups[key]
        counts = [len(rows), sum(o.top1 for o in rows), sum(o.top3 for o in rows), sum(o.silent for o in rows),
                  sum(o.false_all_clear for o in rows)]
        total = [a + b for a, b in zip(total, counts)]
        lines.append(f"{key:<38} {counts[0]:>5} {counts[1]:>5} {counts[2]:>5} {counts[3]:>6} {counts[4]:>8}")
    lines.append(f"{'total':<38} {total[0]:>5} {total[1]:>5} {total[2]:>5} {total[3]:>6} {total[4]:>8}")
    if total[0]:
        # One decimal: 96.7% rounded to "97%" would read as meeting a 97% target.
        lines.append(f"{'':<38} {'':>5} {total[1] / total[0]:>5.1%} {total[2] / total[0]:>5.1%}")
    return lines


def runner_up_line(outcomes: Sequence[Outcome]) -> str:
    """Top-3 with and without the leading cause's runner-ups, over the failure cases."""
    rows = [o for o in outcomes if not o.case.control]
    strict = sum(o.top3_without_runner_ups for o in rows)
    counted = sum(o.top3 for o in rows)
    share = f" ({strict / len(rows):.2%})" if rows else ""
    return f"top-3 without the leading cause's runner-ups: {strict}/{len(rows)}{share}; with them: {counted}"


def controls(outcomes: Sequence[Outcome]) -> list[str]:
    rows = [o for o in outcomes if o.case.control]
    dirty = [o for o in rows if o.above_low]
    out = [f"controls: {len(rows)}, with findings above low: {len(dirty)}"]
    out += [f"  {o.case.id} [{o.form}] verdict {o.verdict}, {o.above_low} findings above low" for o in dirty]
    return out
