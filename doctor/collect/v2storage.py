"""Check a v2 deployment's storage: the STORAGE_MANIFEST_URL blob, the files it lists, the build log.

The storage initializer of a Kubernetes online deployment reads one blob, named by its
``STORAGE_MANIFEST_URL`` env var (``https://<account>.blob.core.windows.net/azureml/<...>
_model_config_map.json_<hex>`` in the public pod dump of Azure/MachineLearningNotebooks#1900), that
lists what to download. That blob's format is not public, so it is read as data, never parsed by
field name: every blob URL of the same account found in it (in any string, JSON or not) is a file
it lists, and is checked. The storage index records the manifest (``"kind": "storage-manifest"``)
and each listed file (``"listed_by": "<container>/<manifest path>"``); the manifest's text is kept
under ``storage/<container>/<path>`` for a human to read.

A v2 ``ImageBuildFailure`` names its build log's path ("the build log ... at the path ...", or
``/azureml/ImageLogs/<id>/build.log``); its tail is read as v1's is.

Only GET and HEAD reach the account (:func:`aml_doctor.collect.storage.open_service_client`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aml_doctor.collect.part import Gap, Part
from aml_doctor.collect.storage import Reader, describe_storage_error, open_service_client

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_LISTED = 200
BUILD_LOG_TAIL = 256 * 1024
_BLOB_URL = re.compile(r"https?://([A-Za-z0-9-]+)\.blob\.core\.windows\.net/([a-z0-9][a-z0-9-]{1,62})/([^\s\"'?]+)")
# The build-log path an ImageBuildFailure names: '... at the path '<path>'' or "/azureml/ImageLogs/<id>/build.log".
_BUILD_LOG = re.compile(r"(?:azureml/)?(ImageLogs/[^\s\"'/]+/build\.log)")


def split_url(url: str) -> tuple[str, str, str]:
    """(account host, container, path) of a blob URL; the query (a SAS) is dropped."""
    parts = urlsplit(url)
    container, _, path = parts.path.lstrip("/").partition("/")
    return parts.netloc, container, path


def listed_urls(text: str, account: str) -> list[tuple[str, str]]:
    """(container, path) of every blob URL of ``account`` in the manifest's text, in order, unique."""
    found: list[tuple[str, str]] = []
    strings = [text]
    try:
        data = json.loads(text)
        strings = list(_strings(data)) or [text]
    except ValueError:
        pass
    for value in strings:
        for m in _BLOB_URL.finditer(value):
            if m.group(1).lower() == account.lower() and (m.group(2), m.group(3)) not in found:
                found.append((m.group(2), m.group(3)))
    return found


def _strings(obj, depth: int = 0):
    if depth > 20:
        return
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, depth + 1)


def build_log_path(texts: list[str]) -> str:
    for text in texts:
        m = _BUILD_LOG.search(text or "")
        if m:
            return m.group(1)
    return ""


def collect_v2_storage(
    *,
    manifest_urls: list[str],
    build_log: str = "",
    connection_string: str | None = None,
    account_url: str | None = None,
    credential: Any = None,
    request_timeout: float = 10,
    progress: Callable[[str], None] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> Part:
    part = Part()
    say = progress or (lambda message: None)
    if not manifest_urls and not build_log:
        return part
    if not connection_string and not account_url and manifest_urls:
        account_url = "https://" + split_url(manifest_urls[0])[0]
    try:
        service = open_service_client(connection_string=connection_string, account_url=account_url, credential=credential,
                                      request_timeout=request_timeout, client_options=client_options)
    except Exception as exc:  # noqa: BLE001 - a bad connection string or credential: one line
        for what in ("storage_index", "build_log"):
            part.gaps.append(Gap(what, f"cannot open the storage account: {describe_storage_error(exc, account_url or 'the account', request_timeout)}"))
        return part
    index: dict[str, dict] = {}
    for url in manifest_urls[:4]:
        host, container, path = split_url(url)
        reader = Reader(service.get_container_client(container), request_timeout, say)
        key = f"{container}/{path}"
        say(f"storage: checking the storage manifest {key}")
        try:
            entry = reader._blob_entry(path)
        except Exception as exc:  # noqa: BLE001 - every SDK and socket error becomes one line
            part.gaps.append(Gap("storage_index", f"{key}: {reader.describe(exc)}"))
            break
        index[key] = {**entry, "kind": "storage-manifest"}
        if not entry.get("exists") or entry.get("kind") == "prefix":
            continue
        try:
            data = reader.client.get_blob_client(path).download_blob(offset=0, length=MAX_MANIFEST_BYTES).readall()
        except Exception as exc:  # noqa: BLE001
            part.gaps.append(Gap("storage_index", f"{key}: read: {reader.describe(exc)}"))
            continue
        text = data.decode("utf-8", errors="replace")
        part.files[f"storage/{key}"] = text
        account = host.split(".", 1)[0]
        listed = listed_urls(text, account)
        say(f"storage: the manifest lists {len(listed)} blob(s)")
        for other_container, other_path in listed[:MAX_LISTED]:
            other = Reader(service.get_container_client(other_container), request_timeout, say)
            try:
                index[f"{other_container}/{other_path}"] = {**other._blob_entry(other_path), "listed_by": key}
            except Exception as exc:  # noqa: BLE001
                part.gaps.append(Gap("storage_index", f"{other_container}/{other_path}: {other.describe(exc)}"))
                break
    if build_log:
        _build_log(service, build_log, index, part, request_timeout, say)
    if index:
        part.files["storage/index.json"] = index
        part.collected.append("storage_index")
    return part


def _build_log(service, path: str, index: dict, part: Part, request_timeout: float, say) -> None:
    reader = Reader(service.get_container_client("azureml"), request_timeout, say)
    say(f"storage: reading the tail of azureml/{path}")
    try:
        blob = reader.client.get_blob_client(path)
        size = blob.get_blob_properties().size
        offset = max(0, size - BUILD_LOG_TAIL)
        text = blob.download_blob(offset=offset, length=size - offset).readall().decode("utf-8", errors="replace")
    except Exception as exc:  # noqa: BLE001
        part.gaps.append(Gap("build_log", f"azureml/{path}: {reader.describe(exc)}"))
        return
    if offset:
        text = text.split("\n", 1)[-1]  # the first line is cut mid-way
    index[f"azureml/{path}"] = {"exists": True, "size": size}
    part.files[f"storage/azureml/{path}"] = text
    part.collected.append("build_log")
