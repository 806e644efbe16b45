"""Run the rules over one bundle's evidence and assemble the ranked report."""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
import traceback
from typing import Iterable, Sequence

from aml_doctor import __version__
from aml_doctor.common.text import error_line
from aml_doctor.engine import diagnosis, guard, ranking
from aml_doctor.evidence.store import Evidence
from aml_doctor.findings import CollectionGap, Finding, NotChecked, Report, RuleError, Severity
from aml_doctor.engine.rule import (
    MAX_EVIDENCE_BYTES_PER_FINDING,
    MAX_EVIDENCE_ITEMS_PER_FINDING,
    MAX_FINDINGS_PER_RULE,
    Rule,
    bounded,
    finding_problem,
    missing_requirements,
    rule_label,
    rule_problems,
)

# Seconds one rule may run before it is reported and skipped (AML_DOCTOR_RULE_TIMEOUT overrides).
# The built-in rules take milliseconds on the largest bundle aml-doctor keeps (docs/limits.md).
RULE_TIMEOUT = 30.0
# However late the rules start (a live collection may use the whole --timeout), they get this
# long: the run then ends by --timeout plus RULES_GRACE, whatever a rule does (docs/limits.md).
RULES_GRACE = 5.0

# Phrases worth keeping from the middle of a huge log even if no loaded rule names them.
GENERIC_SIGNALS = ("Traceback (most recent call last)", "Exception", "Killed", "FATAL", "error:")


def signals_for(rules: Iterable[type[Rule]]) -> tuple[str, ...]:
    """Every phrase the rules look for in text, for keeping lines of logs too large to hold whole."""
    phrases = list(GENERIC_SIGNALS)
    for rule in rules:
        signals = getattr(rule, "signals", ())
        if isinstance(signals, (tuple, list)):  # a wrong type is reported when the rule is run
            phrases.extend(s for s in signals if isinstance(s, str))
    return tuple(dict.fromkeys(phrases))


def _split_mode(pattern: str) -> tuple[str, str]:
    """``AML004[import-error]`` -> ("AML004", "import-error"); ``AML004`` -> ("AML004", "")."""
    if pattern.endswith("]") and "[" in pattern:
        head, _, mode = pattern[:-1].partition("[")
        return head, mode.strip().lower()
    return pattern, ""


def _names(rule: type[Rule], head: str) -> bool:
    return rule.id.startswith(head.upper()) or rule.name == head


def _names_exactly(rule: type[Rule], head: str) -> bool:
    return rule.id == head.upper() or rule.name == head


def matches(rule: type[Rule], patterns: Sequence[str]) -> bool:
    """``--select``/``--ignore`` take ids (AML012), id prefixes (AML0) or names (image-pull-backoff)."""
    return any(not _split_mode(p)[1] and _names(rule, p) for p in patterns)


def modes_named(rule: type[Rule], patterns: Sequence[str]) -> frozenset[str]:
    """The sub-ids of ``rule`` that patterns such as ``AML004[import-error]`` name."""
    out = set()
    for p in patterns:
        head, mode = _split_mode(p)
        if mode and _names_exactly(rule, head):
            out.add(mode)
    return frozenset(out)


