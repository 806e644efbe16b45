"""stdout carries the report; progress is on stderr, a rich progress display on a terminal and
plain lines elsewhere, none with -q; a watch that never saw its Deployment says so.

The terminal is a real pseudo-terminal (the standard library's pty) on stderr; the cluster is the
API-server emulator on loopback.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.findings import Verdict
from emulators.kube_apiserver import KubeApiServer

SCENARIO = Path(__file__).parent / "scenarios" / "crashloop-init-keyerror"
MANIFEST = json.loads((SCENARIO / "manifest.json").read_text())
SERVICE, NS = MANIFEST["service"], MANIFEST["namespace"]


@pytest.fixture
def kubeconfig(tmp_path):
    with KubeApiServer().load_bundle(str(SCENARIO)) as api:
        yield api.write_kubeconfig(str(tmp_path / "kc"))


def _run_with_tty_stderr(args: list[str], env: dict, cwd: Path) -> tuple[int, str, str]:
    """Run aml-doctor with stdout on a pipe and stderr on a pseudo-terminal; return (code, out, err)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "aml_doctor", *args], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("aml-doctor did not finish within 120 s")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read().decode()
    code = proc.wait(timeout=60)
    os.close(master)
    return code, out, err.decode(errors="replace")


def _env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "AML_DOCTOR_DEBUG")}
    return {**env, "HOME": str(tmp_path), "KUBECONFIG": "", "TERM": "xterm-256color", **extra}


def test_a_terminal_gets_a_progress_display_and_stdout_only_the_report(kubeconfig, tmp_path):
    code, out, err = _run_with_tty_stderr([SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-o", "json"], _env(tmp_path), tmp_path)
    assert code == ExitCode.FINDINGS
    assert json.loads(out)["findings"][0]["rule"] == "AML004"
    assert "\x1b[" in err  # rich drew (and cleared) its display on the terminal
    assert "\x1b[?25l" in err  # rich hides the cursor while the display is live


def test_no_color_or_no_terminal_gets_plain_lines_and_q_gets_nothing(kubeconfig, tmp_path):
    code, out, err = _run_with_tty_stderr([SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-o", "json"],
                                          _env(tmp_path, NO_COLOR="1"), tmp_path)
    assert code == ExitCode.FINDINGS and json.loads(out)
    assert "\x1b[" not in err and "s] kubernetes: collecting" in err
    code, out, err = _run_with_tty_stderr([SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-o", "json", "-q"], _env(tmp_path), tmp_path)
    assert code == ExitCode.FINDINGS and json.loads(out) and err == ""
    piped = subprocess.run([sys.executable, "-m", "aml_doctor", SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-o", "json"],
                           capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=120)
    assert piped.returncode == ExitCode.FINDINGS and json.loads(piped.stdout)
    assert "\x1b[" not in piped.stderr and all(line.startswith("[") for line in piped.stderr.splitlines())


def test_a_watch_that_never_saw_the_deployment_says_so(cli, kubeconfig):
    result = cli("late-service", "--watch", "-n", NS, "--kubeconfig", kubeconfig, "--timeout", "2", "-o", "json")
    assert result.code == ExitCode.FINDINGS or result.code == ExitCode.UNRECOGNISED, result.err
    assert "Deployment late-service never appeared in " + NS in result.err
    report = json.loads(result.out)
    assert report["verdict"] != Verdict.NO_PROBLEM_FOUND.value
    gaps = {g["what"]: g["error"] for g in report["collection_gaps"]}
    assert gaps["deployments"] == f"no Deployment named late-service appeared in {NS} while watching"
    text = cli("late-service", "--watch", "-n", NS, "--kubeconfig", kubeconfig, "--timeout", "1", "-q").out
    assert "No problem found" not in text and "not collected: deployments: no Deployment named late-service appeared" in text


def test_a_collector_thread_left_past_the_deadline_cannot_print_into_the_report(capsys):
    import threading
    import time

    from aml_doctor.cli.live import captured_sdk_output

    go = threading.Event()

    def late_sdk():
        go.wait(30)
        print("Performing interactive authentication. Please follow the instructions on the terminal.")

    thread = threading.Thread(target=late_sdk, name="collect-azureml", daemon=True)
    with captured_sdk_output(quiet=True):
        thread.start()
        print("printed while collecting")
    go.set()
    thread.join(30)
    print('{"report": true}')  # the main thread's report, after collection
    time.sleep(0)
    assert capsys.readouterr().out == '{"report": true}\n'
