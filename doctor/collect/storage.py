"""Blob storage evidence: do the model and code blobs the service mounts exist, and what does the
image build log say.

Read-only by construction: every request passes a hook that refuses anything but GET and HEAD
before it is sent. Each failure becomes a one-line :class:`Gap` with no credential in it.

Each call is bounded as a whole, body included, by ``request_timeout``: the SDK's own timeouts
bound each socket read, so an account that dribbles its answer would otherwise hold the run.
Listings are capped at :data:`MAX_LISTED_BLOBS` names.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from aml_doctor.common.text import error_line, first_line
from aml_doctor.evidence import redact
from aml_doctor.common.termsafe import safe_progress
from aml_doctor.collect.part import Gap, Part

IMAGE_LOGS = "ImageLogs/"
BUILD_LOG_NAME = "build.log"
# Without a hint, how many of the newest build logs are read (tail only) to find this service's.
MAX_BUILD_LOG_CANDIDATES = 20
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
# Names read from one listing: a model folder or ImageLogs/ with more is read in part, and says so.
MAX_LISTED_BLOBS = 5000

Progress = Callable[[str], None]


class WriteAttempted(RuntimeError):
    """A request that could change the storage account was about to be sent."""


def collect_storage(
    *,
    blob_paths: list[str],
    image_id_hint: str | None,
    service: str,
    connection_string: str | None = None,
    account_url: str | None = None,
    credential: Any = None,
    container: str = "azureml",
    tail_bytes: int = 256 * 1024,
    request_timeout: float = 10,
    progress: Progress | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> Part:
    """Index ``blob_paths`` in ``container`` and fetch the tail of the image build log.

    ``credential`` is an account key or SAS string, an azure-core credential object, or None
    (``DefaultAzureCredential``, unless a connection string or a SAS URL already authenticates).
    ``client_options`` go to the azure-storage-blob client as they are (``proxies``,
    ``raw_request_hook``, ``raw_response_hook``...).
    """
    say = safe_progress(progress) or (lambda message: None)
    part = Part()
    try:
        service_client = open_service_client(
            connection_string=connection_string,
            account_url=account_url,
            credential=credential,
            request_timeout=request_timeout,
            client_options=client_options,
        )
    except Exception as exc:  # a malformed connection string or URL, a missing azure package
        error = describe_storage_error(exc, _public_url(account_url) if account_url else None, request_timeout)
        part.gaps += [Gap("storage_index", error), Gap("build_log", error)]
        return part

    reader = Reader(service_client.get_container_client(container), request_timeout, say)
    say(f"storage: reading container '{container}' at {reader.where}")
    try:
        # One page of one name: it needs only the List permission a read-only SAS has, and it
        # tells a missing container and a refused credential apart before any per-path work.
        reader.within(lambda: next(iter(next(reader.client.list_blobs(results_per_page=1).by_page(), None) or ()), None))
    except Exception as exc:
        error = reader.describe(exc)
        part.gaps += [Gap("storage_index", error), Gap("build_log", error)]
        return part

    index: dict[str, dict] = {}
    reader.index_blob_paths(blob_paths, index, part)
    reader.fetch_build_log(image_id_hint, service, tail_bytes, index, part)
    if index:
        part.files["storage/index.json"] = index
    return part


def open_service_client(
    *,
    connection_string: str | None,
    account_url: str | None,
    credential: Any,
    request_timeout: float,
    client_options: Mapping[str, Any] | None = None,
):
    """A BlobServiceClient that only ever sends GET and HEAD requests."""
    from azure.storage.blob import BlobServiceClient

    options = dict(client_options or {})
    options["raw_request_hook"] = _read_only_hook(options.get("raw_request_hook"))
    # One attempt per request: a diagnosis reports what it sees, and the SDK's default retries
    # (with 15 s back-off) would turn one unreachable account into minutes of waiting.
    options.setdefault("retry_total", 0)
    options["connection_timeout"] = request_timeout
    options["read_timeout"] = request_timeout
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, credential=credential, **options)
    if not account_url:
        raise ValueError("no storage account given: pass a connection string or an account URL")
    if credential is None and "sig=" not in urlsplit(account_url).query:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return BlobServiceClient(account_url, credential=credential, **options)


def _read_only_hook(caller_hook: Callable | None) -> Callable:
    def hook(request) -> None:
        method = request.http_request.method.upper()
        if method not in READ_ONLY_METHODS:
            raise WriteAttempted(f"refused to send {method}: the storage collector is read-only")
        if caller_hook is not None:
            caller_hook(request)

    return hook


class Reader:
    """One container of one account, read on behalf of one collection."""

    def __init__(self, client, request_timeout: float, say: Progress) -> None:
        self.client = client
        self.container = client.container_name
        self.where = _public_url(client.url).rsplit("/", 1)[0]  # the account URL, no SAS
        self.request_timeout = request_timeout
        self.say = say

    def describe(self, exc: BaseException) -> str:
        return describe_storage_error(exc, self.where, self.request_timeout, container=self.container)

    def within(self, fn: Callable):
        """``fn()`` given up after the request timeout, however slowly its answer arrives."""
        from aml_doctor.engine import guard

        outcome = guard.call(fn, self.request_timeout, name="storage")
        if outcome.timed_out:
            raise TimeoutError(f"no answer within {self.request_timeout:g} s")
        if outcome.error is not None:
            raise outcome.error
        return outcome.value

    def listed(self, prefix: str) -> list:
        """At most MAX_LISTED_BLOBS blobs under ``prefix``, the listing bounded like any call."""
        blobs = self.within(lambda: list(itertools.islice(self.client.list_blobs(name_starts_with=prefix), MAX_LISTED_BLOBS + 1)))
        if len(blobs) > MAX_LISTED_BLOBS:
            self.say(f"storage: more than {MAX_LISTED_BLOBS} blobs under {prefix}; read the first {MAX_LISTED_BLOBS}")
            blobs = blobs[:MAX_LISTED_BLOBS]
        return blobs

    # -------------------------------------------------------------- blob paths
    def index_blob_paths(self, blob_paths: list[str], index: dict, part: Part) -> None:
        if not blob_paths:
            return
        self.say(f"storage: checking {len(blob_paths)} blob path(s) in '{self.container}'")
        for raw_path in blob_paths:
            path = raw_path.lstrip("/")
            try:
                index[f"{self.container}/{path}"] = self._blob_entry(path)
            except Exception as exc:
                part.gaps.append(Gap("storage_index", f"{self.container}/{path}: {self.describe(exc)}"))
                return  # the same failure would repeat, one timeout per path
        part.collected.append("storage_index")

    def _blob_entry(self, path: str) -> dict:
        from azure.core.exceptions import ResourceNotFoundError

        if not path.endswith("/"):
            try:
                props = self.within(self.client.get_blob_client(path).get_blob_properties)
                return {"exists": True, "kind": "blob", "size": props.size, "last_modified": _iso(props.last_modified)}
            except ResourceNotFoundError:
                pass
        # A model registered from a directory is a "folder": a prefix with blobs under it.
        blobs = self.listed(path.rstrip("/") + "/")
        if not blobs:
            return {"exists": False}
        return {
            "exists": True,
            "kind": "prefix",
            "size": sum(b.size for b in blobs),
            "blobs": len(blobs),
            "last_modified": _iso(max(b.last_modified for b in blobs)),
        }

    # -------------------------------------------------------------- build log
    def fetch_build_log(
        self, image_id_hint: str | None, service: str, tail_bytes: int, index: dict, part: Part
    ) -> None:
        try:
            chosen = self._choose_build_log(image_id_hint, service, tail_bytes)
            if chosen is None:
                part.gaps.append(Gap("build_log", _not_found_message(self.container, image_id_hint, service)))
                return
            name, props, tail = chosen
            text, dropped = tail if tail is not None else self._read_tail(name, props.size, tail_bytes)
        except Exception as exc:
            part.gaps.append(Gap("build_log", self.describe(exc)))
            return
        index[f"{self.container}/{name}"] = {
            "exists": True,
            "kind": "blob",
            "size": props.size,
            "last_modified": _iso(props.last_modified),
            "truncated_head_bytes": dropped,
        }
        part.files[f"storage/{self.container}/{name}"] = text
        part.collected.append("build_log")
        if dropped:
            self.say(f"storage: read the last {props.size - dropped} of {props.size} bytes of {name}")

    def _choose_build_log(self, image_id_hint: str | None, service: str, tail_bytes: int):
        """(blob name, properties, tail or None) of this service's build log, or None."""
        image_id = image_id_from_hint(image_id_hint) if image_id_hint else None
        if image_id:
            prefix = f"{IMAGE_LOGS}{image_id}/"
            logs = self._build_logs(prefix)
            if logs:
                self.say(f"storage: build log {logs[0].name} (from the image id {image_id})")
                return logs[0].name, logs[0], None
            self.say(f"storage: nothing under {self.container}/{prefix}; searching {IMAGE_LOGS} for the service")
        needles = [n for n in (image_id, service) if n]
        for blob in self._build_logs(IMAGE_LOGS)[:MAX_BUILD_LOG_CANDIDATES]:
            if any(n in blob.name for n in needles):
                self.say(f"storage: build log {blob.name} (its path names {_first_in(needles, blob.name)})")
                return blob.name, blob, None
            text, dropped = self._read_tail(blob.name, blob.size, tail_bytes)
            if any(n in text for n in needles):
                self.say(f"storage: build log {blob.name} (the newest whose text names {_first_in(needles, text)})")
                return blob.name, blob, (text, dropped)
        return None

    def _build_logs(self, prefix: str) -> list:
        logs = [b for b in self.listed(prefix) if b.name.rsplit("/", 1)[-1] == BUILD_LOG_NAME]
        return sorted(logs, key=lambda b: b.last_modified, reverse=True)

    def _read_tail(self, name: str, size: int, tail_bytes: int) -> tuple[str, int]:
        """The last ``tail_bytes`` of a blob from its first whole line, and how many bytes before
        it were not read. One ranged GET: a 200 MB log costs a 256 KiB download."""
        blob = self.client.get_blob_client(name)
        if size <= tail_bytes:
            return self.within(lambda: blob.download_blob().readall()).decode("utf-8", errors="replace"), 0
        # One byte more than asked, so a tail that starts exactly on a line keeps that line.
        offset = size - tail_bytes - 1
        data = self.within(lambda: blob.download_blob(offset=offset, length=tail_bytes + 1).readall())
        newline = data.find(b"\n")
        cut = newline + 1 if newline >= 0 else 1
        return data[cut:].decode("utf-8", errors="replace"), offset + cut


