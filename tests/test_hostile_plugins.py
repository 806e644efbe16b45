"""Plugins are guests: each misbehaviour the audit tried costs the misbehaving rule alone.

Every case runs the real command on a crash-looping service with one misbehaving plugin beside
the built-in rules, and checks the same three things: the built-in rules' findings survive, the
exit code is the documented one (1: findings), and stdout is still one valid JSON document.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import BundleBuilder, crashloop_pod

HEADER = """
import os, sys, time
import aml_doctor
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.findings import Finding
"""

RULE = """
class Bad(Rule):
    id = "BAD001"
    name = "bad"
    requires = ("pods",)
{attrs}
    def check(self, ev):
{body}

@aml_doctor.hookimpl
def aml_doctor_rules():
{hook}
"""

GOOD_FINDING = 'yield self.finding(title="t", explanation="e", evidence=[EvidenceItem("x", "y")], fix=Fix("f"))'

# name -> (class attributes, check() body, hook body, module-level code, what the error must say)
CASES = {
    "signals-not-strings": ("signals = (1, 2)", "return []", "return [Bad]", "", "field signals"),
    "requires-none": ("requires = None", "return []", "return [Bad]", "", "field requires"),
    "id-none": ("id = None", "return []", "return [Bad]", "", "field id"),
    "severity-a-string": ("", 'yield self.finding(title="t", explanation="e", evidence=[], fix=Fix("f"), severity="high")',
                          "return [Bad]", "", "finding field severity"),
    "stage-a-number": ("", 'yield self.finding(title="t", explanation="e", evidence=[], fix=Fix("f"), stage=5)',
                       "return [Bad]", "", "finding field stage"),
    "evidence-of-strings": ("", 'yield self.finding(title="t", explanation="e", evidence=["x"], fix=Fix("f"))',
                            "return [Bad]", "", "finding field evidence"),
    "title-not-a-string": ("", 'yield self.finding(title=None, explanation="e", evidence=[], fix=Fix("f"))',
                           "return [Bad]", "", "finding field title"),
    "system-exit-in-check": ("", "raise SystemExit(3)", "return [Bad]", "", "SystemExit"),
    "keyboard-interrupt-in-check": ("", "raise KeyboardInterrupt", "return [Bad]", "", "KeyboardInterrupt"),
    "system-exit-in-hook": ("", "return []", "raise SystemExit(0)", "", "SystemExit"),
    "keyboard-interrupt-in-hook": ("", "return []", "raise KeyboardInterrupt", "", "KeyboardInterrupt"),
    "system-exit-at-import": ("", "return []", "return [Bad]", "sys.exit(1)", "SystemExit"),
    "loops-forever": ("", "while True:\n    pass", "return [Bad]", "", "took longer than"),
    "sleeps-in-check": ("", "time.sleep(3600)\nreturn []", "return [Bad]", "", "took longer than"),
    "sleeps-at-import": ("", "return []", "return [Bad]", "time.sleep(3600)", "took longer than"),
    "sleeps-in-hook": ("", "return []", "time.sleep(3600)\nreturn [Bad]", "", "took longer than"),
    "clears-the-pods": ("", "ev.objects('pods').clear()\nreturn []", "return [Bad]", "", "read-only"),
    "rewrites-a-pod": ("", "ev.objects('pods')[0]['status'] = {}\nreturn []", "return [Bad]", "", "read-only"),
    "empties-container-statuses": (
        "", "ev.objects('pods')[0]['status']['containerStatuses'].pop()\nreturn []", "return [Bad]", "", "read-only"),
    "replaces-the-evidence": ("", "ev.service_json = {}\nreturn []", "return [Bad]", "", "read-only"),
}


@pytest.fixture
def bundle(tmp_path):
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    return str(b.write(tmp_path / "bundle"))


def _plugin(tmp_path, attrs, body, hook, module_code="") -> str:
    indent = lambda text, n: textwrap.indent(text, " " * n)  # noqa: E731
    source = HEADER + module_code + "\n" + RULE.format(
        attrs=indent(attrs, 4) + "\n" if attrs else "", body=indent(body, 8), hook=indent(hook, 4))
    path = tmp_path / "bad_plugin.py"
    path.write_text(source)
    return str(path)


FAST = {"AML_DOCTOR_RULE_TIMEOUT": "3", "AML_DOCTOR_PLUGIN_TIMEOUT": "3"}


def _json_report(result) -> dict:
    assert "Traceback" not in result.err, result.err
    return json.loads(result.out)  # raises if anything else reached stdout


def _builtin_findings(report: dict) -> set[str]:
    return {f["rule"] for f in report["findings"] if f["rule"].startswith("AML")}


def _errors(report: dict) -> str:
    return json.dumps(report.get("rule_errors", [])) + json.dumps(report.get("plugin_errors", []))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_misbehaving_plugin_costs_its_rule_alone(cli, bundle, tmp_path, case):
    attrs, body, hook, module_code, expected = CASES[case]
    plugin = _plugin(tmp_path, attrs, body, hook, module_code)
    baseline = _json_report(cli("analyze", bundle, "--format", "json"))
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS, result.err
    assert _builtin_findings(report) == _builtin_findings(baseline) != set()
    errors = _errors(report) + result.err
    assert expected in errors, errors
    if expected.startswith(("field", "finding field")):
        assert "bad_plugin" in errors and ("BAD001" in errors or "Bad" in errors)


def test_a_rule_that_prints_is_captured_and_reported(cli, bundle, tmp_path):
    plugin = _plugin(tmp_path, "", 'print("{ not json"); sys.stdout.write("more")\n' + GOOD_FINDING, "return [Bad]",
                     module_code='print("printed at import")')
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS
    assert "BAD001" in {f["rule"] for f in report["findings"]}
    assert any("BAD001" in n and "stdout" in n for n in report["notes"]), report["notes"]
    assert "printed at import" not in result.out and "not json" not in result.out


def test_findings_per_rule_are_capped_with_a_note(cli, bundle, tmp_path):
    body = ("i = 0\nwhile True:\n    i += 1\n"
            '    yield self.finding(title=f"t{i}", subject=f"s{i}", explanation="e" * 150, evidence=[EvidenceItem("x", "y" * 150)], fix=Fix("f"))')
    plugin = _plugin(tmp_path, "", body, "return [Bad]")
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS
    assert sum(f["rule"] == "BAD001" for f in report["findings"]) == 100
    assert any("BAD001" in n and "more than 100 findings" in n for n in report["notes"])


def test_evidence_per_finding_is_capped_with_a_note(cli, bundle, tmp_path):
    body = ('yield self.finding(title="t", explanation="e", fix=Fix("f"), '
            'evidence=[EvidenceItem(f"x{i}", "y" * 1_000_000) for i in range(10)])')
    plugin = _plugin(tmp_path, "", body, "return [Bad]")
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    bad = [f for f in report["findings"] if f["rule"] == "BAD001"]
    assert len(bad) == 1
    assert sum(len(e["excerpt"]) for e in bad[0]["evidence"]) <= 64 * 1024
    assert any("BAD001" in n and "cut" in n for n in report["notes"])


def test_a_plugin_that_hangs_at_import_does_not_hold_the_run(cli, bundle, tmp_path):
    plugin = _plugin(tmp_path, "", "return []", "return [Bad]", module_code="time.sleep(3600)")
    started = time.monotonic()
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    # Generous: the budget is 3 s; the point is that the run does not wait for the sleeper.
    assert time.monotonic() - started < 60
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS
    assert "took longer than" in _errors(report) + result.err


def test_a_real_ctrl_c_still_stops_the_run_with_130(bundle, tmp_path):
    marker = tmp_path / "in-check"
    plugin = _plugin(tmp_path, "", f"open({str(marker)!r}, 'w').close()\ntime.sleep(3600)\nreturn []", "return [Bad]")
    env = {**os.environ, "AML_DOCTOR_RULE_TIMEOUT": "600"}
    proc = subprocess.Popen([sys.executable, "-m", "aml_doctor", "analyze", bundle, "--format", "json", "--plugin", plugin],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "slow"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert b"Traceback" not in err and b"interrupted" in err


def test_a_rule_writing_to_file_descriptor_1_is_captured_and_reported(cli, bundle, tmp_path):
    # os.write(1, ...) bypasses sys.stdout; 200 KB is more than a pipe holds, so a capture that
    # was not drained would hang the rule instead of finishing it.
    plugin = _plugin(tmp_path, "", 'os.write(1, b"{ not json\\n" * 20000)\n' + GOOD_FINDING, "return [Bad]",
                     module_code='os.write(1, b"{ written at import\\n")')
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS
    assert "BAD001" in {f["rule"] for f in report["findings"]}
    assert any("BAD001" in n and "220000 characters" in n for n in report["notes"]), report["notes"]
    assert "not json" not in result.out and "written at import" not in result.out


def test_a_rule_left_behind_keeps_writing_to_file_descriptor_1_and_none_reaches_the_report(cli, bundle, tmp_path):
    body = 'while True:\n    os.write(1, b"{ late write\\n")\n    time.sleep(0.001)'
    plugin = _plugin(tmp_path, "", body, "return [Bad]")
    baseline = _json_report(cli("analyze", bundle, "--format", "json"))
    result = cli("analyze", bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS, result.err
    assert _builtin_findings(report) == _builtin_findings(baseline) != set()
    assert "took longer than" in _errors(report)
    assert "late write" not in result.out


CRASH_LOG = """\
Booting worker with pid: 41
Invoking user's init function
User's init function failed
Encountered Exception Traceback (most recent call last):
  File "/var/azureml-app/score.py", line 17, in init
    model_name = os.environ["MODEL_NAME"]
