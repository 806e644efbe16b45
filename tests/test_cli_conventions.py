"""kubectl's and az's conventions: -o is the format, one parser with "did you mean", version,
completion, --service for names that shadow commands, --exit-zero, the kubectl plugin, and
configuration blocks that work as pasted from the README."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aml_doctor.cli.errors import UsageError
from aml_doctor.cli.main import COMMANDS, parse
from aml_doctor.cli.config import load_config
from aml_doctor.common.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = str(ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz")


def _one_error_line(result) -> str:
    assert result.out == "" and "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aml-doctor: error: "), result.err
    return lines[0]


def test_o_json_gives_json_on_stdout(cli):
    result = cli("analyze", BUNDLE, "-o", "json")
    assert result.code == ExitCode.FINDINGS
    assert json.loads(result.out)["findings"][0]["rule"] == "AML002"
    assert cli("analyze", BUNDLE, "--format", "json").out == result.out == cli("analyze", BUNDLE, "-f", "json").out
    assert cli("analyze", BUNDLE, "--output", "json").out == result.out


def test_o_with_a_file_name_is_refused_with_the_flag_that_takes_a_path(cli, tmp_path):
    line = _one_error_line(cli("analyze", BUNDLE, "-o", "report.html"))
    assert "--output-file report.html" in line and not (tmp_path / "report.html").exists()
    line = _one_error_line(cli("analyze", BUNDLE, "--output-file", "json"))
    assert "'json' is a format name" in line and "-o json" in line and not (tmp_path / "json").exists()
    ok = cli("analyze", BUNDLE, "-o", "md", "--output-file", "report.md")
    assert ok.code == ExitCode.FINDINGS and ok.out == "" and (tmp_path / "report.md").read_text().startswith("# aml-doctor report")
    assert cli("analyze", BUNDLE, "-o", "json", "--file", "./json").code == ExitCode.FINDINGS
    assert json.loads((tmp_path / "json").read_text())["verdict"] == "root_cause_found"


def test_version(cli):
    text = cli("version")
    assert text.code == 0 and text.out.splitlines()[0] == "aml-doctor 0.1.0"
    assert re.search(r"^kubernetes (\S+)$", text.out, re.M)
    data = json.loads(cli("version", "-o", "json").out)
    assert data["aml_doctor"] == "0.1.0" and "azure-storage-blob" in data["packages"]
    assert cli("--version").out.strip() == "aml-doctor 0.1.0"


def test_bash_completion_loads_and_completes_from_the_parser(cli, tmp_path):
    result = cli("completion", "bash")
    assert result.code == 0
    script = tmp_path / "c.bash"
    script.write_text(result.out)

    def complete(*words: str) -> list[str]:
        array = " ".join(f"'{w}'" for w in words)
        probe = subprocess.run(["bash", "-c", f'source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _aml_doctor; '
                                'printf "%s\\n" "${COMPREPLY[@]}"; complete -p aml-doctor kubectl-aml_doctor'],
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr
        return probe.stdout.split("\n")

    assert complete("aml-doctor", "an")[0] == "analyze"
    assert complete("aml-doctor", "analyze", "b.tgz", "-o", "")[:6] == ["text", "md", "html", "json", "sarif", "junit"]
    assert complete("aml-doctor", "svc", "--all-n")[0] == "--all-namespaces"
    assert {"bash", "zsh", "fish"} <= set(complete("aml-doctor", "completion", ""))
    assert any(line.startswith("complete -o default -F _aml_doctor") for line in complete("aml-doctor", ""))


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(cli, tmp_path, shell):
    script = cli("completion", shell)
    assert script.code == 0 and "aml-doctor" in script.out
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (scripts/bootstrap.sh installs it); the script was generated but not loaded")
    path = tmp_path / f"c.{shell}"
    path.write_text(script.out)
    if shell == "zsh":
        # As zsh runs it: bashcompinit calls the bash function in sh emulation, and zsh itself
        # filters the candidates by the word typed, so every command comes back for "an".
        probe = (f"source {path}; print -r -- $_comps[aml-doctor]; emulate -L sh; "
                 'COMP_WORDS=(aml-doctor an); COMP_CWORD=1; _aml_doctor; echo "${COMPREPLY[@]}"; '
                 'COMP_WORDS=(aml-doctor analyze b -o ""); COMP_CWORD=4; _aml_doctor; echo "${COMPREPLY[@]}"')
        out = subprocess.run(["zsh", "-c", probe], capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0 and out.stderr == "", out.stderr
        registered, commands, formats = out.stdout.splitlines()
        assert "_bash_complete" in registered and "_aml_doctor" in registered
        assert "analyze" in commands.split() and formats.split() == ["text", "md", "html", "json", "sarif", "junit"]
    else:
        probe = f'source {path}; complete -C "aml-doctor an"; complete -C "aml-doctor analyze x -o "'
        out = subprocess.run(["fish", "-c", probe], capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr
        words = [line.split("\t")[0] for line in out.stdout.splitlines()]
        assert words[0] == "analyze" and set(words[1:]) == {"text", "md", "html", "json", "sarif", "junit"}


@pytest.mark.parametrize("argv, hint", [
    (["analyse", "b.tgz"], "did you mean `aml-doctor analyze`?"),
    (["rule"], "did you mean `aml-doctor rules`?"),
    (["explian", "AML004"], "did you mean `aml-doctor explain`?"),
    (["-q", "version"], "'version' is a command and goes first"),
])
def test_misspelt_or_misplaced_commands_never_reach_a_cluster(cli, argv, hint):
    line = _one_error_line(cli(*argv))
    assert hint in line and "--service" in line


def test_a_service_named_like_a_command_takes_service():
    command, args = parse(["--service", "version", "-n", "azureml-ws"])
    assert command == "live" and args.service == ["version"]
    command, args = parse(["scorer", "--service", "rules"])
    assert args.service == ["scorer", "rules"]
    minimal = {"explain": ["AML004"], "completion": ["bash"], "new-rule": ["ACME9", "x"], "collect": ["s", "-o", "b.tgz"]}
    for name in COMMANDS:
        assert parse([name, *minimal.get(name, [])])[0] == name


def test_completion_and_version_do_not_touch_a_cluster(cli):
    # No kubeconfig exists in the test's HOME-less environment either way: these must not look for one.
    assert cli("completion", "bash").code == 0 and cli("version").code == 0


def test_top_level_help_shows_the_commands_and_the_live_flags(cli):
    out = cli("--help").out
    for word in ("--kubeconfig", "--context", "-A, --all-namespaces", "--workspace-name", "--watch", "--all",
                 "--check-access", "--output-file", "--exit-zero", "--service NAME", *COMMANDS):
        assert word in out, word
    assert cli("help", "analyze").out.startswith("usage: aml-doctor analyze")


def test_exit_zero_reports_but_does_not_fail(cli):
    result = cli("analyze", BUNDLE, "--exit-zero", "-o", "json")
    assert result.code == ExitCode.OK and json.loads(result.out)["findings"]
    assert cli("analyze", "missing.tar.gz", "--exit-zero").code == ExitCode.USAGE_ERROR  # input errors still fail


def test_unknown_flag_is_one_line(cli):
    line = _one_error_line(cli("analyze", BUNDLE, "--frmat", "json"))
    assert "unrecognized arguments: --frmat" in line


def test_kubectl_plugin(tmp_path):
    if shutil.which("kubectl") is None or shutil.which("kubectl-aml_doctor") is None:
        pytest.skip("needs kubectl and the installed kubectl-aml_doctor entry point (pip install -e .)")
    result = subprocess.run(["kubectl", "aml-doctor", "version"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("aml-doctor 0.1.0"), result.stderr
    bad = subprocess.run(["kubectl", "aml-doctor", "analyse"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "`kubectl aml-doctor analyze`" in bad.stderr


def _readme_toml_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", section, re.S)


def test_readme_config_blocks_work_as_pasted(tmp_path, monkeypatch):
    pyproject_block, own_block = _readme_toml_blocks()
    for name, block in (("pyproject.toml", pyproject_block), (".aml-doctor.toml", own_block), (".aml-doctor.toml", pyproject_block)):
        d = tmp_path / name.strip(".").replace(".", "-") / str(hash(block) % 1000)
        d.mkdir(parents=True)
        (d / name).write_text(block)
        monkeypatch.chdir(d)
        config = load_config()
        assert config.path == str(d / name)
        assert config.fail_on == "high" and config.select == ["AML0"] and config.severity["AML005"].value == "low"
        assert config.plugin_options["acme"]["mirror"].startswith("https://")


def test_every_parse_error_is_a_usage_error():
    with pytest.raises(UsageError):
        parse(["analyze", "--format", "pdf", "x"])
    with pytest.raises(UsageError):
        parse(["svc", "-n", "ns", "--timeout", "soon"])


def test_help_costs_no_sdk_import():
    code = "import sys; from aml_doctor.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'azure', 'azureml', 'rich', 'jinja2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_flags_count_before_and_after_the_service_names():
    command, args = parse(["-n", "azureml-ws", "--plugin", "a.py", "scorer", "--plugin", "b.py", "-o", "md", "ranker"])
    assert command == "live" and args.service == ["scorer", "ranker"]
    assert args.namespace == "azureml-ws" and args.plugin == ["a.py", "b.py"] and args.format == "md"
    assert parse(["-n", "first", "scorer", "-n", "second"])[1].namespace == "second"  # the later one wins, as in argparse
    command, args = parse(["--all", "-A", "--output-dir", "reports/"])
    assert command == "live" and args.service == [] and args.all and args.all_namespaces and args.output_dir == "reports/"


def test_a_flag_before_a_command_is_refused_not_dropped():
    with pytest.raises(UsageError, match="'analyze' is a command and goes first"):
        parse(["-n", "azureml-ws", "analyze", "bundle.tar.gz"])
    command, args = parse(["analyze", "bundle.tar.gz", "-o", "json"])
    assert command == "analyze" and args.bundle == "bundle.tar.gz" and not hasattr(args, "namespace")


def test_one_parser_holds_every_command(cli):
    from aml_doctor.cli.main import build_parser

    parser = build_parser()
    assert list(parser.commands) == list(COMMANDS)
    for name in COMMANDS:
        assert parser.commands[name].prog == f"aml-doctor {name}"
    assert "commands:" in cli("scorer", "--help").out  # --help after a service is the top-level help
