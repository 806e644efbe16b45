"""The evidence a bundle holds, and the API rules read it through.

Every piece is optional except the manifest. A piece that is absent, or that the collector could not
get (the manifest says why), or that is damaged, makes the rules that need it "not checked", never
passed. Secrets are redacted as the bundle is read, before any rule sees the evidence.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from aml_doctor.evidence import redact, shapes
from aml_doctor.evidence.bundle import READ_ERRORS, BundleError, Entry, iter_entries, iter_memory
from aml_doctor.evidence.frozen import FrozenDict, freeze
from aml_doctor.evidence.pasted import unwrap_doc
from aml_doctor.evidence.textdoc import TextDoc, TextKind, read_text_stream

FORMAT_VERSION = 1
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_BLOB_TEXT_BYTES = 4 * 1024 * 1024
# Text kept from the whole bundle, all documents together: past it, each further document keeps
# only its head, its tail and the lines that match a rule (docs/limits.md).
# 8 MiB: rules and redaction read kept text with regular expressions (their cost per MiB is
# measured in docs/limits.md), so this bounds the analysis whatever the input.
MAX_KEPT_TEXT_CHARS = 8 * 1024 * 1024

# Names rules use in ``requires``. Kubernetes resources are named as kubectl's plural.
KUBERNETES_RESOURCES = (
    "frontend-pods",  # the cluster's azureml-fe pods (namespaces default and azureml)
    "pods",
    "deployments",
    "replicasets",
    "services",
    "endpoints",
    "configmaps",
    "events",
    "persistentvolumeclaims",
    "persistentvolumes",
    "nodes",
    # v2 (docs/v2.md): the AzureML extension's custom resources, NetworkPolicies, and the
    # extension's own objects in namespace azureml.
    "onlineendpoints",
    "onlinedeployments",
    "instancetypes",
    "networkpolicies",
    "extension-pods",
    "extension-deployments",
    "extension-events",
)
SOURCES = KUBERNETES_RESOURCES + (
    "azureml_service",  # azureml/service.json
    "azureml_logs",  # azureml/logs.txt
    "azureml_init_logs",  # azureml/init-logs.txt
    "operation",  # azureml/operation.txt
    "container_logs",  # logs/<pod>/<container>.log
    "build_log",  # storage/azureml/ImageLogs/...
    "storage_index",  # storage/index.json
    "text",  # any text at all: logs, pasted text, the operation error
)

_RESOURCE_ALIASES = {
    "pod": "pods",
    "po": "pods",
    "deployment": "deployments",
    "deploy": "deployments",
    "replicaset": "replicasets",
    "rs": "replicasets",
    "service": "services",
    "svc": "services",
    "endpoint": "endpoints",
    "ep": "endpoints",
    "configmap": "configmaps",
    "cm": "configmaps",
    "event": "events",
    "ev": "events",
    "persistentvolumeclaim": "persistentvolumeclaims",
    "pvc": "persistentvolumeclaims",
    "persistentvolume": "persistentvolumes",
    "pv": "persistentvolumes",
    "node": "nodes",
    "no": "nodes",
}

_AZUREML_TEXT_KINDS = {
    "logs.txt": (TextKind.AZUREML_LOGS, "azureml_logs"),
    "init-logs.txt": (TextKind.AZUREML_INIT_LOGS, "azureml_init_logs"),
    "operation.txt": (TextKind.OPERATION, "operation"),
}
_TEXT_SUFFIXES = (".log", ".txt", ".json", ".py", ".yml", ".yaml", ".cfg", ".md", ".out", ".err")


@dataclass(frozen=True)
class Manifest:
    format_version: int
    service: str
    namespace: str
    workspace: str
    collected_at: str
    collector: str
    collected: tuple[str, ...]
    not_collected: tuple[tuple[str, str], ...]  # (what, error)
    raw: dict = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_json(cls, data: Any, source: str) -> "Manifest":
        if not isinstance(data, dict):
            raise BundleError(f"{source}: manifest.json must hold a JSON object")
        try:
            shapes.conform(data, shapes.MANIFEST, "manifest.json")
            if data.get("collector") is not None and not isinstance(data["collector"], (str, dict)):
                raise shapes.Malformed("manifest.json.collector is not a string or an object")
            if data.get("not_collected") is not None and not isinstance(data["not_collected"], list):
                raise shapes.Malformed("manifest.json.not_collected is not a list")
        except shapes.Malformed as exc:
            raise BundleError(f"{source}: {exc}") from None
        version = data.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BundleError(
                f"{source}: manifest.json has format_version {version!r}; this aml-doctor reads up to {FORMAT_VERSION}"
            )
        collector = data.get("collector") or ""
        if isinstance(collector, dict):
            collector = " ".join(str(collector.get(k, "")) for k in ("name", "version")).strip()
        gaps = []
        for item in data.get("not_collected") or []:
            if isinstance(item, dict):
                gaps.append((str(item.get("what", "?")), str(item.get("error", ""))))
            else:
                gaps.append((str(item), ""))
        return cls(
            format_version=version,
            service=str(data.get("service") or ""),
            namespace=str(data.get("namespace") or ""),
            workspace=str(data.get("workspace") or ""),
            collected_at=str(data.get("collected_at") or ""),
            collector=str(collector),
            collected=tuple(str(x) for x in data.get("collected") or ()),
            not_collected=tuple(gaps),
            raw=data,
        )


class Evidence:
    """Everything one bundle says about one service. Rules read it; nothing writes to it."""

    def __init__(self, source: str, manifest: Manifest):
        self.source = source
        self.manifest = manifest
        self._objects: dict[str, list[dict]] = {}
        self.texts: list[TextDoc] = []
        self.service_json: dict | None = None
        self.storage_index: dict[str, dict] | None = None
        self.blobs: dict[str, TextDoc] = {}  # "<container>/<path>" -> fetched text
        self.damaged: dict[str, str] = {}  # bundle path -> why it could not be read
        self.notes: list[str] = []
        self._present: set[str] = set()
        self._derived: dict[str, Any] = {}
        self._sealed = False

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError(f"evidence is read-only: cannot set {name}")
        object.__setattr__(self, name, value)

    def seal(self) -> None:
        """Make the evidence read-only before any rule sees it: objects become read-only views
        (:mod:`aml_doctor.evidence.frozen`), collections tuples. Done once; idempotent."""
        if self._sealed:
            return
        self._objects = FrozenDict({k: freeze(v) for k, v in self._objects.items()})
        self.texts = tuple(self.texts)
        for doc in (*self.texts, *self.blobs.values()):
            doc.seal()
        self.service_json = freeze(self.service_json)
        self.storage_index = freeze(self.storage_index)
        self.blobs = FrozenDict(self.blobs)
        self.damaged = FrozenDict(self.damaged)
        self.notes = tuple(self.notes)
        self._present = frozenset(self._present)
        object.__setattr__(self.manifest, "raw", freeze(self.manifest.raw))
        self._sealed = True

    def derived(self, key: str, compute):
        """Evidence does not change once read: views many rules ask for (events, container
        states, AzureML errors) are computed once per bundle."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    # ---------------------------------------------------------------- what is there
    @property
    def service(self) -> str:
        return self.manifest.service

    @property
    def namespace(self) -> str:
        return self.manifest.namespace

    def has(self, source: str) -> bool:
        return source in self._present

    def why_missing(self, source: str) -> str:
        """One line: why ``source`` is not available, from the manifest or the bundle itself."""
        for what, error in self.manifest.not_collected:
            if what == source or what.rstrip("s") == source.rstrip("s") or posixpath.basename(what).split(".")[0] == source:
                return f"not collected: {error}" if error else "not collected"
        for path, why in self.damaged.items():
            if _source_of_path(path) == source:
                return f"{path} {why}" if why.startswith("malformed") else f"{path} is damaged: {why}"
        return f"no {_describe(source)} in the bundle"

    # ---------------------------------------------------------------- Kubernetes
    def objects(self, resource: str) -> list[dict]:
        return self._objects.get(_RESOURCE_ALIASES.get(resource, resource), [])

    def object_locator(self, resource: str, obj: dict, field_path: str = "") -> str:
        name = (obj.get("metadata") or {}).get("name", "?")
        loc = f"kubernetes/{resource}.json#{name}"
        return f"{loc}/{field_path}" if field_path else loc

    # ---------------------------------------------------------------- text
    def docs(self, *kinds: TextKind) -> list[TextDoc]:
        """Text documents of the given kinds (all of them when none is given), in a stable order."""
        if not kinds:
            return list(self.texts)
        return [d for d in self.texts if d.kind in kinds]

    def container_logs(self, pod: str | None = None) -> list[TextDoc]:
        return [d for d in self.texts if d.kind is TextKind.CONTAINER_LOG and (pod is None or d.pod == pod)]

    def build_logs(self) -> list[TextDoc]:
        return self.docs(TextKind.BUILD_LOG)

    def blob_exists(self, container_path: str) -> bool | None:
        """True or False from storage/index.json; None when the index does not know the path."""
        if self.storage_index is None:
            return None
        entry = self.storage_index.get(container_path.lstrip("/"))
        if entry is None:
            return None
        return bool(entry.get("exists"))

    # ---------------------------------------------------------------- loading
    def _add_objects(self, resource: str, items: list[dict]) -> None:
        self._objects.setdefault(resource, []).extend(items)
        self._present.add(resource)

    def _add_text(self, doc: TextDoc, source: str) -> None:
        self.texts.append(doc)
        self._present.add(source)
        self._present.add("text")
        if doc.skipped:
            self.notes.append(f"partly read: {doc.skipped}")
        if doc.replaced_bytes:
            self.notes.append(f"{doc.path}: bytes that are not UTF-8 were replaced with U+FFFD")


