"""``--watch`` on a v2 deployment: the real `kubernetes` client polls the API-server emulator while a
thread plays the rollout's next step (the storage initializer finishing, or failing)."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

from aml_doctor.cli import v2watch
from aml_doctor.common.exitcodes import ExitCode
from emulators.kube_apiserver import KubeApiServer

SCENARIOS = Path(__file__).parent / "scenarios"
NS = "ml-inference"


def _serve(tmp_path: Path, scenario: str) -> KubeApiServer:
    copy = tmp_path / scenario
    shutil.copytree(SCENARIOS / scenario, copy)
    (copy / "kubernetes" / "frontend-pods.json").unlink(missing_ok=True)
    return KubeApiServer().start().load_bundle(str(copy))


def _args(kubeconfig: str, **kw) -> argparse.Namespace:
    values = dict(service=["credit-ep"], endpoint_name=None, deployment="blue", namespace=None, kubeconfig=kubeconfig, context=None,
                  log_lines=2000, workspace_name=None, timeout=60.0, request_timeout=5.0, quiet=False, until_healthy=False,
                  watch_interval=0.2, format="json", output_file=None, fail_on=None, exit_zero=False, max_chars=None, color="never",
                  select="", ignore="", plugin=[], rules_dir=[], config=None)
    values.update(kw)
    return argparse.Namespace(**values)


def _after_one_round(api: KubeApiServer, step) -> threading.Thread:
    """Play ``step`` once the watch has read the deployment at least once (its pods' logs come last)."""
    def run():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.path.endswith("/log") for r in api.requests):
            time.sleep(0.02)
        step()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _replace_pod(api: KubeApiServer, scenario: str) -> None:
    pod = json.loads((SCENARIOS / scenario / "kubernetes" / "pods.json").read_text())["items"][0]
    api.modify(pod)


def test_watch_follows_the_storage_initializer_to_ready(tmp_path, capsys):
    with _serve(tmp_path, "v2-storage-init-just-started") as api:
        thread = _after_one_round(api, lambda: _replace_pod(api, "v2-healthy"))
        code = v2watch.run(_args(api.write_kubeconfig(str(tmp_path / "kubeconfig"))))
        thread.join(5)
        methods = {r.method for r in api.requests}
    err = capsys.readouterr().err
    assert code == ExitCode.OK
    assert "Init: downloading model and code" in err and "Running, ready" in err and "healthy after" in err
    assert err.index("Init: downloading") < err.index("Running, ready")
    assert methods == {"GET"}


def test_watch_stops_at_the_root_cause_when_the_initializer_fails(tmp_path, capsys):
    failing = "v2-storage-manifest-blob-missing"

    def fail():
        _replace_pod(api, failing)
        log = (SCENARIOS / failing / "logs").glob("*/storageinitializer-modeldata.log")
        api.set_log(NS, "credit-ep-blue-d6a2161e7-6de49", "storageinitializer-modeldata", next(log).read_text(), previous=True)

    with _serve(tmp_path, "v2-storage-init-just-started") as api:
        thread = _after_one_round(api, fail)
        code = v2watch.run(_args(api.write_kubeconfig(str(tmp_path / "kubeconfig"))))
        thread.join(5)
    captured = capsys.readouterr()
    assert code == ExitCode.FINDINGS
    assert "root cause after" in captured.err and "AML025" in captured.err
    assert json.loads(captured.out)["findings"][0]["rule"] == "AML025"


def test_watch_waits_for_an_endpoint_that_does_not_exist_yet(tmp_path, capsys):
    with _serve(tmp_path, "v2-healthy") as api:
        code = v2watch.run(_args(api.write_kubeconfig(str(tmp_path / "kubeconfig")), service=["not-yet"], timeout=1.0))
    err = capsys.readouterr().err
    assert code == ExitCode.FINDINGS
    assert "waiting for it to appear" in err and "never appeared" in err
