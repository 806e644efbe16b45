"""Time every report format on a large report: 150 findings, each with a 400-line log excerpt.

    python bench/bench_render.py [--repeat 7]

Prints seconds per format, then JSON rendering against ``json.dumps`` of the same report's data
(``report_document``, not redacted) measured in the same run: min/median/max of each and the
ratio of the medians, for the report as above (every finding cites the same log excerpt, as
findings about one crash do) and for one whose 150 excerpts all differ. Each render starts from
a fresh redaction state (``redact.reset``), as a run does; times are CPU time
(``time.process_time``), steadier than wall time on a shared machine. Target (issue 12): at most 3 times
``json.dumps``. Most of the time goes to redaction (``aml_doctor.evidence.redact``), which every
renderer runs over all text; the capped Markdown renders a few times (a binary search), not once
per finding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from aml_doctor.findings import (
    Category,
    EvidenceItem,
    Finding,
    Fix,
    Report,
    Severity,
    Stage,
)
from aml_doctor.engine.ranking import rank, verdict
from aml_doctor.evidence import redact
from aml_doctor.reports import FORMATS, render
from aml_doctor.reports.json_report import report_document
from spread import ms

LOG = "\n".join(
    f"2026-11-20T09:14:{i % 60:02d},5{i:05d}+00:00 - gunicorn/run Booting worker with pid: {i}" for i in range(400)
)


def finding(i: int, distinct: bool = False) -> Finding:
    return Finding(
        rule=f"AML{i % 20:03d}",
        name="pod-not-ready",
        category=Category.CRASH_LOOP_OTHER,
        severity=Severity.MEDIUM,
        stage=Stage.CONTAINER if i else Stage.INIT,
        confidence=0.8,
        title=f"Scoring pod {i} never became ready",
        explanation="Worker failed to boot.",
        subject=f"scorer-7c9d5b6f8d-p{i:03d}",
        evidence=(EvidenceItem(f"logs/scorer-7c9d5b6f8d-p{i:03d}/scorer.log:1", LOG.replace("pid: ", f"pid: {i}") if distinct else LOG),),
        fix=Fix(summary="Fix init().", steps=("kubectl logs <pod> --previous",), verify=("kubectl get pod -w",)),
    )


def _report(distinct: bool) -> Report:
    ranked = rank(finding(i, distinct) for i in range(150))
    return Report(
        service="scorer", namespace="azureml-ws1", workspace="ws1", source="bench", collected_at="2026-11-20T09:14:02Z",
        collector="bench", tool_version="0.1.0", verdict=verdict(ranked), findings=ranked, rules_run=20,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    report = _report(distinct=False)
    for fmt in FORMATS:
        redact.reset()
        start = time.perf_counter()
        out = render(report, fmt)
        print(f"{fmt:10} {time.perf_counter() - start:6.2f} s  {len(out):>10,} chars")
    redact.reset()
    start = time.perf_counter()
    out = render(report, "md", max_chars=65_000)
    print(f"{'md 65k':10} {time.perf_counter() - start:6.2f} s  {len(out):>10,} chars")

    for label, distinct in (("same excerpt in every finding", False), ("150 different excerpts", True)):
        report = _report(distinct)
        data = report_document(report)
        dumps, rendered = [], []
        for _ in range(args.repeat):  # interleaved, so that load on the machine hits both alike
            start = time.process_time()
            json.dumps(data, indent=2, ensure_ascii=False)
            dumps.append(time.process_time() - start)
            redact.reset()
            start = time.process_time()
            render(report, "json")
            rendered.append(time.process_time() - start)
        print(f"json, {label}, {args.repeat} runs")
        print(f"  json.dumps      {ms(dumps)}")
        print(f"  render json     {ms(rendered)}")
        print(f"  ratio (medians) {statistics.median(rendered) / statistics.median(dumps):.1f}x json.dumps   (target: <= 3x)")


if __name__ == "__main__":
    main()