def _describe(source: str) -> str:
    if source in KUBERNETES_RESOURCES:
        return f"kubernetes/{source}.json"
    return {
        "azureml_service": "azureml/service.json",
        "azureml_logs": "azureml/logs.txt",
        "azureml_init_logs": "azureml/init-logs.txt",
        "operation": "azureml/operation.txt",
        "container_logs": "container log under logs/",
        "build_log": "image build log under storage/azureml/ImageLogs/",
        "storage_index": "storage/index.json",
        "text": "log or text",
    }.get(source, source)


def _source_of_path(path: str) -> str:
    parts = path.split("/")
    if parts[0] == "kubernetes" and len(parts) == 2:
        stem = parts[1].rsplit(".", 1)[0].lower()
        return _RESOURCE_ALIASES.get(stem, stem)
    if path == "azureml/service.json":
        return "azureml_service"
    if path == "storage/index.json":
        return "storage_index"
    if parts[0] == "azureml" and parts[-1] in _AZUREML_TEXT_KINDS:
        return _AZUREML_TEXT_KINDS[parts[-1]][1]
    return ""


def _read_json(entry: Entry, source: str) -> Any:
    if entry.size > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES // 2**20} MiB")
    data = entry.stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES // 2**20} MiB")
    text = data.decode("utf-8", errors="replace")
    if entry.path.endswith((".yaml", ".yml")):
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            _refuse_yaml_aliases(yaml, text, loader)
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            raise ValueError(f"invalid YAML{where}") from None
        except RecursionError:
            data, deep = None, True
        else:
            deep = not shapes.depth_ok(data)
    else:
        try:
            data = json.loads(text)
            deep = not shapes.depth_ok(data)
        except json.JSONDecodeError as exc:
            hint = " (truncated?)" if exc.pos >= len(text.rstrip()) - 1 else ""
            raise ValueError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
        except RecursionError:  # the C parser stops cleanly at the interpreter's recursion limit
            data, deep = None, True
    if deep:
        raise ValueError(f"malformed: nested more than {shapes.MAX_DEPTH} levels deep")
    return data


