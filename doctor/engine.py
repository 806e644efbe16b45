"""Run the rules over one bundle's evidence and assemble the ranked report."""

from __future__ import annotations

import dataclasses
import os
import sys
import traceback
from typing import Iterable, Sequence

from . import __version__, ranking
from .evidence import Evidence
from .model import CollectionGap, Finding, NotChecked, Report, RuleError, Severity
from .rule import Rule, missing_requirements

# Phrases worth keeping from the middle of a huge log even if no loaded rule names them.
GENERIC_SIGNALS = ("Traceback (most recent call last)", "Exception", "Killed", "FATAL", "error:")


def signals_for(rules: Iterable[type[Rule]]) -> tuple[str, ...]:
    """Every phrase the rules look for in text, for keeping lines of logs too large to hold whole."""
    phrases = list(GENERIC_SIGNALS)
    for rule in rules:
        phrases.extend(rule.signals)
    return tuple(dict.fromkeys(phrases))


def matches(rule: type[Rule], patterns: Sequence[str]) -> bool:
    """``--select``/``--ignore`` take ids (AML012), id prefixes (AML0) or names (image-pull-backoff)."""
    return any(rule.id.startswith(p.upper()) or rule.name == p for p in patterns)


def select_rules(rules: Sequence[type[Rule]], select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[type[Rule]]:
    chosen = [r for r in rules if not select or matches(r, select)]
    return [r for r in chosen if not matches(r, ignore)]


def one_line(exc: BaseException) -> str:
    """An exception as one report line: its type and the first line of its message."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def run_rules(
    ev: Evidence,
    rules: Sequence[type[Rule]],
    options: dict | None = None,
) -> tuple[list[Finding], list[NotChecked], list[RuleError], int]:
    findings: list[Finding] = []
    not_checked: list[NotChecked] = []
    errors: list[RuleError] = []
    ran = 0
    for rule_cls in rules:
        missing = missing_requirements(rule_cls, ev)
        if missing:
            reason = "; ".join(
                " or ".join(ev.why_missing(s) for s in group.split("|")) for group in missing
            )
            not_checked.append(NotChecked(rule_cls.id, rule_cls.name, reason))
            continue
        ran += 1
        try:
            rule = rule_cls((options or {}).get(rule_cls.plugin, {}))
            produced = list(rule.check(ev) or ())
            for f in produced:
                if not isinstance(f, Finding):
                    raise TypeError(f"check() yielded {type(f).__name__}, not a Finding")
        except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others' findings
            errors.append(RuleError(rule_cls.id, rule_cls.plugin, one_line(exc)))
            if os.environ.get("AML_DOCTOR_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            continue
        findings.extend(produced)
        if not produced:
            partial = _partly_checked(rule_cls, ev)
            if partial:
                not_checked.append(NotChecked(rule_cls.id, rule_cls.name, partial))
    return findings, not_checked, errors, ran


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
) -> Report:
    findings, not_checked, errors, ran = run_rules(ev, rules, options)
    if severity_overrides:
        findings = [
            dataclasses.replace(f, severity=severity_overrides[f.rule]) if f.rule in severity_overrides else f
            for f in findings
        ]
    ranked = ranking.rank(_dedupe(findings))
    m = ev.manifest
    return Report(
        service=m.service,
        namespace=m.namespace,
        workspace=m.workspace,
        source=ev.source,
        collected_at=m.collected_at,
        collector=m.collector,
        tool_version=__version__,
        verdict=ranking.verdict(ranked),
        findings=ranked,
        not_checked=tuple(not_checked),
        rule_errors=tuple(errors),
        plugin_errors=tuple(plugin_errors),
        collection_gaps=tuple(CollectionGap(what, error) for what, error in m.not_collected),
        notes=tuple(ev.notes),
        rules_run=ran,
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
