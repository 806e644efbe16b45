"""Deadlines that hold: the live run against an API server that sends 50 MB, one that dribbles a
byte at a time, and one that never answers, each ends within its deadline plus a margin.

The servers are the project's Kubernetes API-server emulator on loopback, and the client is the
real ``kubernetes`` package inside the real command. The margins are generous (a loaded 2-core
CI machine starts Python slowly); what they catch is a run that waits for the server instead of
its deadline, which would take the hang's full hour.
"""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aml_doctor.common.exitcodes import ExitCode
from emulators.kube_apiserver import KubeApiServer

SCENARIO = Path(__file__).parent / "scenarios" / "crashloop-init-keyerror"
MANIFEST = json.loads((SCENARIO / "manifest.json").read_text())
MARGIN = 30.0  # interpreter start, plugin loading and the rules' grace, on a loaded machine
HOUR = 3600


@pytest.fixture
def kube(tmp_path):
    with KubeApiServer() as server:
        server.load_bundle(str(SCENARIO))
        server.kubeconfig = server.write_kubeconfig(str(tmp_path / "kubeconfig"))
        yield server


def _live(kube, tmp_path, *extra: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    import os

    args = [sys.executable, "-m", "aml_doctor", MANIFEST["service"], "-n", MANIFEST["namespace"],
            "--kubeconfig", kube.kubeconfig, "--format", "json", *extra]
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=HOUR,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})
    return proc, time.monotonic() - started


def _gaps(report: dict) -> dict[str, str]:
    return {g["what"]: g["error"] for g in report["collection_gaps"]}


def test_a_50_mb_answer_is_capped_and_noted_not_read_whole(kube, tmp_path):
    kube.oversize("*/events", 50 * 2**20)
    kube.oversize("*/log", 50 * 2**20)
    proc, took = _live(kube, tmp_path, "--timeout", "60", "--request-timeout", "30")
    assert took < 60 + MARGIN
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    gaps = _gaps(report)
    assert "larger than 32 MiB" in gaps["events"]
    assert "larger than 8 MiB" in gaps["container_logs"]
    assert report["findings"], "the pods and the cut logs still diagnose"


def test_a_byte_dribbling_server_is_bounded_by_the_request_timeout_body_included(kube, tmp_path):
    kube.dribble("*/events", 0.1)  # a byte every 0.1 s: no read ever times out
    proc, took = _live(kube, tmp_path, "--timeout", "120", "--request-timeout", "3")
    assert took < 3 + MARGIN, proc.stderr
    report = json.loads(proc.stdout)
    assert "timed out after 3 s" in _gaps(report)["events"]
    assert proc.returncode in (ExitCode.OK, ExitCode.FINDINGS, ExitCode.UNRECOGNISED)


def test_a_server_that_never_answers_is_bounded_by_the_timeout(kube, tmp_path):
    kube.hang("*", HOUR)
    proc, took = _live(kube, tmp_path, "--timeout", "5", "--request-timeout", "600")
    assert took < 5 + MARGIN, proc.stderr
    assert proc.returncode == ExitCode.COLLECTION_ERROR
    assert "Traceback" not in proc.stderr
    assert "--timeout" in proc.stderr


def test_a_dribbling_log_among_good_answers_is_bounded_by_the_timeout(kube, tmp_path):
    kube.dribble("*/log", 0.05)
    proc, took = _live(kube, tmp_path, "--timeout", "8", "--request-timeout", "600")
    assert took < 8 + MARGIN, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_plugin_that_hangs_at_import_is_bounded_by_the_live_timeout(kube, tmp_path):
    plugin = tmp_path / "sleepy.py"
    plugin.write_text(textwrap.dedent("""
        import time
        time.sleep(3600)
    """))
    proc, took = _live(kube, tmp_path, "--timeout", "5", "--plugin", str(plugin),
                       env={"AML_DOCTOR_PLUGIN_TIMEOUT": "600"})
    assert took < 5 + MARGIN, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sleepy" in proc.stderr
