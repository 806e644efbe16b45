"""SARIF 2.1.0, for code-scanning dashboards and anything else that reads static-analysis results.

Each finding is a result whose locations are its evidence locators, relative to the bundle
(``uriBaseId`` BUNDLE). A locator ending in ``:<line>`` gives a region; an object locator
(``kubernetes/pods.json#pod/status...``) keeps its field path as the location's message.
Rules that failed or did not run are tool notifications: they are not results.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from aml_doctor.findings import Finding, RankedFinding, Report, Severity

from aml_doctor.reports import view
from aml_doctor.reports.sanitize import backstop_json, clean_report, redaction_document

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def _rule(f: Finding) -> dict:
    rule = {
        "id": f.rule,
        "name": f.name,
        "shortDescription": {"text": f.name},
        "properties": {"category": f.category.value},
    }
    https = [link for link in f.links if link.startswith("https://")]
    if https:
        rule["helpUri"] = https[0]
    return rule


def _location(locator: str) -> dict:
    path, line, fragment = view.split_locator(locator)
    physical: dict = {"artifactLocation": {"uri": quote(path, safe="/"), "uriBaseId": "BUNDLE"}}
    if line is not None:
        physical["region"] = {"startLine": line}
    location: dict = {"physicalLocation": physical}
    if fragment:
        location["message"] = {"text": fragment}
    return location


def _result(r: RankedFinding, rule_index: int) -> dict:
    f = r.finding
    text = f"{f.title}. Fix: {f.fix.summary}"
    return {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": text},
        "locations": [_location(e.locator) for e in f.evidence],
        "partialFingerprints": {"amlDoctorKey/v1": f.key},
        "rank": round(f.confidence * 100, 1),
        "properties": {
            "rank": r.rank,
            "mode": f.mode or None,
            "category": f.category.value,
            "severity": f.severity.value,
            "stage": f.stage.name.lower(),
            "confidence": f.confidence,
            "subject": f.subject,
            "explanation": f.explanation,
            "explainedBy": r.explained_by or None,
            "fix": {"summary": f.fix.summary, "steps": list(f.fix.steps), "verify": list(f.fix.verify)},
            "alternatives": [c.value for c in f.alternatives],
            "decide": f.decide or None,
        },
    }


def _notification(level: str, rule: str, text: str) -> dict:
    return {"level": level, "message": {"text": text}, "descriptor": {"id": rule}}


def sarif_document(report: Report) -> dict:
    rules: list[dict] = []
    index: dict[str, int] = {}
    for r in report.findings:
        if r.finding.rule not in index:
            index[r.finding.rule] = len(rules)
            rules.append(_rule(r.finding))
    notifications = (
        [_notification("error", e.rule, f"rule {e.rule} failed: {e.error}") for e in report.rule_errors]
        + [_notification("error", e.rule, f"plugin {e.plugin or e.rule} failed to load: {e.error}") for e in report.plugin_errors]
        + [_notification("note", n.rule, f"not checked: {n.name}: {n.reason}") for n in report.not_checked]
        + [_notification("warning", "collection", f"evidence missing: {g.what}: {g.error}") for g in report.collection_gaps]
    )
    results = [_result(r, index[r.finding.rule]) for r in sorted(report.findings, key=lambda r: r.rank)]
    if report.verdict.value == "unrecognised":
        # Error text no rule explains is a result a dashboard must show, never silence.
        rules.append({"id": "unrecognised", "name": "unrecognised-error",
                      "shortDescription": {"text": "Error text that no aml-doctor rule explains"}})
        for e in report.unexplained:
            results.append({"ruleId": "unrecognised", "ruleIndex": len(rules) - 1, "level": "warning",
                            "message": {"text": e.excerpt}, "locations": [_location(e.locator)]})
    run = {
        "tool": {"driver": {"name": "aml-doctor", "version": report.tool_version, "rules": rules}},
        "originalUriBaseIds": {"BUNDLE": {"description": {"text": f"the evidence bundle {report.source}"}}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {
            "service": report.service,
            "namespace": report.namespace,
            "workspace": report.workspace,
            "verdict": report.verdict.value,
            "collectedAt": report.collected_at,
            "redaction": redaction_document(report.redaction),
            "possibleCauses": [{"category": p.category.value, "share": p.share, "why": p.why, "confirm": p.confirm} for p in report.possible_causes],
            "knownIssues": [{"thread": k.thread, "source": k.source, "category": k.category.value, "fix": k.fix} for k in report.known_issues],
            "nextEvidence": list(report.next_evidence),
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(report: Report) -> str:
    document = sarif_document(clean_report(report, keep_controls=True))
    return backstop_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