def select_rules(rules: Sequence[type[Rule]], select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[type[Rule]]:
    """The rules to run. A sub-id (``AML004[init-error]``) selects or ignores that failure mode
    alone: the rule runs, and only the findings of the modes kept reach the report."""
    out = []
    for rule in rules:
        whole = not select or matches(rule, select)
        picked = modes_named(rule, select)
        if (not whole and not picked) or matches(rule, ignore):
            continue
        dropped = modes_named(rule, ignore)
        only = None if whole else picked
        if only is None and not dropped:
            out.append(rule)
            continue
        out.append(type(rule.__name__, (rule,), {
            "__module__": rule.__module__, "__qualname__": rule.__qualname__, "__doc__": rule.__doc__,
            "only_modes": only, "ignored_modes": frozenset(dropped) | rule.ignored_modes,
        }))
    return out


def unknown_modes(rules: Sequence[type[Rule]], patterns: Sequence[str]) -> list[str]:
    """Sub-id patterns that name a loaded rule but none of its failure modes, each as one line."""
    out = []
    for p in patterns:
        head, mode = _split_mode(p)
        for rule in rules:
            if mode and _names_exactly(rule, head) and mode not in {m.id for m in rule.all_modes()}:
                known = ", ".join(m.id for m in rule.all_modes()) or "none: it checks one failure mode"
                out.append(f"{rule.id} has no failure mode {mode!r} (its modes: {known})")
    return out


def mode_kept(rule: type[Rule], f: Finding) -> bool:
    """Whether selection keeps this finding's failure mode."""
    if f.mode in rule.ignored_modes:
        return False
    return rule.only_modes is None or f.mode in rule.only_modes


def severity_for(f: Finding, overrides: dict) -> Severity | None:
    """The configured severity of the finding's sub-id (``AML004[init-error]``), else of its rule."""
    upper = {k.upper(): v for k, v in overrides.items()}
    return upper.get(f.rule_mode.upper()) or upper.get(f.rule.upper())


def rule_budget() -> float:
    """Seconds one rule may take (``AML_DOCTOR_RULE_TIMEOUT``, default 30)."""
    return env_seconds("AML_DOCTOR_RULE_TIMEOUT", RULE_TIMEOUT)


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable `name`, else `default`."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _collect(rule, ev: Evidence) -> list:
    # Runs in the guest thread: the generator's own code runs there too, and the cap stops a rule
    # that yields without end before it fills memory.
    return list(itertools.islice(iter(rule.check(ev) or ()), MAX_FINDINGS_PER_RULE + 1))


def run_rules(
    ev: Evidence,
    rules: Sequence[type[Rule]],
    options: dict | None = None,
    deadline: float | None = None,
    notes: list[str] | None = None,
) -> tuple[list[Finding], list[NotChecked], list[RuleError], int]:
    """Run each rule as a guest (:mod:`aml_doctor.engine.guard`): one rule's bug, hang, exit or print
    costs that rule alone. ``deadline`` (a ``time.monotonic()`` value) bounds the whole run."""
    findings: list[Finding] = []
    not_checked: list[NotChecked] = []
    errors: list[RuleError] = []
    ran = 0
    budget = rule_budget()
    notes = [] if notes is None else notes
    ev.seal()
    # First what needs no running (a malformed declaration, missing evidence), then every other
    # rule in one guarded batch (guard.call_each: one worker thread, not one per rule), then the
    # outcomes in rule order.
    slots: list[tuple[type[Rule], object]] = []
    runnable: list[type[Rule]] = []
    for rule_cls in rules:
        problems = rule_problems(rule_cls)
        if problems:
            slots.append((rule_cls, RuleError(rule_label(rule_cls), str(getattr(rule_cls, "plugin", "") or ""), "; ".join(problems))))
            continue
        missing = missing_requirements(rule_cls, ev)
        if missing:
            reason = "; ".join(
                " or ".join(ev.why_missing(s) for s in group.split("|")) for group in missing
            )
            slots.append((rule_cls, NotChecked(rule_cls.id, rule_cls.name, reason)))
            continue
        slots.append((rule_cls, len(runnable)))
        runnable.append(rule_cls)

    budgets: dict[int, float] = {}

    def budget_of(i: int) -> float:
        budgets[i] = budget if deadline is None else min(budget, deadline - time.monotonic())
        return budgets[i]

    def job(rule_cls: type[Rule]):
        opts = (options or {}).get(rule_cls.plugin, {})
        return lambda: _collect(rule_cls(opts), ev)

    outcomes = guard.call_each([job(r) for r in runnable], budget_of)
    for rule_cls, slot in slots:
        if isinstance(slot, RuleError):
            errors.append(slot)
        elif isinstance(slot, NotChecked):
            not_checked.append(slot)
        else:
            ran += _take_outcome(rule_cls, ev, outcomes[slot], budgets.get(slot, 0.0), budget, deadline,
                                 findings, not_checked, errors, notes)
    return findings, not_checked, errors, ran


def _take_outcome(rule_cls, ev, outcome, left, budget, deadline, findings, not_checked, errors, notes) -> int:
    """One rule's outcome into the lists; 1 when the rule ran, 0 when the run's --timeout came first."""
    if outcome.skipped:
        not_checked.append(NotChecked(rule_cls.id, rule_cls.name, "not run: the run's --timeout was reached"))
        return 0
    if outcome.stdout_chars:
        notes.append(
            f"{rule_cls.id} ({rule_cls.plugin or 'no plugin'}) wrote {outcome.stdout_chars} characters to stdout; "
            "captured and left out of the report"
        )
        if os.environ.get("AML_DOCTOR_DEBUG"):
            print(f"[{rule_cls.id} stdout] {outcome.stdout}", file=sys.stderr)
    if outcome.timed_out:
        over = "the run's --timeout" if deadline is not None and left < budget else f"its {left:g} s budget"
        errors.append(RuleError(rule_cls.id, rule_cls.plugin, f"took longer than {over}; skipped"))
        return 1
    if outcome.error is not None:
        errors.append(RuleError(rule_cls.id, rule_cls.plugin, error_line(outcome.error)))
        if os.environ.get("AML_DOCTOR_DEBUG"):
            traceback.print_exception(outcome.error, file=sys.stderr)
        return 1
    produced = [f for f in outcome.value if not isinstance(f, Finding) or mode_kept(rule_cls, f)]
    problem = next((p for p in map(finding_problem, produced) if p), "")
    if problem:
        errors.append(RuleError(rule_cls.id, rule_cls.plugin, problem))
        return 1
    if len(produced) > MAX_FINDINGS_PER_RULE:
        produced = produced[:MAX_FINDINGS_PER_RULE]
        notes.append(f"{rule_cls.id}: more than {MAX_FINDINGS_PER_RULE} findings; the first {MAX_FINDINGS_PER_RULE} are kept")
    kept = []
    cut = 0
    for f in produced:
        f, was_cut = bounded(f)
        kept.append(f)
        cut += was_cut
    if cut:
        notes.append(
            f"{rule_cls.id}: {cut} finding(s) cut to {MAX_EVIDENCE_BYTES_PER_FINDING // 1024} KiB of evidence "
            f"and {MAX_EVIDENCE_ITEMS_PER_FINDING} items each"
        )
    findings.extend(kept)
    if not kept:
        partial = _partly_checked(rule_cls, ev)
        if partial:
            not_checked.append(NotChecked(rule_cls.id, rule_cls.name, partial))
    return 1


def _partly_checked(rule_cls: type[Rule], ev: Evidence) -> str:
    """A rule that found nothing while some evidence it reads could not be collected has not
    passed: say what it ran without."""
    missing = []
    for group in rule_cls.requires:
        for source in group.split("|"):
            if not ev.has(source) and ev.why_missing(source).startswith(("not collected", "kubernetes/", "azureml/", "storage/")):
                missing.append(f"{source} ({ev.why_missing(source)})")
    return "partly checked: ran without " + "; ".join(missing) if missing else ""


def analyze(
    ev: Evidence,
    rules: Sequence[type[Rule]],
    *,
    severity_overrides: dict[str, Severity] | None = None,
    options: dict | None = None,
    plugin_errors: Sequence[RuleError] = (),
    knowledge=None,
    deadline: float | None = None,
) -> Report:
    """``deadline``: a ``time.monotonic()`` value past which no rule is started or waited for."""
    run_notes: list[str] = []
    if deadline is not None:
        deadline = max(deadline, time.monotonic() + RULES_GRACE)
    findings, not_checked, errors, ran = run_rules(ev, rules, options, deadline, run_notes)
    if severity_overrides:
        findings = [
            dataclasses.replace(f, severity=severity_for(f, severity_overrides)) if severity_for(f, severity_overrides) else f
            for f in findings
        ]
    ranked = ranking.rank(ranking.superseded_dropped(_dedupe(findings), rules), rules)
    done = diagnosis.complete(ev, ranked, knowledge)
    m = ev.manifest
    return Report(
        service=m.service,
        namespace=m.namespace,
        workspace=m.workspace,
        source=ev.source,
        collected_at=m.collected_at,
        collector=m.collector,
        tool_version=__version__,
        verdict=done.verdict,
        findings=ranked,
        not_checked=tuple(not_checked),
        rule_errors=tuple(errors),
        plugin_errors=tuple(plugin_errors),
        collection_gaps=tuple(CollectionGap(what, error) for what, error in m.not_collected),
        notes=tuple(ev.notes) + tuple(run_notes),
        rules_run=ran,
        unexplained=done.unexplained,
        next_evidence=done.next_evidence,
        possible_causes=done.possible_causes,
        known_issues=done.known_issues,
        platform=done.platform,
        reached=done.reached,
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.rule, f.subject, f.title)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
