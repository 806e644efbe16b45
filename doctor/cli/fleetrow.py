"""One fleet scan row per service: its analysis, verdict, stage and age (v1 and v2 rows alike)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable

from aml_doctor.collect.fleet import ESSENTIAL, ServiceEvidence
from aml_doctor.collect.part import Part
from aml_doctor.findings import Report, Verdict
from aml_doctor.reports.fleet import FleetRow
from aml_doctor.views.podstage import deployment_stage

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def fleet_row(evidence: ServiceEvidence, analyze_part: Callable[[ServiceEvidence, Part], Report], fail_on, now: float) -> FleetRow:
    """Analyse one service; any failure here makes it unknown rather than stopping the scan."""
    service, ns = evidence.service, evidence.namespace
    part = evidence.take_part()
    if part is None:
        return FleetRow(service, ns, "unknown", "unknown", evidence.error, "", "")
    age = _age(evidence.deployment, now)
    try:
        report = analyze_part(evidence, part)
        by_kind: dict[tuple, list[dict]] = defaultdict(list)
        for event in evidence.events:
            involved = event.get("involvedObject") or {}
            by_kind[(involved.get("kind"), involved.get("name"))].append(event)
            by_kind[(involved.get("kind"), "")].append(event)
        where = deployment_stage(service, evidence.deployment, evidence.pods, lambda kind, name: by_kind.get((kind, name), []))
    except Exception as exc:  # noqa: BLE001 - one service's bad evidence must not stop the scan
        return FleetRow(service, ns, "unknown", "unknown", f"could not analyse: {type(exc).__name__}: {exc}", "", age)
    top = report.findings[0].finding if report.findings else None
    gaps = [g for g in part.gaps if g.what in ESSENTIAL]
    failing = [r for r in report.findings if fail_on is not None and fail_on <= r.finding.severity]
    if report.verdict is Verdict.ROOT_CAUSE_FOUND and failing:
        verdict = Verdict.ROOT_CAUSE_FOUND.value
    elif gaps:
        return FleetRow(service, ns, where.text, "unknown", f"{gaps[0].what}: {gaps[0].error}", "", age, report)
    elif report.verdict is Verdict.POSSIBLE_CAUSE and failing:
        verdict = Verdict.POSSIBLE_CAUSE.value
    elif failing:
        verdict = Verdict.SYMPTOMS_ONLY.value
    elif where.healthy:
        verdict = Verdict.NO_PROBLEM_FOUND.value
    else:
        # Nothing failing, but not healthy either (still starting, say): as a report would say.
        verdict = Verdict.UNRECOGNISED.value
    cause = f"{top.title}" if top and failing else ""
    return FleetRow(service, ns, where.text, verdict, cause, top.rule if top and failing else "", age, report)


def _age(deployment: dict | None, now: float) -> str:
    import calendar

    stamp = ((deployment or {}).get("metadata") or {}).get("creationTimestamp") or ""
    try:
        created = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return ""
    seconds = max(0, int(now - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def missing_rows(wanted: list[str] | None, found: list[ServiceEvidence], namespaces: list[str]) -> list[FleetRow]:
    """A row for each named service that no scanned namespace has a Deployment for."""
    if not wanted:
        return []
    seen = {s.service for s in found}
    where = ", ".join(namespaces) or "no namespace"
    return [FleetRow(n, "", "unknown", "unknown", f"no Deployment named {n!r} in {where}", "", "") for n in wanted if n not in seen]


def check_names(names: list[str]) -> list[str]:
    """Service names are Kubernetes names; anything else would also be unsafe as a file name."""
    bad = [n for n in names if not _DNS_LABEL.match(n)]
    if bad:
        raise ValueError(f"not a service name: {bad[0]!r} (lower-case letters, digits and '-')")
    return names
