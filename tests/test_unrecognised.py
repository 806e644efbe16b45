"""Evidence with an error no rule explains is "unrecognised" (exit 5) in every format, never "no
problem found"; an empty paste is a usage error; "no problem found" needs evidence of health."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from aml_doctor.common.exitcodes import ExitCode

# A real line from a public report (shared/real-world/v2-extension-get-all-azureml-namespace-01.txt
# style): an error text aml-doctor has no rule for.
UNKNOWN = b"Error: the frobnicator service returned 418 and the deployment failed\n"


def test_unexplained_error_text_is_unrecognised_with_its_line_and_what_would_decide(cli, tmp_path):
    paste = tmp_path / "p.txt"
    paste.write_bytes(UNKNOWN)
    result = cli("analyze", "--text", str(paste), "--format", "json")
    assert result.code == ExitCode.UNRECOGNISED, result.err
    doc = json.loads(result.out)
    assert doc["verdict"] == "unrecognised"
    assert doc["unexplained"][0]["excerpt"].startswith("Error: the frobnicator")
    assert doc["unexplained"][0]["locator"].endswith(":1")
    assert any("get-logs" in step or "get_logs" in step for step in doc["next_evidence"])


@pytest.mark.parametrize("fmt,needle", [
    ("text", "Error lines no rule explains"), ("md", "## Error lines no rule explains"),
    ("html", 'id="unexplained"'), ("sarif", '"ruleId": "unrecognised"'), ("junit", 'name="unrecognised"'),
])
def test_every_format_says_unrecognised(cli, tmp_path, fmt, needle):
    paste = tmp_path / "p.txt"
    paste.write_bytes(UNKNOWN)
    result = cli("analyze", "--text", str(paste), "--format", fmt)
    assert result.code == ExitCode.UNRECOGNISED
    assert needle in result.out
    if fmt == "junit":
        suite = ET.fromstring(result.out).find("testsuite")
        assert suite.get("failures") == "1"


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_an_empty_paste_is_a_usage_error(cli, tmp_path, data):
    paste = tmp_path / "p.txt"
    paste.write_bytes(data)
    result = cli("analyze", "--text", str(paste))
    assert result.code == ExitCode.USAGE_ERROR
    assert "empty" in result.err


def test_text_that_shows_neither_failure_nor_health_is_not_an_all_clear(cli, tmp_path):
    paste = tmp_path / "p.txt"
    paste.write_bytes(b"Deploying model to the endpoint, please wait\n")
    result = cli("analyze", "--text", str(paste), "--format", "json")
    assert json.loads(result.out)["verdict"] == "unrecognised"


def test_a_healthy_log_is_no_problem_found(cli, tmp_path):
    paste = tmp_path / "p.txt"
    paste.write_bytes(
        b"2020-03-12T13:34:44,500 | root | INFO | Users's init has completed successfully\n"
        b"[2020-03-12 13:34:45 +0000] [10] [INFO] Listening at: http://127.0.0.1:31311 (10)\n"
    )
    result = cli("analyze", "--text", str(paste), "--format", "json")
    assert result.code == ExitCode.OK, result.err
    assert json.loads(result.out)["verdict"] == "no_problem_found"


def _analyze_json(cli, tmp_path, data: bytes):
    paste = tmp_path / "p.txt"
    paste.write_bytes(data)
    result = cli("analyze", "--text", str(paste), "--format", "json")
    return result, json.loads(result.out)


def test_a_worker_that_failed_to_boot_after_the_start_banner_is_not_an_all_clear(cli, tmp_path):
    # Lines from an ACI log in Azure/ai-toolkit-iot-edge#20 (corpus case
    # aitoolkitiotedge-20-aci-gunicorn-worker-exception), whose traceback the thread cut: gunicorn says
    # it is listening, then that the worker raised while booting.
    result, report = _analyze_json(
        cli, tmp_path,
        b"Listening at: http://127.0.0.1:31311 (13) \nUsing worker: sync \nworker timeout is set to 300 \n"
        b"Booting worker with pid: 45 \nException in worker process\n",
    )
    assert report["verdict"] != "no_problem_found"
    assert result.code != ExitCode.OK
    assert [f["rule"] for f in report["findings"]][:1] == ["AML004"]


def test_a_bare_symptom_gets_ranked_possible_causes_with_a_command_each(cli, tmp_path):
    # The v1 wrapper AzureML prints for every crash loop (shared/real-world, KubernetesDeploymentFailed).
    _, doc = _analyze_json(
        cli, tmp_path,
        b'"code": "KubernetesDeploymentFailed",\n"message": "Kubernetes Deployment failed",\n'
        b'"details": [{"code": "CrashLoopBackOff", "message": "Your container application crashed. This may be caused by errors in your scoring file\'s init() function."}]\n',
    )
    assert doc["verdict"] in ("symptoms_only", "unrecognised")
    assert doc["possible_causes"], doc
    assert all(p["confirm"] for p in doc["possible_causes"])
    shares = [p["share"] for p in doc["possible_causes"]]
    assert shares == sorted(shares, reverse=True)


def test_an_error_line_quoting_a_secret_reaches_stderr_redacted(cli, tmp_path):
    # An SDK answer quoted in an error line carries what the service sent back, key included.
    missing = tmp_path / "no-such-dir" / "AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NQ==.txt"
    result = cli("analyze", "--text", str(missing))
    assert result.code == ExitCode.USAGE_ERROR
    assert "c2VjcmV0c2VjcmV0" not in result.err and "<redacted:" in result.err


def test_the_help_lists_every_exit_code():
    from aml_doctor.cli.main import build_parser

    text = " ".join(build_parser().format_help().split())
    codes = text[text.index("Exit codes:"):]
    for code in ExitCode:
        assert f" {int(code)} " in codes, code


HEALTHY_SCENARIOS = [
    "healthy", "restarted-once-now-ready", "model-path-present", "ports-standard-v1", "mount-transient-recovered",
    "build-succeeded-with-warnings", "v2-healthy", "v2-managed-healthy", "v2-scoring-200",
    "v2-storage-init-restarted-recovered", "v2-azureml-fe-restarted-ready",
]


@pytest.mark.parametrize("name", HEALTHY_SCENARIOS)
def test_a_healthy_service_whose_logs_print_timeouts_and_old_errors_is_no_problem_found(name):
    # Healthy servers print "Scoring timeout is found", "gunicorn.error", pip's resolver notice and,
    # in a previous container's log, the failure they recovered from: none is an outright failure now.
    from pathlib import Path

    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze, signals_for
    from aml_doctor.engine.plugins import load_plugins

    rules = load_plugins().rules
    path = Path(__file__).parent / "scenarios" / name
    report = analyze(evidence_mod.load(str(path), signals=signals_for(rules)), rules)
    assert report.verdict.value == "no_problem_found", [e.excerpt for e in report.unexplained]
    assert report.unexplained == ()


def test_beside_a_root_cause_the_lines_a_finding_quotes_are_not_listed_again(cli, tmp_path):
    # A real log (the corpus's Triton case): init() failed with a chained traceback printed twice,
    # each message once with the logger's prefix and once without.
    from aml_doctor.knowledge import corpus

    case = next(c for c in corpus.load_cases() if c.id == "azmlexfork-gvashishtha-local-triton-stack-latest-init-connection-refused")
    paste = tmp_path / "p.txt"
    paste.write_text(case.evidence, encoding="utf-8")
    doc = json.loads(cli("analyze", "--text", str(paste), "--format", "json").out)
    assert doc["verdict"] == "root_cause_found"
    first_line = {int(e["locator"].rsplit(":", 1)[1]): e["excerpt"].count("\n") + 1 for e in doc["findings"][0]["evidence"]}
    listed = {int(e["locator"].rsplit(":", 1)[1]): e["excerpt"] for e in doc["unexplained"]}
    for start, length in first_line.items():
        assert not any(start <= n < start + length for n in listed), (start, length, listed)
    # The prefixed copy of the quoted "User's init function failed" is that line, not another error.
    assert not any(x.endswith("User's init function failed") for x in listed.values()), listed
    # What no finding quotes is still shown, under a heading that does not call it unexplained.
    assert any("Worker failed to boot" in x for x in listed.values())
    text = cli("analyze", "--text", str(paste)).out
    assert "Other error lines (no finding quotes them)" in text
    assert "Error lines no rule explains" not in text
