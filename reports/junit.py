"""JUnit XML, so a CI system shows the diagnosis as test results.

One testcase per finding (named ``<rule> <subject>``) that fails; one per rule that ran and
found nothing, passed (a rule that ran without some of its evidence says so in its system-out);
one per rule that could not run, skipped; one per rule or plugin error, in error. So a CI
dashboard shows which checks passed, not only which failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aml_doctor.findings import Report

from aml_doctor.reports import view
from aml_doctor.reports.sanitize import backstop_markup, clean_report, redaction_line


def _finding_body(r) -> str:
    f = r.finding
    lines = [f.explanation, ""]
    for e in f.evidence:
        lines += [f"--- {e.locator}", e.excerpt, ""]
    lines.append(f"Fix: {f.fix.summary}")
    lines += [f"  {i}. {step}" for i, step in enumerate(f.fix.steps, 1)]
    lines += [f"  verify: {v}" for v in f.fix.verify]
    also = view.could_also_be(f)
    if also:
        lines.append(also)
    if r.explained_by:
        lines.append(f"Explained by the root cause {r.explained_by}")
    return "\n".join(lines)


def junit_tree(report: Report) -> ET.Element:
    suite = ET.Element("testsuite", name=f"aml-doctor {report.service}", timestamp=report.collected_at)
    props = ET.SubElement(suite, "properties")
    counts = view.summary(report)
    for name, value in (
        ("service", report.service),
        ("namespace", report.namespace),
        ("workspace", report.workspace),
        ("source", report.source),
        ("verdict", report.verdict.value),
        ("tool_version", report.tool_version),
        ("rules_run", str(report.rules_run)),
        ("redaction", redaction_line(report.redaction)),
        ("redacted_total", str(report.redaction.total)),
    ):
        ET.SubElement(props, "property", name=name, value=value)

    for r in sorted(report.findings, key=lambda r: r.rank):
        f = r.finding
        case = ET.SubElement(suite, "testcase", classname=f"aml_doctor.{f.plugin or 'builtin'}.{f.rule}", name=f"{f.rule_mode} {f.subject}")
        failure = ET.SubElement(
            case, "failure", message=f"#{r.rank} [{f.severity.value}] {f.title}", type=f.category.value
        )
        failure.text = _finding_body(r)
    found = {r.finding.rule for r in report.findings}
    errored = {e.rule for e in report.rule_errors}
    partly = {n.rule: n for n in report.not_checked if n.reason.startswith("partly checked")}
    for rule in report.rules_ran:
        if rule in found or rule in errored:
            continue
        case = ET.SubElement(suite, "testcase", classname=f"aml_doctor.rules.{rule}", name=f"{rule} passed")
        if rule in partly:
            ET.SubElement(case, "system-out").text = partly[rule].reason
    for n in report.not_checked:
        if n.rule in partly:
            continue
        case = ET.SubElement(suite, "testcase", classname="aml_doctor.not_checked", name=f"{n.rule} {n.name}")
        ET.SubElement(case, "skipped", message=n.reason)
    for kind, errors in (("rule_error", report.rule_errors), ("plugin_error", report.plugin_errors)):
        for e in errors:
            case = ET.SubElement(suite, "testcase", classname=f"aml_doctor.{kind}", name=e.rule)
            error = ET.SubElement(case, "error", message=e.error.strip().splitlines()[-1] if e.error.strip() else kind, type=kind)
            error.text = e.error

    unrecognised = report.verdict.value == "unrecognised"
    if unrecognised:
        case = ET.SubElement(suite, "testcase", classname="aml_doctor.verdict", name="unrecognised")
        failure = ET.SubElement(case, "failure", message="error text that no rule explains", type="unrecognised")
        failure.text = "\n".join(f"{e.locator}: {e.excerpt}" for e in report.unexplained) or "nothing shows the deployment healthy"
    extra = [f"possible cause: {p.category.value} ({round(p.share * 100)}%): {p.why}; confirm: {p.confirm}" for p in report.possible_causes]
    extra += [f"seen before: {k.thread}: {k.cause} Their fix: {k.fix} ({k.source})" for k in report.known_issues]
    extra += [f"what would decide: {step}" for step in report.next_evidence]
    if extra:
        ET.SubElement(suite, "system-out").text = "\n".join(extra)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(counts["findings"] + unrecognised))
    suite.set("errors", str(counts["rule_errors"] + counts["plugin_errors"]))
    suite.set("skipped", str(counts["not_run"]))
    suites = ET.Element("testsuites", name="aml-doctor")
    for attr in ("tests", "failures", "errors", "skipped"):
        suites.set(attr, suite.get(attr))
    suites.append(suite)
    return suites


def render_junit(report: Report) -> str:
    tree = junit_tree(clean_report(report))
    ET.indent(tree)
    xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n"
    return backstop_markup(xml)
