"""Hostile input: each one the audit tried gets one line and exit 2, or a "not checked" entry
naming the file; never exit 4, never a hang, never a false "No problem found"."""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from aml_doctor.evidence import store as evidence_mod
from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import BundleBuilder, crashloop_pod
from aml_doctor.evidence.textdoc import _CHUNK, LINE_KEEP, MAX_LINE_CHARS, TextKind, _LongLines, read_text_stream


def _bundle(tmp_path, **files) -> str:
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    path = str(b.write(tmp_path / "bundle"))
    for rel, data in files.items():
        full = os.path.join(path, *rel.split("__"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data if isinstance(data, bytes) else data.encode())
    return path


def _one_line(result) -> str:
    assert "Traceback" not in result.err + result.out
    lines = [line for line in result.err.splitlines() if line.strip() and "warning" not in line]
    assert len(lines) == 1, result.err
    return lines[0]


def _report(result) -> dict:
    assert "Traceback" not in result.err, result.err
    assert result.code not in (ExitCode.INTERNAL_ERROR, ExitCode.USAGE_ERROR), result.err
    return json.loads(result.out)


# ---------------------------------------------------------------------- manifest and shapes
@pytest.mark.parametrize("field,value", [("collected", 5), ("collected", [1, {}]), ("service", ["x"]),
                                         ("format_version", "1"), ("not_collected", "pods"), ("collector", 7)])
def test_a_manifest_field_of_the_wrong_type_is_one_line_and_exit_2(cli, tmp_path, field, value):
    path = _bundle(tmp_path)
    manifest = json.loads(open(os.path.join(path, "manifest.json")).read())
    manifest[field] = value
    open(os.path.join(path, "manifest.json"), "w").write(json.dumps(manifest))
    result = cli("analyze", path)
    assert result.code == ExitCode.USAGE_ERROR
    line = _one_line(result)
    assert "manifest.json" in line


def test_pods_of_the_wrong_types_are_one_not_checked_file_not_rule_errors(cli, tmp_path):
    pod = crashloop_pod("scorer", "azureml-ws1")
    pod["status"]["containerStatuses"][0]["restartCount"] = "seven"
    pod["spec"]["containers"] = {"name": "scorer"}
    path = _bundle(tmp_path, kubernetes__pods__json=json.dumps({"kind": "List", "items": [pod, 3, "x"]}))
    os.replace(os.path.join(path, "kubernetes", "pods", "json"), os.path.join(path, "kubernetes", "pods.json"))
    os.rmdir(os.path.join(path, "kubernetes", "pods"))
    report = _report(cli("analyze", path, "--format", "json"))
    assert report["rule_errors"] == []
    reasons = {n["reason"] for n in report["not_checked"]}
    assert any(r.startswith("kubernetes/pods.json malformed") for r in reasons), reasons
    assert report["verdict"] != "no_problem_found"


@pytest.mark.parametrize("resource", ["pods", "events", "nodes", "configmaps", "deployments", "services"])
def test_rules_never_see_a_wrong_typed_value_in_any_resource(tmp_path, resource):
    item = {"metadata": {"name": 5, "labels": "x"}, "spec": [], "status": "Running", "reason": 1, "message": [],
            "count": "3", "data": {"k": 1}, "involvedObject": "pod"}
    path = _bundle(tmp_path)
    with open(os.path.join(path, "kubernetes", f"{resource}.json"), "w") as fh:
        json.dump({"kind": "List", "items": [item]}, fh)
    ev = evidence_mod.load(path)
    assert not ev.has(resource)
    assert "malformed" in ev.why_missing(resource)


def test_json_nested_100000_deep_is_malformed_not_a_recursion_error(cli, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = _bundle(tmp_path)
    with open(os.path.join(path, "kubernetes", "events.json"), "w") as fh:
        fh.write('{"kind": "List", "items": ' + deep + "}")
    report = _report(cli("analyze", path, "--format", "json"))
    assert any("events.json" in n and "nested" in n for n in report["notes"]), report["notes"]


def test_a_manifest_nested_too_deep_is_exit_2(cli, tmp_path):
    path = _bundle(tmp_path)
    with open(os.path.join(path, "manifest.json"), "w") as fh:
        fh.write('{"service": "s", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = cli("analyze", path)
    assert result.code == ExitCode.USAGE_ERROR
    assert "manifest.json" in _one_line(result)


ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["kind: List", "items: [*i]"]
)


def test_a_yaml_alias_bomb_is_refused_before_anything_expands_it(cli, tmp_path):
    path = _bundle(tmp_path)
    os.unlink(os.path.join(path, "kubernetes", "pods.json"))
    with open(os.path.join(path, "kubernetes", "pods.yaml"), "w") as fh:
        fh.write(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 600
    report = _report(cli("analyze", path, "--format", "json"))
    assert any("pods.yaml" in n and "aliases" in n for n in report["notes"]), report["notes"]


# ---------------------------------------------------------------------- the bundle path
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_the_bundle_is_refused_with_exit_2(cli, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    result = cli("analyze", device)
    assert result.code == ExitCode.USAGE_ERROR
    assert "character device" in _one_line(result)


def test_a_named_fifo_as_the_bundle_is_refused_without_waiting_for_a_writer(cli, tmp_path):
    fifo = tmp_path / "bundle.tar.gz"
    os.mkfifo(fifo)
    result = cli("analyze", str(fifo))
    assert result.code == ExitCode.USAGE_ERROR
    line = _one_line(result)
    assert "FIFO" in line and "analyze -" in line


def _tgz(tmp_path) -> str:
    path = _bundle(tmp_path)
    target = str(tmp_path / "b.tar.gz")
    with tarfile.open(target, "w:gz") as tf:
        tf.add(path, arcname="bundle")
    return target


def test_a_bundle_through_stdin(cli, tmp_path):
    data = open(_tgz(tmp_path), "rb").read()
    report = _report(cli("analyze", "-", "--format", "json", stdin=data))
    assert any(f["rule"] == "AML004" for f in report["findings"])


def test_a_bundle_through_process_substitution(tmp_path):
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    target = _tgz(tmp_path)
    script = f'exec "{sys.executable}" -m aml_doctor analyze <(cat "{target}") --format json'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == ExitCode.FINDINGS, proc.stderr
    assert any(f["rule"] == "AML004" for f in json.loads(proc.stdout)["findings"])


def test_random_bytes_through_stdin_are_not_a_bundle(cli):
    result = cli("analyze", "-", stdin=os.urandom(100_000))
    assert result.code == ExitCode.USAGE_ERROR
    assert "not a bundle" in _one_line(result)


# ---------------------------------------------------------------------- terminal lines
def test_an_escape_sequence_in_a_file_name_reaches_stderr_escaped(cli, tmp_path):
    name = str(tmp_path / "evil\x1b]0;owned\x07\x1b[2J\x9b31m.tar.gz")
    result = cli("analyze", name)
    assert result.code == ExitCode.USAGE_ERROR
    assert "\x1b" not in result.err and "\x07" not in result.err and "\x9b" not in result.err
    assert "\\x1b]0;owned\\x07" in result.err


# ---------------------------------------------------------------------- long lines
def test_a_log_that_is_one_long_line_is_carried_in_bounded_pieces():
    """The work per chunk is bounded by the carry, so reading is linear in the line's length:
    with the carry re-concatenated whole, it would grow to the line's full size."""
    lines = _LongLines()
    biggest = 0
    for _ in range(64):
        assert lines.feed("x" * _CHUNK, final=False) == ""
        biggest = max(biggest, len(lines.carry))
    assert biggest <= MAX_LINE_CHARS + _CHUNK
    line = lines.feed("", final=True)
    assert line.startswith("x" * LINE_KEEP) and line.endswith("x" * LINE_KEEP)
    assert f"{64 * _CHUNK - 2 * LINE_KEEP} characters of this line not kept" in line


def test_an_overlong_line_keeps_its_head_and_tail_and_line_numbers_stay_true():
    middle = "A" * 20 + "m" * (3 * MAX_LINE_CHARS) + "Z" * 20
    data = ("first\n" + middle + "\nKeyError: 'MODEL_NAME'\n").encode()
    doc = read_text_stream(io.BytesIO(data), "logs/p/c.log", TextKind.CONTAINER_LOG)
    assert doc.line(3) == "KeyError: 'MODEL_NAME'"
    assert doc.line(2).startswith("A" * 20) and doc.line(2).endswith("Z" * 20)
    assert len(doc.line(2)) < MAX_LINE_CHARS
    assert "longer than" in doc.skipped


# ---------------------------------------------------------------------- -o and stdout
def _fake_bundle(tmp_path) -> str:
    return _bundle(tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "symlink-to-nowhere", "directory"])
def test_the_report_file_must_be_a_regular_file(cli, tmp_path, kind):
    path = _fake_bundle(tmp_path)
    target = tmp_path / "report.md"
    elsewhere = tmp_path / "elsewhere.md"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        elsewhere.write_text("keep me")
        target.symlink_to(elsewhere)
    elif kind == "symlink-to-nowhere":
        target.symlink_to(tmp_path / "nowhere.md")
    else:
        target.mkdir()
    result = cli("analyze", path, "--format", "md", "--output-file", str(target))
    assert result.code == ExitCode.USAGE_ERROR
    assert "regular file" in _one_line(result)
    if kind == "symlink":
        assert target.is_symlink() and elsewhere.read_text() == "keep me"
    if kind == "fifo":
        import stat

        assert stat.S_ISFIFO(os.lstat(target).st_mode)


def test_an_existing_regular_report_file_is_replaced(cli, tmp_path):
    path = _fake_bundle(tmp_path)
    target = tmp_path / "report.md"
    target.write_text("old")
    result = cli("analyze", path, "--format", "md", "--output-file", str(target))
    assert result.code == ExitCode.FINDINGS, result.err
    assert target.read_text().startswith("# aml-doctor")


def test_a_character_device_as_the_report_file_is_refused(cli, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    before = os.stat("/dev/full")
    result = cli("analyze", _fake_bundle(tmp_path), "--output-file", "/dev/full")
    assert result.code == ExitCode.USAGE_ERROR
    assert "character device" in _one_line(result)
    assert os.stat("/dev/full").st_rdev == before.st_rdev


def test_a_full_disk_on_stdout_is_one_line_and_exit_6(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    path = _fake_bundle(tmp_path)
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "aml_doctor", "analyze", path], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == ExitCode.OUTPUT_ERROR == 6
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["aml-doctor: error: cannot write the report to standard output: No space left on device"]


def test_a_reader_that_goes_away_is_one_line_and_exit_6(tmp_path):
    path = _fake_bundle(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "aml_doctor", "analyze", path, "--format", "html"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the report is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == ExitCode.OUTPUT_ERROR
    assert "Traceback" not in err and "Broken pipe" in err and len(err.strip().splitlines()) == 1


def test_cluster_data_in_progress_lines_reaches_stderr_escaped(tmp_path):
    """A ConfigMap name read from a pod's env is printed in a progress line: terminal injection
    from cluster data, unless escaped."""
    from pathlib import Path

    from emulators.kube_apiserver import KubeApiServer

    scenario = Path(__file__).parent / "scenarios" / "crashloop-init-keyerror"
    manifest = json.loads((scenario / "manifest.json").read_text())
    evil = "cm\x1b]0;owned\x07\x1b[2J\x9b"
    with KubeApiServer() as kube:
        kube.load_bundle(str(scenario))
        deployment = kube.get("Deployment", manifest["service"], manifest["namespace"])
        containers = deployment["spec"]["template"]["spec"]["containers"]
        env = next(e for c in containers for e in c.get("env") or [] if e.get("name") == "InitContainerConfig")
        env["value"] = evil
        kube.modify(deployment)
        kubeconfig = kube.write_kubeconfig(str(tmp_path / "kubeconfig"))
        proc = subprocess.run([sys.executable, "-m", "aml_doctor", manifest["service"], "-n", manifest["namespace"],
                               "--kubeconfig", kubeconfig, "--format", "json", "--request-timeout", "10"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "ConfigMap cm\\x1b]0;owned\\x07" in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr and "\x9b" not in proc.stderr


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_c1_controls_reach_json_escaped_with_the_same_value(cli, tmp_path, fmt):
    evil = "sc\x9b31m\x85orer\u2028x"
    b = BundleBuilder(service=evil, workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    result = cli("analyze", str(b.write(tmp_path / "b")), "--format", fmt)
    assert result.code in (ExitCode.OK, ExitCode.FINDINGS, ExitCode.UNRECOGNISED), result.err
    assert not any(ch in result.out for ch in "\x9b\x85\u2028")
    parsed = json.loads(result.out)
    if fmt == "json":
        assert evil in json.dumps(parsed, ensure_ascii=False)
