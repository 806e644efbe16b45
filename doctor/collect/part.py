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
from dataclasses import dataclass, field
from typing import Any

from .. import __version__, redact
from ..evidence import FORMAT_VERSION


@dataclass
class Gap:
    """Evidence that could not be collected: ``what`` is a source name (``persistentvolumes``,
    ``azureml_service``, ``build_log``...), ``error`` one line such as
    ``403 Forbidden: cannot list persistentvolumes at the cluster scope (needs a ClusterRole)``."""

    what: str
    error: str


@dataclass
class Part:
    files: dict[str, Any] = field(default_factory=dict)  # bundle path -> JSON-able object, str or bytes
    collected: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    # Facts one collector learns that another needs (the namespace, the ConfigMap's blob paths...).
    facts: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: "Part") -> "Part":
        self.files.update(other.files)
        self.collected.extend(other.collected)
        self.gaps.extend(other.gaps)
        self.facts.update(other.facts)
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
    files = {"manifest.json": _encode(manifest_data, redact_secrets)}
    for path, value in sorted(part.files.items()):
        files[path] = _encode(value, redact_secrets)
    return files


def write_bundle(target: str, files: dict[str, bytes]) -> None:
    """Write to a directory, or to ``.tar.gz``/``.tgz``/``.zip`` by the target's suffix."""
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
