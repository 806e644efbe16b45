"""What each collector returns, and how the parts become one bundle on disk.

A collector never writes files itself: it returns a :class:`Part`, and :func:`write_bundle` redacts
every file and writes the bundle (a directory, ``.tar.gz`` or ``.zip``) only where ``-o`` says.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any

from aml_doctor import __version__
from aml_doctor.evidence import redact
from aml_doctor.evidence.store import FORMAT_VERSION


@dataclass
class Gap:
    """Evidence that could not be collected: ``what`` is a source name (``persistentvolumes``,
    ``azureml_service``, ``build_log``...), ``error`` one line such as
    ``403 Forbidden: cannot list persistentvolumes at the cluster scope (needs a ClusterRole)``."""

    what: str
    error: str


@dataclass(frozen=True)
class WorkspaceRecord:
    """What the AzureML collector learns that the others need."""

    workspace: str = ""
    namespace: str = ""  # the service's namespace as MMS says, else azureml-<workspace>
    storage_account: str = ""
    storage_account_id: str = ""  # the ARM id of the workspace's storage account
    compute_target: str = ""
    scoring_uri: str = ""
    image_location: str = ""
    available_services: tuple[str, ...] = ()  # when the service was not found: the ones there are


@dataclass(frozen=True)
class ClusterRecord:
    """What the Kubernetes collector learns that the storage collector needs."""

    namespace: str = ""
    pods: tuple[str, ...] = ()
    scoring_image: str = ""
    configmap: str = ""  # the InitContainerConfig ConfigMap's name
    init_container_config: dict | None = None  # its document
    blob_paths: tuple[str, ...] = ()  # the model and code blobs it names


@dataclass(frozen=True)
class EndpointRecord:
    """What the v2 workspace collector (azure-ai-ml) learns that the others need."""

    workspace: str = ""
    platform: str = ""  # k8s_online_v2 or managed_online_v2
    deployment: str = ""
    compute: str = ""
    namespace: str = ""  # the Kubernetes compute's namespace
    instance_type: str = ""


@dataclass(frozen=True)
class DeploymentRecord:
    """What the v2 cluster collector learns that the storage collector and the commands need."""

    namespace: str = ""
    deployment: str = ""
    deployment_cr: str = ""  # the OnlineDeployment custom resource's name
    service: str = ""  # the name AzureML gives the Kubernetes objects (azuremlappname)
    storage_manifests: tuple[str, ...] = ()  # the storage initializer's STORAGE_MANIFEST_URLs
    pods: tuple[str, ...] = ()


_RECORDS = {"workspace": WorkspaceRecord, "cluster": ClusterRecord, "endpoint": EndpointRecord, "deployment": DeploymentRecord}


@dataclass
class Part:
    files: dict[str, Any] = field(default_factory=dict)  # bundle path -> JSON-able object, str or bytes
    collected: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    # What one collector learns that another needs, as typed records: v1's AzureML (workspace)
    # and Kubernetes (cluster) collectors, v2's azure-ai-ml (endpoint) and cluster (deployment).
    workspace: WorkspaceRecord | None = None
    cluster: ClusterRecord | None = None
    endpoint: EndpointRecord | None = None
    deployment: DeploymentRecord | None = None

    def learn(self, record: str, **values: Any) -> None:
        """Add ``values`` to one of the records (a new frozen record each time)."""
        current = getattr(self, record) or _RECORDS[record]()
        setattr(self, record, replace(current, **values))

    def merge(self, other: "Part") -> "Part":
        self.files.update(other.files)
        self.collected.extend(other.collected)
        self.gaps.extend(other.gaps)
        self.workspace = other.workspace or self.workspace
        self.cluster = other.cluster or self.cluster
        self.endpoint = other.endpoint or self.endpoint
        self.deployment = other.deployment or self.deployment
        return self


def manifest(service: str, namespace: str, workspace: str, part: Part) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "service": service,
        "namespace": namespace,
        "workspace": workspace,
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "collector": {"name": "aml-doctor", "version": __version__},
        "collected": sorted(set(part.collected)),
        "not_collected": [{"what": g.what, "error": g.error} for g in part.gaps],
    }


def _encode(value: Any, redact_secrets: bool) -> bytes:
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
        return (redact.redact_text(text) if redact_secrets else text).encode()
    if isinstance(value, str):
        return (redact.redact_text(value) if redact_secrets else value).encode()
    if redact_secrets:
        value = redact.redact_object(json.loads(json.dumps(value)))
    return (json.dumps(value, indent=2, sort_keys=False) + "\n").encode()


def render_files(manifest_data: dict, part: Part, redact_secrets: bool = True) -> dict[str, bytes]:
    """Every file redacted, and the manifest's ``redaction`` saying what was: counts per kind and
    per rule, never values, so whoever receives the bundle can check it before sharing it on."""
    with redact.counting() as tally:
        files = {path: _encode(value, redact_secrets) for path, value in sorted(part.files.items())}
        manifest_data = redact.redact_object(json.loads(json.dumps(manifest_data))) if redact_secrets else dict(manifest_data)
    manifest_data["redaction"] = {**tally.as_dict(), "enabled": redact_secrets}
    return {"manifest.json": (json.dumps(manifest_data, indent=2) + "\n").encode(), **files}


def bundle_files(service: str, namespace: str, workspace: str, part: Part, extras: dict | None = None,
                 redact_secrets: bool = True) -> dict[str, bytes]:
    """The bundle's files: the manifest (with ``extras``, such as the v2 endpoint and deployment) and
    every file of ``part``, redacted unless ``redact_secrets`` is False."""
    data = manifest(service, namespace, workspace, part)
    data.update(extras or {})
    return render_files(data, part, redact_secrets=redact_secrets)


def anonymize_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """With ``--anonymize``: identifiers replaced in every file (names learnt from all of them
    first, so each reads the same everywhere), and the count recorded in the manifest."""
    from aml_doctor.evidence.redaction_anonymize import anonymize_text, learn_names, learn_text

    texts = {path: data.decode("utf-8", errors="replace") for path, data in files.items()}
    try:
        manifest_data = json.loads(texts.get("manifest.json", "{}"))
    except ValueError:
        manifest_data = {}
    learn_names("resource", [manifest_data.get(k) for k in ("service", "namespace", "workspace")])
    for text in texts.values():
        learn_text(text)
    with redact.counting() as tally:
        out = {path: anonymize_text(text) for path, text in texts.items() if path != "manifest.json"}
        manifest_data = json.loads(anonymize_text(json.dumps(manifest_data)))
    record = manifest_data.setdefault("redaction", {})
    if isinstance(record, dict):
        record["anonymized"] = dict(sorted(tally.anonymized.items()))
    return {"manifest.json": (json.dumps(manifest_data, indent=2) + "\n").encode(), **{p: t.encode() for p, t in out.items()}}


def write_bundle(target: str, files: dict[str, bytes]) -> None:
    """Write to a directory, or to ``.tar.gz``/``.tgz``/``.zip`` by the target's suffix."""
    if redact.anonymizing():
        files = anonymize_files(files)
    if target.endswith((".tar.gz", ".tgz")):
        tmp = target + ".part"
        with tarfile.open(tmp, "w:gz") as tf:
            for path, data in files.items():
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mtime = int(time.time())
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
        os.replace(tmp, target)
    elif target.endswith(".zip"):
        tmp = target + ".part"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, data in files.items():
                zf.writestr(path, data)
        os.replace(tmp, target)
    else:
        for path, data in files.items():
            full = os.path.join(target, *path.split("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as fh:
                fh.write(data)
