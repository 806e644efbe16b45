"""Time every report format on a large report: 150 findings, each with a 400-line log excerpt.

    python bench/bench_render.py

Prints seconds per format. Most of the time goes to redaction (``aml_doctor.evidence.redact``), which every
renderer runs over all text; the capped Markdown renders a few times (a binary search), not once
per finding.
"""

from __future__ import annotations

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
from aml_doctor.reports import FORMATS, render

LOG = "\n".join(
    f"2026-11-20T09:14:{i % 60:02d},5{i:05d}+00:00 - gunicorn/run Booting worker with pid: {i}" for i in range(400)
)


def finding(i: int) -> Finding:
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
        evidence=(EvidenceItem(f"logs/scorer-7c9d5b6f8d-p{i:03d}/scorer.log:1", LOG),),
        fix=Fix(summary="Fix init().", steps=("kubectl logs <pod> --previous",), verify=("kubectl get pod -w",)),
    )


def main() -> None:
    ranked = rank(finding(i) for i in range(150))
    report = Report(
        service="scorer", namespace="azureml-ws1", workspace="ws1", source="bench", collected_at="2026-11-20T09:14:02Z",
        collector="bench", tool_version="0.1.0", verdict=verdict(ranked), findings=ranked, rules_run=20,
    )
    for fmt in FORMATS:
        start = time.perf_counter()
        out = render(report, fmt)
        print(f"{fmt:10} {time.perf_counter() - start:6.2f} s  {len(out):>10,} chars")
    start = time.perf_counter()
    out = render(report, "md", max_chars=65_000)
    print(f"{'md 65k':10} {time.perf_counter() - start:6.2f} s  {len(out):>10,} chars")


if __name__ == "__main__":
    main()
