"""Reports fit for a ticket: grouped "not checked", no empty fields, pasted text called pasted
text, counts that agree across formats, one verdict vocabulary, finding Markdown rendered safely
in HTML, JUnit passes, the stage strip and the time line in every HTML report."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_factory import Page, make_report

from aml_doctor.cli import pipeline as cli
from aml_doctor.evidence import store as evidence
from aml_doctor.cli.config import Config
from aml_doctor.findings import Verdict
from aml_doctor.engine.plugins import load_plugins
from aml_doctor.reports import FORMATS, render
from aml_doctor.reports.fleet import FLEET_LABELS, render_fleet
from aml_doctor.reports.mdhtml import md_to_html, md_to_inline_html
from aml_doctor.reports.view import VERDICT_TEXT

SCENARIOS = Path(__file__).parent / "scenarios"
NO_WORKSPACE = "no workspace given (--workspace-name, or a config.json here / --workspace-config)"
DESCRIBE_WITHOUT_NAME = """Namespace:    azureml-ws
Containers:
  scorer:
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Exit Code:    3
    Ready:          False
    Restart Count:  7
Events:
  Type     Reason   Age                From     Message
  ----     ------   ----               ----     -------
  Warning  BackOff  2m (x30 over 10m)  kubelet  Back-off restarting failed container