def image_id_from_hint(hint: str) -> str:
    """The ImageLogs folder id in an image name, a build-log path or an error text:
    ``acr.azurecr.io/azureml/azureml_<32hex>:latest`` -> ``<32hex>``;
    ``... "/azureml/ImageLogs/<id>/build.log"`` -> ``<id>``; anything else as it is."""
    in_path = re.search(r"ImageLogs/([^/\s\"']+)/", hint)
    if in_path:
        return in_path.group(1)
    in_image = re.search(r"azureml_([0-9a-f]{32})\b", hint)
    if in_image:
        return in_image.group(1)
    return hint.strip().strip("/")


def _first_in(needles: list[str], text: str) -> str:
    return next(f"'{n}'" for n in needles if n in text)


def _not_found_message(container: str, image_id_hint: str | None, service: str) -> str:
    if image_id_hint:
        image_id = image_id_from_hint(image_id_hint)
        return (
            f"no build log under {container}/{IMAGE_LOGS}{image_id}/, and none of the newest "
            f"{MAX_BUILD_LOG_CANDIDATES} under {container}/{IMAGE_LOGS} names '{image_id}' or '{service}'"
        )
    return (
        f"no image id known, and none of the newest {MAX_BUILD_LOG_CANDIDATES} build logs under "
        f"{container}/{IMAGE_LOGS} names the service '{service}'"
    )


