"""The JSON report: the machine-readable form, versioned by ``schema_version``.

The schema is ``schema/report.schema.json`` (JSON Schema draft 2020-12). Adding a field is a
compatible change within a version; renaming or removing one needs a new ``schema_version``.
"""

from __future__ import annotations

import json

from aml_doctor.findings import Finding, RankedFinding, Report

from aml_doctor.reports import view
from aml_doctor.reports.sanitize import backstop_document, clean_report, escape_c1, redaction_document

SCHEMA_VERSION = "1"


def _stage(f: Finding) -> dict:
    return {"id": f.stage.name.lower(), "order": int(f.stage), "label": f.stage.label, "symptom": f.stage.is_symptom}


def _finding(r: RankedFinding) -> dict:
    f = r.finding
    return {
        "rank": r.rank,
        "key": f.key,
        "rule": f.rule,
        "mode": f.mode or None,
        "name": f.name,
        "category": f.category.value,
        "severity": f.severity.value,
        "confidence": f.confidence,
        "stage": _stage(f),
        "title": f.title,
        "explanation": f.explanation,
        "subject": f.subject,
        "evidence": [{"locator": e.locator, "excerpt": e.excerpt} for e in f.evidence],
        "fix": {"summary": f.fix.summary, "steps": list(f.fix.steps), "verify": list(f.fix.verify)},
        "links": list(f.links),
        "alternatives": [c.value for c in f.alternatives],
        "decide": f.decide,
        "explained_by": r.explained_by or None,
        "plugin": f.plugin or None,
    }


def report_document(report: Report) -> dict:
    """The report as JSON-ready data; ``report`` should already be redacted."""
    root = report.root_cause
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "aml-doctor", "version": report.tool_version},
        "service": report.service,
        "namespace": report.namespace,
        "workspace": report.workspace,
        "source": report.source,
        "collected_at": report.collected_at,
        "collector": report.collector,
        "verdict": report.verdict.value,
        "root_cause": {"rule": root.rule, "key": root.key} if root else None,
        "summary": view.summary(report),
        "findings": [_finding(r) for r in sorted(report.findings, key=lambda r: r.rank)],
        "not_checked": [{"rule": n.rule, "name": n.name, "reason": n.reason} for n in report.not_checked],
        "rule_errors": [{"rule": e.rule, "plugin": e.plugin or None, "error": e.error} for e in report.rule_errors],
        "plugin_errors": [{"rule": e.rule, "plugin": e.plugin or None, "error": e.error} for e in report.plugin_errors],
        "collection_gaps": [{"what": g.what, "error": g.error} for g in report.collection_gaps],
        "notes": list(report.notes),
        "platform": report.platform or None,
        "rules_ran": list(report.rules_ran),
        "events": [{"time": e.time, "type": e.type, "reason": e.reason, "object": e.object, "message": e.message,
                    "count": e.count} for e in report.events],
        "unexplained": [{"locator": e.locator, "excerpt": e.excerpt} for e in report.unexplained],
        "next_evidence": list(report.next_evidence),
        "possible_causes": [
            {"category": p.category.value, "share": p.share, "why": p.why, "confirm": p.confirm}
            for p in report.possible_causes
        ],
        "known_issues": [
            {"case": k.case_id, "source": k.source, "thread": k.thread, "date": k.date or None,
             "category": k.category.value, "cause": k.cause, "fix": k.fix, "score": k.score, "matched": k.matched}
            for k in report.known_issues
        ],
        "redaction": redaction_document(report.redaction),
    }


def render_json(report: Report) -> str:
    document = backstop_document(report_document(clean_report(report, keep_controls=True)))
    return escape_c1(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
