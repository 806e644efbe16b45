"""The command line: listing and explaining rules, exit codes, pasted text, and cold start hygiene."""

import json
import subprocess
import sys

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import BundleBuilder, crashloop_pod, pod

INIT_FAILURE_LOGS = """\
2026-11-20T09:41:05,512345678+00:00 - gunicorn/run 
Starting gunicorn 20.1.0
Listening at: http://127.0.0.1:31311 (58)
Using worker: sync
worker timeout is set to 300
Booting worker with pid: 96
2026-11-20 09:41:06,904 | root | INFO | Invoking user's init function
2026-11-20 09:41:06,911 | root | ERROR | User's init function failed
2026-11-20 09:41:06,912 | root | ERROR | Encountered Exception Traceback (most recent call last):
  File "/var/azureml-server/aml_blueprint.py", line 191, in register
    main.init()
  File "/var/azureml-app/main.py", line 35, in init
    driver_module_spec.loader.exec_module(driver_module)
  File "/var/azureml-app/score.py", line 17, in init
    model_name = os.environ["MODEL_NAME"]
  File "/azureml-envs/azureml_4d1c2e/lib/python3.8/os.py", line 675, in __getitem__
    raise KeyError(key) from None
KeyError: 'MODEL_NAME'

Worker exiting (pid: 96)
Shutting down: Master
Reason: Worker failed to boot.
2026-11-20T09:41:12,102345678+00:00 - gunicorn/finish 3 0
2026-11-20T09:41:12,103456789+00:00 - Exit code 3 is not normal. Killing image.
"""


def _crashloop_bundle(tmp_path):
    b = BundleBuilder(service="scorer", workspace="ws1")
    p = crashloop_pod("scorer", "azureml-ws1")
    b.add("pods", p)
    b.log(p["metadata"]["name"], "scorer", INIT_FAILURE_LOGS, previous=True)
    return b.write(tmp_path / "bundle")


def test_analyze_json_names_the_root_cause_and_exits_1(cli, tmp_path):
    result = cli("analyze", _crashloop_bundle(tmp_path), "--format", "json")
    assert result.code == ExitCode.FINDINGS, result.err
    report = json.loads(result.out)
    first = report["findings"][0]
    assert first["rule"] == "AML004" and first["category"] == "entry_script_init_error"
    assert "score.py line 17" in first["title"]
    assert report["findings"][1]["stage"]["id"] == "container" and report["findings"][1]["stage"]["symptom"]


def test_fail_on_threshold_controls_the_exit_code(cli, tmp_path):
    path = _crashloop_bundle(tmp_path)
    assert cli("analyze", path, "--fail-on", "never").code == ExitCode.OK
    healthy = BundleBuilder(service="scorer", workspace="ws1").add("pods", pod("scorer", "azureml-ws1")).write(tmp_path / "h")
    assert cli("analyze", healthy).code == ExitCode.OK


def test_pasted_text_from_stdin(cli):
    result = cli("analyze", "--text", "-", "--format", "json", stdin=INIT_FAILURE_LOGS.encode())
    assert result.code == ExitCode.FINDINGS, result.err
    report = json.loads(result.out)
    assert report["findings"][0]["rule"] == "AML004"
    assert report["findings"][0]["evidence"][0]["locator"].startswith("text/stdin.txt:")


def test_select_and_ignore(cli, tmp_path):
    path = _crashloop_bundle(tmp_path)
    result = cli("analyze", path, "--format", "json", "--ignore", "AML004")
    assert all(f["rule"] != "AML004" for f in json.loads(result.out)["findings"])
    result = cli("analyze", path, "--format", "json", "--select", "AML005")
    report = json.loads(result.out)
    # The crash in the logs is still there: with the rule that explains it not selected, the
    # verdict is "unrecognised", never an all-clear.
    assert report["findings"] == [] and result.code == ExitCode.UNRECOGNISED
    assert report["verdict"] == "unrecognised" and report["unexplained"]


def test_rules_lists_every_rule_by_stage_with_its_plugin(cli):
    result = cli("rules", "--format", "json")
    assert result.code == ExitCode.OK
    rules = json.loads(result.out)
    ids = [r["id"] for r in rules]
    assert {"AML001", "AML002", "AML003", "AML004", "AML005"} <= set(ids)
    from aml_doctor.findings import Stage

    stages = [Stage[r["stage"].upper()] for r in rules]
    assert stages == sorted(stages)
    assert all(r["plugin"] == "builtin_rules" for r in rules if r["id"].startswith("AML"))
    text = cli("rules").out
    assert "image build" in text and "AML001" in text


def test_rules_lists_the_sub_ids_that_select_and_ignore_take(cli):
    rules = {r["id"]: r for r in json.loads(cli("rules", "--format", "json").out)}
    modes = {m["id"]: m["category"] for m in rules["AML004"]["modes"]}
    assert modes["AML004[import-error]"] == "entry_script_import_error"
    assert modes["AML004[init-error]"] == "entry_script_init_error"
    # Every listed sub-id is one that --ignore accepts without the "names none of its modes" warning.
    for sub_id in modes:
        assert "has no failure mode" not in cli("analyze", "--text", "-", "--ignore", sub_id, stdin=b"KeyError: 'x'\n").err
    assert "has no failure mode" in cli("analyze", "--text", "-", "--ignore", "AML004[bogus]", stdin=b"KeyError: 'x'\n").err
    assert "[import-error]" in cli("rules").out


