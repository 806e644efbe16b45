"""Team rules: the example plugin installed from examples/, the scaffold, plugin options,
the plugins listing and plugin tracing."""

import json
from pathlib import Path

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import check_case, collect_cases

ROOT = Path(__file__).resolve().parent.parent
ACME_SCENARIO = ROOT / "examples" / "acme-aml-rules" / "tests" / "scenarios" / "acme-features-not-found"


def test_the_example_plugin_is_installed_listed_and_fires(cli):
    rules = {r["id"]: r for r in json.loads(cli("rules", "--format", "json").out)}
    assert rules["ACME001"]["plugin"] == "acme", "pip install -e examples/acme-aml-rules (scripts/bootstrap.sh does)"
    result = cli("analyze", str(ACME_SCENARIO), "--format", "json")
    report = json.loads(result.out)
    assert result.code == ExitCode.FINDINGS
    assert report["findings"][0]["rule"] == "ACME001"
    assert report["findings"][0]["plugin"] == "acme"
    # The built-in rule still sees the same pip failure, and ranks after the team's sharper one.
    assert "AML001" in [f["rule"] for f in report["findings"][1:]]


def test_plugin_options_come_from_the_configuration(cli, tmp_path):
    (tmp_path / ".aml-doctor.toml").write_text('[plugins.acme]\nprivate_prefixes = ["contoso-"]\n')
    report = json.loads(cli("analyze", str(ACME_SCENARIO), "--format", "json").out)
    assert "ACME001" not in [f["rule"] for f in report["findings"]]


def test_plugins_lists_versions_rules_and_broken_plugins(cli, tmp_path):
    (tmp_path / "broken_rules.py").write_text("raise RuntimeError('half-written plugin')\n")
    result = cli("plugins", "--plugin", str(tmp_path / "broken_rules.py"))
    assert result.code == ExitCode.OK
    lines = result.out.splitlines()
    assert any(l.startswith("acme") and "1.2.0" in l and "ACME001" in l for l in lines)
    assert any(l.startswith("builtin_rules") and "AML001" in l for l in lines)
    assert any(l.startswith("broken_rules") and "RuntimeError: half-written plugin" in l for l in lines)
    assert "plugin broken_rules not loaded" in result.err


def test_plugin_tracing_shows_hook_calls(cli):
    result = cli("rules", env={"AML_DOCTOR_TRACE_PLUGINS": "1"})
    assert "aml_doctor_rules" in result.err


def test_new_rule_scaffold_gives_a_listed_rule_with_passing_cases(cli, tmp_path):
    result = cli(
        "new-rule", "ACME002", "gpu-pool-required",
        "--category", "insufficient_resources_unschedulable", "--stage", "schedule",
        "--phrase", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
    )
    assert result.code == ExitCode.OK, result.err
    for path in ("team_rules/acme002_gpu_pool_required.py", "team_rules/acme002_gpu_pool_required.md", "tests/cases/ACME002.yml"):
        assert (tmp_path / path).is_file()
    listed = {r["id"]: r for r in json.loads(cli("rules", "--rules-dir", "team_rules", "--format", "json").out)}
    assert listed["ACME002"]["stage"] == "schedule"
    assert cli("explain", "ACME002", "--rules-dir", "team_rules").out.startswith("# ACME002 gpu-pool-required")
    cases = collect_cases(tmp_path / "tests" / "cases")
    assert [c.id for c in cases] == ["ACME002-fires_on_the_phrase", "ACME002-near_miss"]
    for case in cases:
        check_case(case, str(tmp_path))
    again = cli("new-rule", "ACME002", "gpu-pool-required")
    assert again.code == ExitCode.USAGE_ERROR and "already exists" in again.err
    assert cli("new-rule", "acme2", "x").code == ExitCode.USAGE_ERROR


def _walkthrough_files() -> dict[str, str]:
    """The fenced blocks of docs/writing-rules.md's "A new failure mode in three files", by the
    path each names on its first line."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "writing-rules.md").read_text(encoding="utf-8")
    section = doc.split("## A new failure mode in three files", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.DOTALL):
        first, _, rest = block.partition("\n")
        files[first.lstrip("# ").strip()] = block
    return files


def test_the_writing_rules_walkthrough_runs_as_written(tmp_path):
    from aml_doctor.testing import analyze_case, check_case, collect_cases

    files = _walkthrough_files()
    assert len(files) == 3 and any(p.startswith("tests/cases/") for p in files), sorted(files)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    cases = collect_cases(tmp_path / "tests" / "cases")
    assert [c.id for c in cases] == ["ACME003-init_cannot_unpickle_the_model"]
    check_case(cases[0], str(tmp_path / "run"))
    report = analyze_case(cases[0], str(tmp_path / "again"))
    # The declared supersedes is what keeps AML004's vaguer "init() raised" out of this report.
    assert not [r for r in report.findings if r.finding.rule_mode == "AML004[init-error]"]
    assert report.findings[0].finding.rule_mode == "ACME003[protocol-5-on-old-python]"


def test_the_walkthrough_rule_is_found_by_the_command_too(cli, tmp_path):
    files = _walkthrough_files()
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    import yaml

    case = yaml.safe_load(files[next(p for p in files if p.startswith("tests/cases/"))])
    (tmp_path / "get_logs.txt").write_text(case["cases"][0]["evidence"]["text"]["get_logs.txt"])
    out = cli("analyze", "--text", str(tmp_path / "get_logs.txt"), "--rules-dir", str(tmp_path / "team_rules"))
    assert out.code == 1, out.err
    assert "pickled with protocol 5" in out.out.split("Other findings")[0], out.out