# ------------------------------------------------------------------ errors
def describe_storage_error(
    exc: BaseException,
    where: str | None,
    request_timeout: float,
    container: str | None = None,
) -> str:
    """One line for a Gap, with every credential taken out: a SAS client's request URLs carry
    its signature, and a connection string its account key."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    place = where or "the storage account"
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None) or ""
    code = getattr(code, "value", code)  # the SDK gives a StorageErrorCode enum when it knows the code
    if isinstance(exc, WriteAttempted):
        text = str(exc)
    elif isinstance(exc, ServiceRequestError):
        text = f"cannot reach {place}: {_socket_reason(exc)}"
    elif isinstance(exc, ServiceResponseError):
        if "timed out" in str(exc).lower():
            text = f"no answer from {place} within {request_timeout:g} s"
        else:
            text = f"{place} closed the connection: {_socket_reason(exc)}"
    elif status == 404 and code == "ContainerNotFound":
        text = f"404 ContainerNotFound: container '{container}' does not exist at {place}"
    elif status in (401, 403) or code == "AuthenticationFailed":
        text = (
            f"{status or 403} {code or 'AuthenticationFailed'}: {place} rejected the credential "
            "(a wrong or rotated account key, an expired SAS, or no data-plane role)"
        )
    elif isinstance(exc, ClientAuthenticationError):  # no token from azure-identity, a key that is not base64
        text = f"could not authenticate to {place}: {first_line(exc, type(exc).__name__)}"
    elif isinstance(exc, HttpResponseError):
        text = f"{status} {code}: {first_line(exc, type(exc).__name__)}".strip()
    elif isinstance(exc, TimeoutError):  # Reader.within: the whole call, body included
        text = f"no answer from {place} within {request_timeout:g} s"
    elif isinstance(exc, ImportError):
        text = f"the Azure SDK is not installed (pip install 'aml-doctor[live]'): {first_line(exc, type(exc).__name__)}"
    else:
        text = error_line(exc)
    return redact.redact_text(text)


def _socket_reason(exc: BaseException) -> str:
    message = str(exc)
    for pattern in (r"\[Errno -?\d+\][^'\")]*", r"Name or service not known", r"timed out", r"Connection refused"):
        match = re.search(pattern, message)
        if match:
            return match.group(0).strip()
    return first_line(exc, type(exc).__name__)


def _public_url(url: str) -> str:
    """The account URL without its query string (which may hold a SAS)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
