"""The real-world corpus: one YAML file a case under ``cases/``, loaded and validated.

``python -m aml_doctor.knowledge.corpus [FILE ...]`` checks case files and prints one line per problem.
The format is described in ``docs/corpus.md``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

CASES_DIR = Path(__file__).with_name("cases")

TARGETS = ("aks_v1", "aci_v1", "k8s_online_v2", "managed_online_v2", "local", "unknown")
CHANNELS = (
    "sdk_exception", "cli_output", "error_json", "get_logs", "build_log", "kubectl",
    "scoring_response", "portal", "prose", "mixed",
)
SOURCE_KINDS = ("github_issue", "github_pr", "github_discussion", "qa", "notebook", "blog", "docs")
ESTABLISHED_BY = ("maintainer_answer", "reporter_fix", "merged_pr", "docs", "accepted_answer", "unconfirmed")
CATEGORIES = (
    "image_build_failure", "image_pull_failure", "volume_mount_failure", "model_not_found",
    "entry_script_init_error", "entry_script_import_error", "entry_script_run_error", "crash_loop_other",
    "oom_killed", "insufficient_resources_unschedulable", "wrong_port_or_probe_failure",
    "gateway_timeout_or_router_error", "auth_error", "quota_exceeded", "cluster_or_compute_unhealthy",
    "dependency_version_conflict", "other",
)
TRIM_MARK = "<trimmed>"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,99}$")
_GITHUB_THREAD = re.compile(r"github\.com/([^/\s]+)/([^/\s#?]+)/(?:issues|pull|pulls|discussions)/(\d+)", re.I)
_GITHUB_FILE = re.compile(r"github\.com/([^/\s]+)/([^/\s#?]+)/(?:blob|tree|raw)/[^/\s]+/([^\s#?]+)", re.I)
_GITHUB_COMMIT = re.compile(r"github\.com/([^/\s]+)/([^/\s#?]+)/commit/([0-9a-f]{7,40})", re.I)


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    source_kind: str
    target: str
    channel: str
    category: str
    control: bool
    confirmed: bool
    established_by: str
    cause: str
    fix: str
    evidence: str
    date: str = ""
    trimmed: str = ""

    @property
    def thread(self) -> str:
        return thread_key(self.source)

    @property
    def scored(self) -> bool:
        return self.confirmed or self.control


_DOCS_FILE = re.compile(r"github\.com/MicrosoftDocs/[^/]+/(?:blob|tree|raw)/[^/]+/(?:[^\s#?]*/)?([^/\s#?]+?)(?:\.md)?(?:[#?].*)?$", re.I)
_DOCS_PAGE = re.compile(r"learn\.microsoft\.com/(?:[a-z]{2}-[a-z]{2}/)?(?:[^\s#?]*/)?([^/\s#?]+?)/?(?:[#?].*)?$", re.I)


def thread_key(url: str) -> str:
    """One key per thread: 'owner/repo#N' for a GitHub issue, PR or discussion, 'docs:<page>' for
    a Microsoft docs page (whether cited on learn.microsoft.com or as its Markdown source on
    GitHub, so leave-one-thread-out leaves the whole page out), 'owner/repo:path' for another file,
    'owner/repo@sha' for a commit, else host and path."""
    url = url.strip()
    m = _DOCS_FILE.search(url) or (None if "/answers/" in url else _DOCS_PAGE.search(url))
    if m:
        return f"docs:{m.group(1).lower()}"
    m = _GITHUB_THREAD.search(url)
    if m:
        return f"{m.group(1)}/{m.group(2)}#{m.group(3)}".lower()
    m = _GITHUB_FILE.search(url)
    if m:
        return f"{m.group(1)}/{m.group(2)}:{m.group(3)}".lower()
    m = _GITHUB_COMMIT.search(url)
    if m:
        return f"{m.group(1)}/{m.group(2)}@{m.group(3)[:7]}".lower()
    url = re.sub(r"^[a-z]+://", "", url, flags=re.I)
    url = re.split(r"[?#]", url, maxsplit=1)[0]
    return url.rstrip("/").lower()


def problems(data: object, stem: str) -> list[str]:
    """What is wrong with one case's parsed YAML; empty when it is a valid case."""
    if not isinstance(data, dict):
        return ["not a mapping"]
    out: list[str] = []
    required = ("id", "source", "source_kind", "target", "channel", "category", "confirmed", "established_by", "cause", "fix", "evidence")
    for key in required:
        if key not in data:
            out.append(f"missing {key}")
    known = set(required) | {"control", "date", "trimmed"}
    out += [f"unknown key {k!r}" for k in data if k not in known]
    if out:
        return out
    for key in ("id", "source", "source_kind", "target", "channel", "category", "established_by", "cause", "fix", "evidence"):
        if not isinstance(data[key], str) or not data[key].strip():
            out.append(f"{key} must be a non-empty string")
    if out:
        return out
    if data["id"] != stem:
        out.append(f"id {data['id']!r} is not the file name {stem!r}")
    if not _ID.match(data["id"]):
        out.append("id must be kebab-case: a-z, 0-9 and -")
    if not data["source"].startswith("https://"):
        out.append("source must be an https:// URL")
    for key, allowed in (("source_kind", SOURCE_KINDS), ("target", TARGETS), ("channel", CHANNELS), ("established_by", ESTABLISHED_BY)):
        if data[key] not in allowed:
            out.append(f"{key} {data[key]!r} is not one of {', '.join(allowed)}")
    control = data.get("control", False)
    if not isinstance(control, bool) or not isinstance(data["confirmed"], bool):
        out.append("control and confirmed must be true or false")
    elif control and data["category"] != "none":
        out.append("a control's category is 'none'")
    elif not control and data["category"] not in CATEGORIES:
        out.append(f"category {data['category']!r} is not a root-cause category")
    if data["confirmed"] is True and data["established_by"] == "unconfirmed":
        out.append("confirmed: true needs established_by other than 'unconfirmed'")
    if TRIM_MARK in data["evidence"] and not data.get("trimmed"):
        out.append(f"evidence has {TRIM_MARK} but 'trimmed' does not say where")
    for key in ("date", "trimmed"):
        if key in data and not isinstance(data[key], str):
            out.append(f"{key} must be a string (quote dates)")
    return out


def load_case(path: Path) -> Case:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    errors = problems(data, path.stem)
    if errors:
        raise ValueError(f"{path.name}: {'; '.join(errors)}")
    return Case(
        id=data["id"], source=data["source"].strip(), source_kind=data["source_kind"], target=data["target"],
        channel=data["channel"], category=data["category"], control=bool(data.get("control", False)),
        confirmed=data["confirmed"], established_by=data["established_by"], cause=data["cause"].strip(),
        fix=data["fix"].strip(), evidence=data["evidence"], date=str(data.get("date", "")),
        trimmed=str(data.get("trimmed", "")),
    )


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    return [load_case(p) for p in sorted(directory.glob("*.yml"))]


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CASES_DIR.glob("*.yml"))
    bad = 0
    for path in paths:
        try:
            load_case(path)
        except Exception as exc:  # noqa: BLE001 - a checker reports every file, one line each
            bad += 1
            print(f"{path}: {exc}")
    print(f"{len(paths) - bad} valid, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