def _refuse_yaml_aliases(yaml, text: str, loader) -> None:
    """A YAML alias (``*ref``) repeats a whole subtree: nine levels of them in 500 bytes expand to
    a billion nodes ("billion laughs", https://en.wikipedia.org/wiki/Billion_laughs_attack).
    kubectl never writes them, so a file with any is refused before anything expands it."""
    if "&" not in text:  # an alias needs an anchor
        return
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            raise ValueError("malformed: uses YAML aliases (*ref), which aml-doctor does not expand")


def _as_items(data: Any) -> list[dict]:
    """``kubectl get X -o json`` prints a List; ``kubectl get X NAME -o json`` prints one object."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, dict) and data.get("kind") and data.get("metadata"):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise ValueError("malformed: not a Kubernetes List or object")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"malformed: items[{i}] is {shapes.describe(item)}, expected an object")
    return items


def load(source: str | dict[str, bytes], signals: tuple[str, ...] = (), redact_secrets: bool = True, label: str = "") -> Evidence:
    """Read a bundle into :class:`Evidence`. ``source`` is a path, or the files of a live collection
    (bundle path -> bytes). Raises :class:`BundleError` when it cannot be read at all."""
    entries = iter_memory(source) if isinstance(source, dict) else iter_entries(source)
    source = label or ("live collection" if isinstance(source, dict) else source)
    raw: list[tuple[str, Any]] = []  # (path, parsed) in archive order
    damaged: dict[str, str] = {}
    ignored: list[str] = []
    budget = _TextBudget()
    try:
        for entry in entries:
            try:
                parsed = _parse_entry(entry, signals, budget)
            except ValueError as exc:
                damaged[entry.path] = str(exc)
                continue
            if parsed is None:
                ignored.append(entry.path)
            else:
                raw.append((entry.path, parsed))
    except BundleError:
        raise
    except READ_ERRORS as exc:
        raise BundleError(f"{source}: damaged or truncated archive: {exc}") from None

    prefix = _common_prefix([p for p, _ in raw] + list(damaged))
    if prefix:
        raw = [(p[len(prefix):], v) for p, v in raw]
        damaged = {p[len(prefix):]: v for p, v in damaged.items()}
    manifest_data = next((v for p, v in raw if p == "manifest.json"), None)
    if manifest_data is None:
        if "manifest.json" in damaged:
            raise BundleError(f"{source}: manifest.json is unreadable: {damaged['manifest.json']}")
        raise BundleError(f"{source}: no manifest.json; not an aml-doctor evidence bundle")
    ev = Evidence(source, Manifest.from_json(manifest_data[1], source))
    ev.damaged = damaged
    tally = redact.Tally()
    tally.add_recorded(manifest_data[1].get("redaction") if isinstance(manifest_data[1], dict) else None)
    for path, (kind, value) in raw:
        if path == "manifest.json":
            continue
        # Kubernetes lists are redacted after their shape check, in the walk that makes their
        # read-only views (redact.redacted_view); everything else here.
        kube = kind == "json" and path.startswith("kubernetes/")
        if redact_secrets and not kube:
            value = _redact(kind, value, tally)
        try:
            _place(ev, path, kind, value, tally if redact_secrets and kube else None)
        except ValueError as exc:
            ev.damaged[path] = str(exc)
    for path, why in sorted(ev.damaged.items()):
        ev.notes.append(f"could not read {path}: {why}")
    ev.texts.sort(key=lambda d: d.path)
    ev.redaction = tally.summary()
    return ev


def _common_prefix(paths: list[str]) -> str:
    """A bundle archived with its folder (``bundle/manifest.json``) reads like one without it."""
    if "manifest.json" in paths:
        return ""
    tops = {p.split("/", 1)[0] for p in paths if "/" in p}
    if len(tops) == 1 and all("/" in p for p in paths):
        top = tops.pop()
        if f"{top}/manifest.json" in paths:
            return top + "/"
    return ""


_TOP_LEVEL = {"manifest.json", "azureml", "kubernetes", "logs", "storage", "text"}


def _parse_entry(entry: Entry, signals: tuple[str, ...], budget: "_TextBudget | None" = None) -> tuple[str, Any] | None:
    """Read one member into ("json", data), ("text", TextDoc) or ("blob", TextDoc) by where it sits.

    Returns None for a member aml-doctor does not read. A bundle may sit inside one folder of the
    archive, so the first path part is dropped when it is not one of the bundle's own.
    """
    parts = entry.path.split("/")
    if parts[0] not in _TOP_LEVEL and len(parts) > 1:
        parts = parts[1:]
    top, base = parts[0], parts[-1]
    if parts == ["manifest.json"]:
        return ("json", _read_json(entry, entry.path))
    if top == "kubernetes" and len(parts) == 2 and base.endswith((".json", ".yaml", ".yml")):
        return ("json", _read_json(entry, entry.path))
    if parts in (["azureml", "service.json"], ["storage", "index.json"]):
        return ("json", _read_json(entry, entry.path))
    if top == "azureml" and len(parts) == 2 and base.endswith(".txt"):
        kind = _AZUREML_TEXT_KINDS.get(base, (TextKind.PASTED, "text"))[0]
        return ("text", unwrap_doc((budget or _TextBudget()).read(entry.stream, entry.path, kind, signals)))
    if top == "logs" and base.endswith(".log"):
        return ("text", (budget or _TextBudget()).read(entry.stream, entry.path, TextKind.CONTAINER_LOG, signals))
    if top == "text" and len(parts) >= 2:
        return ("text", unwrap_doc((budget or _TextBudget()).read(entry.stream, entry.path, TextKind.PASTED, signals)))
    if top == "storage" and len(parts) >= 3:
        if "ImageLogs" in parts:
            return ("text", (budget or _TextBudget()).read(entry.stream, entry.path, TextKind.BUILD_LOG, signals))
        if base.endswith(_TEXT_SUFFIXES) and entry.size <= MAX_BLOB_TEXT_BYTES:
            return ("blob", (budget or _TextBudget()).read(entry.stream, entry.path, TextKind.PASTED))
    return None


def _redact(kind: str, value: Any, tally: "redact.Tally | None" = None) -> Any:
    with redact.counting(into=tally):
        if kind == "json":
            return redact.redact_object(value)
        for seg in value.segments:
            seg.text = redact.redact_text(seg.text)
            seg._starts = None
    return value


def _place(ev: Evidence, path: str, kind: str, value: Any, tally: "redact.Tally | None" = None) -> None:
    """Put one parsed file in place; ``tally`` given: a Kubernetes list still to be redacted."""
    parts = path.split("/")
    if parts[0] == "kubernetes" and len(parts) == 2:
        stem = parts[1].rsplit(".", 1)[0].lower()
        resource = _RESOURCE_ALIASES.get(stem, stem)
        items = _conformed(lambda: shapes.kubernetes_items(resource, _as_items(value)))
        if tally is not None:
            with redact.counting(into=tally):
                items = [redact.redacted_view(item) for item in items]
        ev._add_objects(resource, items)
    elif path == "azureml/service.json":
        if not isinstance(value, dict):
            raise ValueError("malformed: must hold a JSON object")
        ev.service_json = _conformed(lambda: shapes.conform(value, shapes.SERVICE_JSON, "service"))
        ev._present.add("azureml_service")
    elif path == "storage/index.json":
        if not isinstance(value, dict):
            raise ValueError("malformed: must map '<container>/<path>' to {exists, size, last_modified}")
        index = _conformed(lambda: shapes.conform(value, shapes.STORAGE_INDEX, "index"))
        ev.storage_index = {k.lstrip("/"): v for k, v in index.items()}
        ev._present.add("storage_index")
    elif kind == "text":
        doc: TextDoc = value
        doc.path = path
        if doc.kind is TextKind.CONTAINER_LOG:
            _label_container_log(doc, parts)
            ev._add_text(doc, "container_logs")
        elif doc.kind is TextKind.BUILD_LOG:
            ev._add_text(doc, "build_log")
            ev.blobs["/".join(parts[1:])] = doc
        else:
            source = _AZUREML_TEXT_KINDS.get(parts[-1], (None, "text"))[1] if parts[0] == "azureml" else "text"
            ev._add_text(doc, source)
    elif kind == "blob":
        value.path = path
        ev.blobs["/".join(parts[1:])] = value


class _TextBudget:
    """The bundle's budget of kept text (``MAX_KEPT_TEXT_CHARS``), shared by all its documents."""

    def __init__(self, chars: int | None = None):
        self.left = MAX_KEPT_TEXT_CHARS if chars is None else chars

    def read(self, stream, path: str, kind: TextKind, signals: tuple[str, ...] = ()) -> TextDoc:
        doc = read_text_stream(stream, path, kind, signals, keep_chars=self.left)
        self.left -= sum(len(seg.text) for seg in doc.segments)
        return doc


