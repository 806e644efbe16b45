"""The secret corpus, planted where a live collection reads it, reaches no saved bundle and no report.

What is real: the `kubernetes` client against the API-server emulator, azure-storage-blob against
Azurite, azureml-core against the local MMS server (the fixtures of tests/test_live_roundtrip.py).
What is not: AAD, which cannot run here; azureml-core gets the local server's static token.

Every context goes into a container log; besides, as its ``where`` says, into a pod's env, the
InitContainerConfig ConfigMap, an event message, ``service.json`` (the service's properties, as
MMS returns them), the image build log blob and ``get_logs()``. ``collect`` writes the bundle;
every file in it, and the live diagnosis in all six formats, must hold no secret, whole or as
any 8-character piece.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from aml_doctor.common.exitcodes import ExitCode
from test_live_roundtrip import SCENARIOS, _live_args, _run, azureml_env, live, needs_sdk  # noqa: F401 - fixtures
from test_redact_corpus import CORPUS, pieces_leaked

SCENARIO = "build-succeeded-with-warnings"
_ENV_LINE = re.compile(r"^(?:export |set )?([A-Za-z_][A-Za-z0-9_]*)=(.+)$")


def _plant(scenario: Path, target: Path) -> Path:
    shutil.copytree(scenario, target)
    wanted = lambda place: [c for c in CORPUS if place in c["where"]]  # noqa: E731

    for log in (target / "logs").rglob("*.log"):
        log.write_text(log.read_text() + "".join(f"context {c['id']}: {c['text']}\n" for c in CORPUS))

    pods = json.loads((target / "kubernetes" / "pods.json").read_text())
    env = []
    for c in wanted("env"):
        m = _ENV_LINE.match(c["text"])
        env.append({"name": m.group(1), "value": m.group(2).strip("\"'")} if m else {"name": "AML_NOTE", "value": c["text"]})
    for pod in pods["items"]:
        for container in pod["spec"]["containers"]:
            container.setdefault("env", []).extend(env)
    (target / "kubernetes" / "pods.json").write_text(json.dumps(pods))

    cms = json.loads((target / "kubernetes" / "configmaps.json").read_text())
    for cm in cms["items"]:
        cm.setdefault("data", {}).update({f"note-{c['id']}": c["text"] for c in wanted("configmap")})
    (target / "kubernetes" / "configmaps.json").write_text(json.dumps(cms))

    events = json.loads((target / "kubernetes" / "events.json").read_text())
    template = events["items"][-1]
    for i, c in enumerate(wanted("event")):
        event = json.loads(json.dumps(template))
        event["metadata"]["name"] = f"{template['metadata']['name']}.note{i}"
        event["metadata"]["uid"] = f"0000000-note-{i}"
        event["message"] = f"context {c['id']}: {c['text']}"
        events["items"].append(event)
    (target / "kubernetes" / "events.json").write_text(json.dumps(events))

    service = json.loads((target / "azureml" / "service.json").read_text())
    service.setdefault("properties", {}).update({f"note-{c['id']}": c["text"] for c in wanted("service")})
    (target / "azureml" / "service.json").write_text(json.dumps(service))

    logs = target / "azureml" / "logs.txt"
    logs.write_text(logs.read_text() + "".join(f"context {c['id']}: {c['text']}\n" for c in wanted("azureml_logs")))
    for build_log in (target / "storage").rglob("build.log"):
        build_log.write_text(build_log.read_text() + "".join(f"context {c['id']}: {c['text']}\n" for c in wanted("buildlog")))
    return target


def _leaks(outputs: dict[str, str]) -> dict:
    found = {}
    for where, text in outputs.items():
        for c in CORPUS:
            leaked = pieces_leaked(c, text)
            if leaked:
                found[(where, c["id"])] = leaked[:3]
    return found


@needs_sdk
def test_no_context_reaches_the_collected_bundle_or_any_live_report(live, capsys, tmp_path):
    scenario = _plant(SCENARIOS / SCENARIO, tmp_path / "planted")
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")

    bundle = tmp_path / "bundle.tar.gz"
    code, _, err = _run(["collect", *_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "-o", str(bundle))], capsys)
    assert code == ExitCode.OK, err
    files = {}
    with tarfile.open(bundle) as tf:
        for member in tf.getmembers():
            if member.isfile():
                files[member.name] = tf.extractfile(member).read().decode("utf-8", errors="replace")

    # Every place was collected, with the planted text in it (so the check below means something).
    where = {
        "log": [p for p in files if p.startswith("logs/") and not p.endswith("amlinit.log")],
        "env": ["kubernetes/pods.json"],
        "configmap": ["kubernetes/configmaps.json"],
        "event": ["kubernetes/events.json"],
        "service": ["azureml/service.json"],
        "azureml_logs": ["azureml/logs.txt"],
        "buildlog": [p for p in files if p.endswith("build.log")],
    }
    assert all(where.values()), {k: v for k, v in where.items() if not v}
    assert all(f"context {c['id']}:" in files[where["log"][0]] for c in CORPUS)
    assert all(f"note-{c['id']}" in files["kubernetes/configmaps.json"] for c in CORPUS if "configmap" in c["where"])
    assert all(f"context {c['id']}:" in files["kubernetes/events.json"] for c in CORPUS if "event" in c["where"])
    assert all(f"note-{c['id']}" in files["azureml/service.json"] for c in CORPUS if "service" in c["where"])
    assert all(f"context {c['id']}:" in files[where["buildlog"][0]] for c in CORPUS if "buildlog" in c["where"])

    assert _leaks(files) == {}
    # The manifest says what was redacted, never the values.
    recorded = json.loads(files["manifest.json"])["redaction"]
    assert recorded["total"] >= len(CORPUS) and recorded["rules"] and recorded["enabled"] is True
    assert sum(len(c["secrets"]) for c in CORPUS) <= recorded["total"] + len(CORPUS)

    outputs = {}
    for fmt in ("text", "md", "html", "json", "sarif", "junit"):
        _, out, err = _run(_live_args(manifest, kubeconfig, config_json, "--connection-string", conn, "-o", fmt), capsys)
        outputs[fmt] = out + err
    assert _leaks(outputs) == {}
    assert json.loads(outputs["json"])["redaction"]["total"] >= len(CORPUS)
    assert {r.method for r in kube.requests} == {"GET"}


@needs_sdk
def test_collect_anonymize_replaces_names_consistently_in_every_file(live, capsys, tmp_path):
    scenario = SCENARIOS / SCENARIO
    manifest = json.loads((scenario / "manifest.json").read_text())
    kube, mms, kubeconfig, config_json, conn = live(scenario, manifest["workspace"], "wsstorage")
    bundle = tmp_path / "anon.tar.gz"
    code, _, err = _run(["collect", *_live_args(manifest, kubeconfig, config_json, "--connection-string", conn,
                                                "-o", str(bundle), "--anonymize")], capsys)
    assert code == ExitCode.OK, err
    with tarfile.open(bundle) as tf:
        files = {m.name: tf.extractfile(m).read().decode() for m in tf.getmembers() if m.isfile()}
    names = (manifest["service"], manifest["workspace"], manifest["namespace"])
    assert {p: [n for n in names if n in text] for p, text in files.items() if any(n in text for n in names)} == {}
    recorded = json.loads(files["manifest.json"])
    assert recorded["redaction"]["anonymized"]["resource"] > 0
    # One name, one placeholder, in every file: the bundle still reads as one service.
    service_token = recorded["service"]
    assert re.fullmatch(r"<resource:[0-9a-f]{4}>", service_token)
    assert service_token in files["kubernetes/pods.json"] and service_token in files["kubernetes/deployments.json"]


@pytest.fixture(autouse=True)
def _fresh_redaction():
    from aml_doctor.evidence import redact

    yield
    redact.reset()