def test_explain_prints_the_docs(cli):
    result = cli("explain", "AML004")
    assert result.code == ExitCode.OK
    for section in ("## What it checks", "## Why it happens", "## Evidence", "## Fix"):
        assert section in result.out
    assert cli("explain", "pod-not-ready").out == result.out
    missing = cli("explain", "AML999")
    assert missing.code == ExitCode.USAGE_ERROR and "aml-doctor rules" in missing.err


def test_usage_errors_exit_2(cli):
    assert cli("analyze").code == ExitCode.USAGE_ERROR
    assert cli("analyze", "--format", "pdf", "x").code == ExitCode.USAGE_ERROR
    assert cli().code == ExitCode.USAGE_ERROR


def test_invalid_config_names_the_key(cli, tmp_path):
    (tmp_path / ".aml-doctor.toml").write_text('fail_on = "high"\n')
    result = cli("rules")
    assert result.code == ExitCode.USAGE_ERROR
    assert "unknown key 'fail_on'" in result.err and ".aml-doctor.toml" in result.err
    (tmp_path / ".aml-doctor.toml").write_text('[severity]\nAML004 = "urgent"\n')
    result = cli("rules")
    assert result.code == ExitCode.USAGE_ERROR and "severity.AML004" in result.err


def test_config_overrides_severity_and_fail_on(cli, tmp_path):
    path = _crashloop_bundle(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.aml-doctor]\nfail-on = "critical"\n[tool.aml-doctor.severity]\nAML004 = "low"\n')
    result = cli("analyze", path, "--format", "json")
    report = json.loads(result.out)
    assert {f["severity"] for f in report["findings"] if f["rule"] == "AML004"} == {"low"}
    assert result.code == ExitCode.OK


def test_exempt_service_is_not_analysed(cli, tmp_path):
    path = _crashloop_bundle(tmp_path)
    (tmp_path / ".aml-doctor.toml").write_text('exempt-services = ["scorer"]\n')
    result = cli("analyze", path)
    assert result.code == ExitCode.OK and "exempt" in result.err


def test_help_does_not_import_heavy_sdks():
    """Cold start: the CLI imports Jinja2 and the Kubernetes, Azure and AzureML SDKs only when needed."""
    code = (
        "import sys\n"
        "from aml_doctor.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('jinja2', 'kubernetes', 'azure.storage.blob', 'azureml.core', 'yaml') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "usage: aml-doctor" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_a_weak_lead_is_a_possible_cause_not_a_diagnosis(cli):
    """The real DeploymentTimedOut-after-TLS report (MachineLearningNotebooks#1767) only hints at TLS."""
    from pathlib import Path

    path = str(Path(__file__).parent / "fixtures" / "v1-aks-deploy-error-timedout-ssl-01-partial.txt")
    report = json.loads(cli("analyze", "--text", path, "--format", "json").out)
    assert report["verdict"] == "possible_cause"
    assert report["findings"][0]["confidence"] < 0.5
    assert report["findings"][-1]["rule"] == "AML019"
    assert "Possible cause" in cli("analyze", "--text", path).out


def _pytest_in(project) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, timeout=300)


def test_new_rule_with_brackets_in_its_phrase_passes_its_own_cases_under_plain_pytest(cli, tmp_path):
    """The phrase is plain text: brackets, parentheses and a star are matched as written, not as a
    regular expression, and the pytest runner new-rule writes beside the cases runs them."""
    phrase = "Licence check failed (code [42]): see /opt/*.lic"
    made = cli("new-rule", "ACME007", "licence-check-failed", "--phrase", phrase, "--summary", 'The "licence" check\\ failed')
    assert made.code == ExitCode.OK, made.err
    assert "wrote tests/test_cases.py" in made.out
    run = _pytest_in(tmp_path)
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout + run.stderr
    # A second rule's cases join the same runner, which is left as it was.
    runner = (tmp_path / "tests" / "test_cases.py").read_text()
    again = cli("new-rule", "ACME008", "weights-missing", "--phrase", "weights file [model.pt] (v2) missing")
    assert again.code == ExitCode.OK and "test_cases.py" not in again.out
    assert (tmp_path / "tests" / "test_cases.py").read_text() == runner
    run = _pytest_in(tmp_path)
    assert run.returncode == 0 and "4 passed" in run.stdout, run.stdout + run.stderr
    assert "ACME008" in json.dumps(json.loads(cli("rules", "--rules-dir", "team_rules", "-o", "json").out))


def test_new_rule_refuses_a_phrase_that_is_not_one_line(cli, tmp_path):
    for phrase in ("two\nlines", "ab", "bell\x07"):
        result = cli("new-rule", "ACME009", "bad-phrase", "--phrase", phrase)
        assert result.code == ExitCode.USAGE_ERROR and "--phrase" in result.err
    assert not (tmp_path / "team_rules").exists()