def _conformed(check):
    try:
        return check()
    except shapes.Malformed as exc:
        raise ValueError(f"malformed: {exc}") from None


def _label_container_log(doc: TextDoc, parts: list[str]) -> None:
    # logs/<pod>/<container>.log or logs/<pod>/<container>.previous.log
    name = parts[-1][: -len(".log")]
    doc.previous = name.endswith(".previous")
    doc.container = name[: -len(".previous")] if doc.previous else name
    doc.pod = parts[-2] if len(parts) >= 3 else ""



def from_texts(
    texts: list[tuple[str, bytes]],
    service: str = "",
    signals: tuple[str, ...] = (),
    redact_secrets: bool = True,
) -> Evidence:
    """Wrap pasted text (an SDK exception, a get_logs() dump, kubectl describe output) as a bundle
    of ``text/*.txt`` files, exactly as if a user had assembled one by hand."""
    import io

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        service=service,
        namespace="",
        workspace="",
        collected_at="",
        collector="aml-doctor analyze --text",
        collected=("text",),
        not_collected=(),
        raw={},
    )
    ev = Evidence("pasted text", manifest)
    tally = redact.Tally()
    used: set[str] = set()
    for name, data in texts:
        stem = posixpath.splitext(posixpath.basename(name.replace("\\", "/")))[0] or "pasted"
        path, n = f"text/{stem}.txt", 2
        while path in used:
            path, n = f"text/{stem}-{n}.txt", n + 1
        used.add(path)
        doc = unwrap_doc(read_text_stream(io.BytesIO(data), path, TextKind.PASTED, signals))
        if redact_secrets:
            doc = _redact("text", doc, tally)
        ev._add_text(doc, "text")
    ev.redaction = tally.summary()
    return ev