KeyError: 'MODEL_NAME'
Worker exiting (pid: 41)
"""

TEXT_MUTATIONS = {
    "sets-a-document-attribute": "ev.docs()[0].pod = 'another'",
    "replaces-the-segments": "ev.docs()[0].segments = ()",
    "rewrites-a-segment": "ev.docs()[0].segments[0].text = ''",
    "deletes-a-document-attribute": "del ev.docs()[0].path",
}


@pytest.mark.parametrize("case", sorted(TEXT_MUTATIONS))
def test_a_rule_that_changes_a_text_document_costs_that_rule_alone(cli, tmp_path, case):
    from aml_doctor.testing.builders import pod_name

    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    b.log(pod_name("scorer"), "scorer", CRASH_LOG)
    log_bundle = str(b.write(tmp_path / "bundle"))
    plugin = _plugin(tmp_path, "", TEXT_MUTATIONS[case] + "\nreturn []", "return [Bad]")
    baseline = _json_report(cli("analyze", log_bundle, "--format", "json"))
    result = cli("analyze", log_bundle, "--format", "json", "--plugin", plugin, env=FAST)
    report = _json_report(result)
    assert result.code == ExitCode.FINDINGS, result.err
    assert _builtin_findings(report) == _builtin_findings(baseline) != set()
    assert "KeyError" in json.dumps(report["findings"])  # the log was read, and still is
    errors = _errors(report)
    assert "BAD001" in errors and "read-only" in errors, errors
