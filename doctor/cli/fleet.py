"""``aml-doctor --all`` and ``aml-doctor svc1 svc2 ...``: the command over the fleet scan.

The scan itself (one list per kind and namespace, logs only for pods that need them) is
:mod:`aml_doctor.collect.fleet`. Here each service is analysed in turn, its report written at
once with ``--output-dir``, and only its summary row kept, so memory does not grow with the
services analysed. A service whose evidence cannot be read (its pods, its events, its logs) and
that shows no root cause without it is listed as unknown, with the reason; the others go on.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable

from aml_doctor.cli.fleetrow import check_names, fleet_row, missing_rows
from aml_doctor.collect.core import workspace_namespace
from aml_doctor.collect.fleet import ScanFailed, ServiceEvidence, collect_fleet, find_namespaces
from aml_doctor.collect.kubernetes import Reader
from aml_doctor.collect.part import Part
from aml_doctor.findings import Report, Verdict
from aml_doctor.reports.fleet import FleetRow  # noqa: F401 - the rows' type, for the report tests

# ----------------------------------------------------------------------------- the command
EXTENSIONS = {"text": "txt", "md": "md", "html": "html", "json": "json", "sarif": "sarif", "junit": "xml"}


def run_fleet(args, progress, analyze_files: Callable[[dict[str, bytes], str], Report], fail_on) -> int:
    """The ``--all`` / several-services command: summary on stdout (or -o), reports in --output-dir."""
    import sys

    from aml_doctor.reports import render

    from aml_doctor.cli.errors import UsageError
    from aml_doctor.collect.part import manifest, render_files
    from aml_doctor.common.exitcodes import ExitCode

    try:
        wanted = check_names(list(args.service)) if args.service else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _prepare_output_dir(args)
    from aml_doctor.cli.liverun import kube_client

    try:
        api_client = kube_client(args)  # the run's one client, closed when the run ends
    except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
        print(f"aml-doctor: error: cannot use {args.kubeconfig or 'the default kubeconfig'}: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    deadline = time.monotonic() + args.timeout
    from aml_doctor.common.termsafe import safe_progress

    progress = safe_progress(progress)  # service and namespace names come from the cluster
    try:
        # Each answer, body included, also ends by the scan's deadline (collect.kubernetes.Reader).
        reader = Reader(api_client, args.request_timeout, Part(), deadline)
        namespaces = _namespaces(args, reader, progress)
        found = collect_fleet(reader, namespaces, wanted, log_lines=args.log_lines, workers=args.workers,
                              deadline=deadline, say=progress) if namespaces else []
    except ScanFailed as exc:
        print(f"aml-doctor: error: nothing could be collected: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR

    def analyze_part(evidence: ServiceEvidence, part: Part) -> Report:
        # In memory only, never written: evidence.load redacts as it reads, so once is enough here.
        files = render_files(manifest(evidence.service, evidence.namespace, args.workspace_name or "", part),
                             part, redact_secrets=False)
        return analyze_files(files, f"live: {evidence.namespace}/{evidence.service}")

    missing = missing_rows(wanted, found, namespaces)
    v2 = []
    if wanted is None:  # --all: the v2 online deployments beside the v1 services (docs/v2.md)
        from aml_doctor.cli.v2fleet import v2_rows

        v2 = v2_rows(args, analyze_files, fail_on, progress)
    writer = _Reports(args, [e.service for e in found] + [r.service for r in missing + v2], render) if args.output_dir else None
    progress(f"analysing {len(found)} service(s)")
    now = time.time()
    rows = []
    for evidence in found:
        row = fleet_row(evidence, analyze_part, fail_on, now)
        rows.append(writer.write(row) if writer else dataclasses.replace(row, report=None))
    rows += missing + [writer.write(r) if writer else r for r in v2]
    getattr(progress, "close", lambda: None)()  # a terminal's progress display goes before the summary
    _write_summary(args, rows, namespaces, writer.links if writer else {})
    return ExitCode.OK if rows and all(r.verdict == Verdict.NO_PROBLEM_FOUND.value for r in rows) else ExitCode.FINDINGS


def _prepare_output_dir(args) -> None:
    import os

    from aml_doctor.cli.errors import UsageError

    if args.output_dir:
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.output_dir))):
            raise UsageError(f"cannot write {args.output_dir}: its parent directory does not exist")
        os.makedirs(args.output_dir, exist_ok=True)


def _namespaces(args, reader, progress) -> list[str]:
    """-n, else the workspace's namespace, else the context's (kubectl's default), else every azureml-* one."""
    if args.namespace:
        return [args.namespace]
    if args.workspace_name:
        return [workspace_namespace(args.workspace_name)]
    if getattr(args, "context_namespace", None) and not args.all_namespaces:
        return [args.context_namespace]
    progress("listing the azureml-* namespaces")
    return find_namespaces(reader)


def _write_summary(args, rows: list, namespaces: list[str], links: dict) -> None:
    """The summary on stdout (or -o), and beside the reports in --output-dir as index.html."""
    import os

    from aml_doctor.cli.output import write_output
    from aml_doctor.reports.fleet import render_fleet

    summary = args.format if args.format in ("text", "md", "html", "json") else "text"
    title = f"aml-doctor: {len(rows)} service(s) in {', '.join(namespaces) or 'no namespace'}"
    if args.output_dir:
        write_output(os.path.join(args.output_dir, "index.html"), render_fleet(rows, "html", title=title, links=links))
    write_output(args.output_file, render_fleet(rows, summary, title=title, links=links))


class _Reports:
    """``<service>.<ext>`` per analysed service (``<namespace>.<service>.<ext>`` when a name repeats),
    written as soon as the service is analysed; with ``--anonymize`` the file is named by the
    service's token, so its name does not show in a file name or a link."""

    def __init__(self, args, names: list[str], render):
        self.dir, self.format, self.render = args.output_dir, args.format, render
        self.ext = EXTENSIONS[args.format]
        self.repeated = _repeated(names)
        self.links: dict[tuple[str, str], str] = {}

    def write(self, row: FleetRow) -> FleetRow:
        import os

        from aml_doctor.cli.output import write_output

        if row.report is None:
            return row
        stem = row.service if row.service not in self.repeated else f"{row.namespace}.{row.service}"
        stem = _file_stem(stem, row)
        write_output(os.path.join(self.dir, f"{stem}.{self.ext}"), self.render(row.report, self.format))
        self.links[(row.namespace, row.service)] = f"{stem}.{self.ext}"
        return dataclasses.replace(row, report=None)  # written: the row no longer holds the report


def _repeated(names: list[str]) -> set[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return twice


def _file_stem(stem: str, row: FleetRow) -> str:
    from aml_doctor.evidence import redact

    if not redact.anonymizing():
        return stem
    from aml_doctor.evidence.redaction_anonymize import anonymize_text, learn_names

    learn_names("resource", [row.service, row.namespace])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", anonymize_text(stem)).strip("-")
