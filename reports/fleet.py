"""The fleet summary: one row per service, as a text table, Markdown, JSON or an HTML index page.

``rows`` are :class:`FleetRow` objects. ``links`` maps (namespace, service) to the file name of that
service's own report, which the Markdown and HTML tables link to. Every cell is redacted, and its
control characters made visible, before any format sees it; with ``--anonymize`` the identifiers
in it are replaced as in every other output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aml_doctor import __version__

from aml_doctor.reports.sanitize import backstop_json, backstop_markup, visible_controls


@dataclass(frozen=True)
class FleetRow:
    """One line of the summary table."""

    service: str
    namespace: str
    state: str  # where the pods are: "Running, ready", "CrashLoopBackOff: 7 restart(s)", "unknown"
    # The report's own verdict words (findings.Verdict values), and "unknown" when the service's
    # evidence could not be read at all: FLEET_LABELS below.
    verdict: str
    root_cause: str  # the root cause (or top symptom) title, or why the service is unknown
    rule: str
    age: str
    report: Any = None  # the service's findings.Report, while it is still to be written


COLUMNS = ("service", "namespace", "state", "verdict", "root_cause", "age")
_HEADERS = {"service": "SERVICE", "namespace": "NAMESPACE", "state": "STATE", "verdict": "VERDICT",
            "root_cause": "ROOT CAUSE", "age": "AGE"}
_TEXT_WIDTH = {"state": 40, "root_cause": 90}  # longer cells are cut in the terminal table only
# Worst first: the table is read top down. The words are the reports' (view.FLEET_VERDICTS).
_ORDER = {"root_cause_found": 0, "possible_cause": 1, "symptoms_only": 2, "unrecognised": 3, "unknown": 4,
          "no_problem_found": 5}


def _cells(row: FleetRow, anonymize=None) -> dict[str, str]:
    from aml_doctor.evidence.redact import redact_text

    cells = {c: redact_text(visible_controls(str(getattr(row, c)))) for c in COLUMNS}
    if anonymize is not None:
        cells = {c: anonymize(v) for c, v in cells.items()}
    cells["verdict"] = FLEET_LABELS.get(row.verdict, cells["verdict"])
    if row.rule:
        cells["root_cause"] = f"{row.rule} {cells['root_cause']}"
    return cells


# What the tables print for each verdict; JSON carries the verdict itself, as the report's JSON does.
FLEET_LABELS = {"root_cause_found": "root cause found", "possible_cause": "possible cause", "symptoms_only": "symptoms only",
                "unrecognised": "unrecognised", "unknown": "unknown", "no_problem_found": "no problem found"}


def labelled_counts(rows: Sequence[FleetRow]) -> dict[str, int]:
    return {FLEET_LABELS.get(v, v): n for v, n in counts(rows).items()}


def ordered(rows: Sequence[FleetRow]) -> list[FleetRow]:
    return sorted(rows, key=lambda r: (_ORDER.get(r.verdict, len(_ORDER)), r.namespace, r.service))


def counts(rows: Sequence[FleetRow]) -> dict[str, int]:
    found = Counter(r.verdict for r in rows)
    return {v: found[v] for v in _ORDER if found[v]}


def anonymizer(rows: Sequence[FleetRow]):
    """With ``--anonymize``, the function that replaces the identifiers in a cell, once the names of
    every row's service and namespace (and those the cells show the shape of) are learnt; else None."""
    from aml_doctor.evidence import redact

    if not redact.anonymizing():
        return None
    from aml_doctor.evidence.redaction_anonymize import anonymize_text, learn_names, learn_text

    learn_names("resource", [r.service for r in rows] + [r.namespace for r in rows])
    for row in rows:
        for column in COLUMNS:
            learn_text(str(getattr(row, column)))
    return anonymize_text


def render_fleet(rows: Sequence[FleetRow], fmt: str, *, title: str, links: dict | None = None) -> str:
    links = links or {}
    rows = ordered(rows)
    anonymize = anonymizer(rows)
    if anonymize is not None:
        from aml_doctor.evidence.redact import redact_text

        title = anonymize(redact_text(title))
    if fmt == "text":
        return _text(rows, anonymize)
    if fmt == "md":
        return _markdown(rows, title, links, anonymize)
    if fmt == "json":
        data = {"tool_version": __version__, "counts": counts(rows),
                "services": [{**_cells(r, anonymize), "verdict": r.verdict, "rule": r.rule,
                              "report": links.get((r.namespace, r.service))} for r in rows]}
        return backstop_json(json.dumps(data, indent=2))
    if fmt == "html":
        return _html(rows, title, links, anonymize)
    raise ValueError(f"no fleet summary in the {fmt!r} format (choose from text, md, html, json)")


def _text(rows: list[FleetRow], anonymize=None) -> str:
    table = [_HEADERS] + [_cells(r, anonymize) for r in rows]
    for line in table[1:]:
        for column, width in _TEXT_WIDTH.items():
            if len(line[column]) > width:
                line[column] = line[column][: width - 1] + "…"
    widths = {c: max(len(line[c]) for line in table) for c in COLUMNS}
    out = ["  ".join(line[c].ljust(widths[c]) for c in COLUMNS).rstrip() for line in table]
    summary = ", ".join(f"{n} {verdict}" for verdict, n in labelled_counts(rows).items()) or "no services"
    return "\n".join(out + ["", f"{len(rows)} service(s): {summary}"]) + "\n"


def _markdown(rows: list[FleetRow], title: str, links: dict, anonymize=None) -> str:
    from aml_doctor.reports.mdtext import md_escape

    out = [f"# {md_escape(title)}", "", "| " + " | ".join(_HEADERS[c].title() for c in COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = {c: md_escape(v) for c, v in _cells(row, anonymize).items()}
        if (row.namespace, row.service) in links:
            cells["service"] = f"[{cells['service']}]({links[(row.namespace, row.service)]})"
        out.append("| " + " | ".join(cells[c] for c in COLUMNS) + " |")
    summary = ", ".join(f"{n} {verdict}" for verdict, n in labelled_counts(rows).items()) or "no services"
    return "\n".join(out + ["", f"{len(rows)} service(s): {md_escape(summary)}"]) + "\n"


def _html(rows: list[FleetRow], title: str, links: dict, anonymize=None) -> str:
    from aml_doctor.reports.charts import health_chart
    from aml_doctor.reports.templating import html_environment

    html = html_environment().get_template("fleet_index.html.j2").render(
        title=title,
        counts=labelled_counts(rows),
        chart=health_chart(counts(rows), FLEET_LABELS),
        rows=[{**_cells(r, anonymize), "verdict_key": r.verdict, "link": links.get((r.namespace, r.service))} for r in rows],
        tool_version=__version__,
    )
    return backstop_markup(html)
