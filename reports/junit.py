"""JUnit XML, so a CI system shows the diagnosis as test results.

One testcase per finding (named ``<rule> <subject>``) that fails; one per rule not checked,
skipped; one per rule or plugin error, in error. The report does not name the rules that ran
and found nothing, so they have no testcase; the suite's properties count them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aml_doctor.model import Report

from . import view
from .sanitize import backstop_markup, clean_report


def _finding_body(r) -> str:
    f = r.finding
    lines = [f.explanation, ""]
    for e in f.evidence:
        lines += [f"--- {e.locator}", e.excerpt, ""]
    lines.append(f"Fix: {f.fix.summary}")
    lines += [f"  {i}. {step}" for i, step in enumerate(f.fix.steps, 1)]
    lines += [f"  verify: {v}" for v in f.fix.verify]
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
    ):
        ET.SubElement(props, "property", name=name, value=value)

    for r in sorted(report.findings, key=lambda r: r.rank):
        f = r.finding
        case = ET.SubElement(suite, "testcase", classname=f"aml_doctor.{f.plugin or 'builtin'}.{f.rule}", name=f"{f.rule} {f.subject}")
        failure = ET.SubElement(
            case, "failure", message=f"#{r.rank} [{f.severity.value}] {f.title}", type=f.category.value
        )
        failure.text = _finding_body(r)
    for n in report.not_checked:
        case = ET.SubElement(suite, "testcase", classname="aml_doctor.not_checked", name=f"{n.rule} {n.name}")
        ET.SubElement(case, "skipped", message=n.reason)
    for kind, errors in (("rule_error", report.rule_errors), ("plugin_error", report.plugin_errors)):
        for e in errors:
            case = ET.SubElement(suite, "testcase", classname=f"aml_doctor.{kind}", name=e.rule)
            error = ET.SubElement(case, "error", message=e.error.strip().splitlines()[-1] if e.error.strip() else kind, type=kind)
            error.text = e.error

    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(counts["findings"]))
    suite.set("errors", str(counts["rule_errors"] + counts["plugin_errors"]))
    suite.set("skipped", str(counts["not_checked"]))
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