"""


class _Loaded:
    errors = ()


def _diagnose(ev):
    rules = load_plugins().rules
    return cli.diagnose(ev, rules, Config(), _Loaded())


def _without_workspace(tmp_path: Path, name: str = "crashloop-init-keyerror") -> str:
    """A scenario as a live run without -w collects it: no azureml/ folder, and the manifest says why."""
    target = tmp_path / name
    shutil.copytree(SCENARIOS / name, target)
    shutil.rmtree(target / "azureml", ignore_errors=True)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["collected"] = [c for c in manifest["collected"] if not c.startswith("azureml") and c != "operation"]
    manifest["not_collected"] = [{"what": w, "error": NO_WORKSPACE} for w in ("azureml_service", "azureml_logs", "azureml_init_logs")]
    (target / "manifest.json").write_text(json.dumps(manifest))
    return str(target)


@pytest.fixture
def live_like(tmp_path):
    return _diagnose(evidence.load(_without_workspace(tmp_path)))


@pytest.fixture
def pasted():
    return _diagnose(evidence.from_texts([("describe.txt", DESCRIBE_WITHOUT_NAME.encode())]))


def test_not_checked_is_one_line_per_missing_source(live_like):
    partly = [n for n in live_like.not_checked if n.reason.startswith("partly checked")]
    assert len(partly) >= 10  # the case the grouping exists for
    text = render(live_like, "text")
    lines = [line for line in text.splitlines() if line.startswith("  not checked: ")]
    workspace_lines = [line for line in lines if NO_WORKSPACE in line]
    assert len(workspace_lines) == 1
    assert all(n.rule in workspace_lines[0] for n in partly if NO_WORKSPACE in n.reason)
    assert "partly checked (without azureml_service" in workspace_lines[0]
    assert len(lines) < len(partly)
    not_run = len(live_like.not_checked) - len(partly)
    assert f"rules run: {live_like.rules_run} ({len(partly)} partly checked) · not run: {not_run}" in text
    doc = json.loads(render(live_like, "json"))
    assert doc["summary"]["partly_checked"] == len(partly) and doc["summary"]["not_run"] == not_run
    md = render(live_like, "md")
    assert f"## Not checked ({len(partly)} partly checked, {not_run} not run)" in md
    assert sum(1 for line in md.splitlines() if line.startswith("- ") and "no workspace given" in line and "partly checked" in line) == 1
    page = Page(render(live_like, "html"))
    assert f"Not checked ({len(partly)} partly checked, {not_run} not run)" in page.all_text()


def test_pasted_text_has_no_empty_fields_and_is_called_pasted_text(pasted):
    text = render(pasted, "text")
    head = text.splitlines()[:2]
    assert head == ["aml-doctor 0.1.0", "Evidence: pasted text"]
    assert "the bundle" not in text and "in the pasted text" in text
    assert "  " not in pasted.findings[0].finding.title and pasted.findings[0].finding.title.startswith("The scoring pod")
    md = render(pasted, "md")
    assert md.startswith("# aml-doctor report: pasted text\n")
    assert "**Service:**" not in md and "``" not in md.split("\n## ", 1)[0] and "collected ," not in md
    html = render(pasted, "html")
    dts = re.findall(r"<dt>([^<]*)</dt>", html)
    assert "Evidence" in dts and not {"Namespace", "Workspace", "Service"} & set(dts)
    assert "<h1>pasted text</h1>" in html


def test_counts_agree_across_formats(live_like):
    report = live_like
    doc = json.loads(render(report, "json"))
    symptoms = doc["summary"]["symptoms"]
    md = render(report, "md")
    html = render(report, "html")
    text = render(report, "text")
    heading = re.search(r"## Symptoms explained by the root cause \((\d+)\)", md)
    assert (int(heading.group(1)) if heading else 0) == symptoms
    heading = re.search(r"Symptoms explained by the root cause \((\d+)\)", html)
    assert (int(heading.group(1)) if heading else 0) == symptoms
    assert text.count("(explained by the root cause)") == symptoms
    assert doc["summary"]["findings"] == len(doc["findings"]) == len(re.findall(r'<article class="finding', html))
    junit = ET.fromstring(render(report, "junit"))
    assert int(junit.get("failures")) == doc["summary"]["findings"]
    assert int(junit.get("skipped")) == doc["summary"]["not_run"]


def test_one_verdict_vocabulary_in_every_format_and_the_fleet(live_like):
    assert set(VERDICT_TEXT) == set(Verdict)  # every verdict has its words
    doc = json.loads(render(live_like, "json"))
    assert doc["verdict"] in {v.value for v in Verdict}
    junit = ET.fromstring(render(live_like, "junit"))
    assert junit.find(".//property[@name='verdict']").get("value") == doc["verdict"]
    assert set(FLEET_LABELS) == {v.value for v in Verdict} | {"unknown"}

    from aml_doctor.cli.fleet import FleetRow

    rows = [FleetRow("a", "ns", "CrashLoopBackOff", doc["verdict"], "x", "AML004", "1d", live_like),
            FleetRow("b", "ns", "unknown", "unknown", "logs timed out", "", "")]
    fleet = json.loads(render_fleet(rows, "json", title="t"))
    assert [s["verdict"] for s in fleet["services"]] == [doc["verdict"], "unknown"]
    assert set(fleet["counts"]) <= set(FLEET_LABELS)


def test_junit_has_a_testcase_per_rule_that_ran(live_like):
    suite = ET.fromstring(render(live_like, "junit")).find("testsuite")
    cases = suite.findall("testcase")
    passed = [c for c in cases if not list(c) or [e.tag for e in c] == ["system-out"]]
    failing_rules = {r.finding.rule for r in live_like.findings}
    assert {c.get("name").split()[0] for c in passed} == set(live_like.rules_ran) - failing_rules
    assert len(live_like.rules_ran) == live_like.rules_run
    partly = [c for c in passed if c.find("system-out") is not None]
    assert partly and all("partly checked" in c.find("system-out").text for c in partly)
    assert int(suite.get("tests")) == len(cases)


def test_finding_markdown_is_rendered_and_escaped():
    html = str(md_to_html("Fix `score.py` **now**: <script>alert(1)</script> [docs](https://learn.microsoft.com/x) "
                          "[bad](javascript:alert(1)) [plain](http://example.com)"))
    assert "<code>score.py</code>" in html and "<strong>now</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://learn.microsoft.com/x" rel="noopener noreferrer">docs</a>' in html
    assert 'href="javascript' not in html and 'href="http://' not in html  # only https becomes a link
    assert "<img" not in str(md_to_inline_html("![x](https://example.com/x.png)"))


def test_html_finding_text_has_no_literal_markdown():
    report = make_report()
    page = Page(render(report, "html"))
    text = page.all_text()
    for r in report.findings:
        if "`" in r.finding.explanation:
            assert r.finding.explanation not in text  # the backticks became <code>, not literal text
    assert "code" in page.tags()


@pytest.mark.parametrize("name", ["crashloop-init-keyerror", "healthy", "mount-blobfuse-403", "text-describe-pod-failedmount"])
def test_every_html_report_opens_with_the_stage_strip(name):
    directory = SCENARIOS / name
    if (directory / "kubernetes").is_dir() or (directory / "azureml").is_dir():
        report = _diagnose(evidence.load(str(directory)))
    else:
        texts = [(p.name, p.read_bytes()) for p in sorted((directory / "text").iterdir())]
        report = _diagnose(evidence.from_texts(texts))
    html = render(report, "html")
    header = html[html.index('<header class="page-head">'):html.index("</header>")]
    assert 'id="stage-strip"' in header and "<svg" in header
    states = re.findall(r'data-stage="(\w+)" data-state="(\w+)"', header)
    assert [s for s, _ in states] == ["build", "schedule", "pull", "mount", "download", "init", "probes", "run"]
    root = report.root_cause
    if report.verdict is Verdict.NO_PROBLEM_FOUND:
        assert {st for _, st in states} == {"passed"}
    elif root is not None and report.verdict is Verdict.ROOT_CAUSE_FOUND:
        marked = re.findall(r'class="chip state-failed marked" data-stage="(\w+)"', header)
        assert len(marked) == 1
        after = [st for _, st in states][[s for s, _ in states].index(marked[0]) + 1:]
        assert set(after) <= {"not_reached"}
    # Every state is in words too, not only in colour.
    assert all(word in header for word in ("passed", "failed here", "not reached", "not known") if f"state-{word.replace(' ', '_')}" in header)


def test_event_time_line_when_events_are_in_the_evidence(tmp_path):
    report = _diagnose(evidence.load(str(SCENARIOS / "crashloop-init-keyerror")))
    assert report.events
    html = render(report, "html")
    section = html[html.index('<section id="events">'):]
    section = section[: section.index("</section>")]
    events = re.findall(r'<g class="event (warning|normal)" data-type="(\w+)">', section)
    assert len(events) == len(report.events)
    assert ("warning", "Warning") in events and "BackOff" in section
    assert "◆ Warning, ● Normal" in section  # the key says which marker is which
    healthy_text = _diagnose(evidence.from_texts([("x.txt", b"KeyError: 'MODEL_NAME'\n")]))
    assert '<section id="events">' not in render(healthy_text, "html")


def test_pictures_are_inline_svg_only():
    html = render(_diagnose(evidence.load(str(SCENARIOS / "crashloop-init-keyerror"))), "html")
    page = Page(html)
    assert "script" not in page.tags() and "img" not in page.tags() and "image" not in page.tags()
    assert "foreignObject" not in html and "xlink:href" not in html and "url(" not in "".join(page.styles)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_live_like_report(live_like, fmt):
    assert render(live_like, fmt)


def test_v2_reports_show_the_online_endpoint_stages():
    import dataclasses

    from aml_doctor.reports.charts import stage_strip

    report = _diagnose(evidence.load(str(SCENARIOS / "crashloop-init-keyerror")))
    v2 = dataclasses.replace(report, platform="k8s_online_v2")
    strip = stage_strip(v2)
    assert [c.key for c in strip.chips] == ["build", "provision", "pull", "download", "init", "probes", "run"]
    assert [c.key for c in strip.chips if c.marked] == ["init"]
    assert [c.state for c in strip.chips] == ["passed"] * 4 + ["failed", "not_reached", "not_reached"]
