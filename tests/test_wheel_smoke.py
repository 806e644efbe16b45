"""The installed wheel, as a user has it: every command against the emulators.

scripts/wheel_smoke.sh installs the wheel with the [live] extra into a clean venv (on the oldest
and the newest Python that requires-python admits) and runs this file with AML_DOCTOR_UNDER_TEST
naming that venv. The emulators (the Kubernetes API server of aml_doctor.testing and Azurite) run
here, in the test process; the aml-doctor under test is the venv's console script, in its own
process, with a PATH and HOME that know nothing of this checkout. Without AML_DOCTOR_UNDER_TEST
(the ordinary test run, which tests the editable install) the file is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

VENV = os.environ.get("AML_DOCTOR_UNDER_TEST")
if not VENV:
    pytest.skip("run by scripts/wheel_smoke.sh against an installed wheel (AML_DOCTOR_UNDER_TEST)", allow_module_level=True)

from emulators.kube_apiserver import KubeApiServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(VENV) / "bin"
SCENARIO = ROOT / "tests" / "scenarios" / "crashloop-init-keyerror"
MANIFEST = json.loads((SCENARIO / "manifest.json").read_text())
SERVICE, NS = MANIFEST["service"], MANIFEST["namespace"]


def run(tmp_path: Path, *args: str, program: str = "aml-doctor", env: dict | None = None) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    clean = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run([program, *args], capture_output=True, text=True, cwd=tmp_path, env=clean, timeout=300)


@pytest.fixture
def cluster(tmp_path):
    with KubeApiServer().load_bundle(str(SCENARIO)) as api:
        yield api, api.write_kubeconfig(str(tmp_path / "kubeconfig"))


def test_the_installed_copy_is_the_wheel_not_this_checkout(tmp_path):
    where = subprocess.run([str(BIN / "python"), "-c", "import aml_doctor, sys; print(aml_doctor.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, check=True).stdout
    assert where.startswith(str(Path(VENV).resolve())) or where.startswith(VENV), where
    assert "site-packages" in where and str(ROOT) not in where
    result = run(tmp_path, "version", "-o", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["packages"]["kubernetes"] and found["packages"]["azure-storage-blob"]


def test_no_example_plugin_in_a_user_install(tmp_path):
    rules = json.loads(run(tmp_path, "rules", "-o", "json").stdout)
    assert rules and all(r["plugin"] == "builtin_rules" for r in rules)
    assert "ACME001" not in {r["id"] for r in rules}


def test_kubectl_plugin_entry_point(tmp_path):
    assert (BIN / "kubectl-aml_doctor").is_file()
    result = run(tmp_path, "aml-doctor", "version", program="kubectl")  # kubectl finds kubectl-aml_doctor on PATH
    assert result.returncode == 0 and result.stdout.startswith("aml-doctor "), result.stderr
    missing = run(tmp_path, "aml-doctor", "svc", "--kubeconfig", "nope", program="kubectl")
    assert missing.returncode == 2 and "kubeconfig nope does not exist" in missing.stderr


def test_analyze_the_example_bundle(tmp_path):
    bundle = ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz"
    result = run(tmp_path, "analyze", str(bundle), "-o", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["findings"][0]["rule"] == "AML002" and report["verdict"] == "root_cause_found"
    html = run(tmp_path, "analyze", str(bundle), "-o", "html", "--output-file", "report.html")
    page = (tmp_path / "report.html").read_text()
    assert html.returncode == 1 and html.stdout == "" and 'id="stage-strip"' in page and "<script" not in page


def test_live_diagnosis_with_storage(cluster, azurite, tmp_path):
    _, kubeconfig = cluster
    result = run(tmp_path, SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "--connection-string", azurite.connection_string,
                 "--request-timeout", "5", "-o", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)  # stdout is the report and nothing else
    assert report["findings"][0]["rule"] == "AML004" and "score.py line 17" in report["findings"][0]["title"]
    assert "Traceback" not in result.stderr


def test_collect_then_analyze(cluster, tmp_path):
    _, kubeconfig = cluster
    result = run(tmp_path, "collect", SERVICE, "-n", NS, "--kubeconfig", kubeconfig, "-q", "-o", "bundle.tar.gz")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    with tarfile.open(tmp_path / "bundle.tar.gz") as tf:
        assert any(n.endswith("kubernetes/pods.json") for n in tf.getnames())
    analysed = run(tmp_path, "analyze", "bundle.tar.gz", "-o", "json")
    assert json.loads(analysed.stdout)["findings"][0]["rule"] == "AML004"


def test_watch_stops_at_the_root_cause(cluster, tmp_path):
    _, kubeconfig = cluster
    result = run(tmp_path, SERVICE, "--watch", "-n", NS, "--kubeconfig", kubeconfig, "--timeout", "60", "-o", "json")
    assert result.returncode == 1, result.stderr
    assert "root cause after" in result.stderr
    assert json.loads(result.stdout)["findings"][0]["rule"] == "AML004"


def test_all_services_of_the_namespace(cluster, tmp_path):
    _, kubeconfig = cluster
    result = run(tmp_path, "--all", "-n", NS, "--kubeconfig", kubeconfig, "-q", "-o", "json", "--output-dir", "reports")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert [(s["service"], s["verdict"]) for s in summary["services"]] == [(SERVICE, "root_cause_found")]
    assert sorted(os.listdir(tmp_path / "reports")) == ["index.html", f"{SERVICE}.json"]


def test_setup_mistake_is_one_line_with_the_next_step(tmp_path):
    result = run(tmp_path, SERVICE)  # HOME has no ~/.kube/config
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "az aks get-credentials" in result.stderr and "analyze --text" in result.stderr


def test_bash_completion_loads(tmp_path):
    script = run(tmp_path, "completion", "bash").stdout
    probe = subprocess.run(["bash", "-c", script + '\nCOMP_WORDS=(aml-doctor col); COMP_CWORD=1; _aml_doctor; echo "${COMPREPLY[@]}"'],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and probe.stdout.split() == ["collect"], probe.stderr
