"""The shipped knowledge, compiled: what matching needs from every case, in one JSON file.

Reading 180 YAML files costs a quarter of a second at every run that consults the corpus; one JSON
file of term counts costs a few milliseconds. ``python -m aml_doctor.knowledge.compiled`` rewrites
``compiled.json`` from ``cases/``, and a test fails when the two disagree.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from aml_doctor.knowledge.corpus import Case, load_cases
from aml_doctor.knowledge.index import Index, case_terms
from aml_doctor.knowledge.priors import Priors, case_symptoms

COMPILED = Path(__file__).with_name("compiled.json")
FORMAT = 1


def compile_cases(cases: Sequence[Case]) -> dict:
    entries = []
    for c in sorted(cases, key=lambda c: c.id):
        if not c.confirmed or c.control:
            continue
        entries.append({
            "id": c.id, "source": c.source, "source_kind": c.source_kind, "target": c.target, "channel": c.channel,
            "category": c.category, "established_by": c.established_by, "cause": c.cause, "fix": c.fix, "date": c.date,
            "terms": dict(sorted(case_terms(c).items())),
            "symptoms": sorted(case_symptoms(c)),
        })
    return {"format": FORMAT, "cases": entries}


def _case(entry: dict) -> Case:
    return Case(
        id=entry["id"], source=entry["source"], source_kind=entry["source_kind"], target=entry["target"],
        channel=entry["channel"], category=entry["category"], control=False, confirmed=True,
        established_by=entry["established_by"], cause=entry["cause"], fix=entry["fix"], evidence="", date=entry["date"],
    )


def load(path: Path = COMPILED) -> tuple[Index, Priors]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path.name}: format {data.get('format')!r}, expected {FORMAT}")
    cases = [_case(e) for e in data["cases"]]
    index = Index.from_terms(cases, [Counter(e["terms"]) for e in data["cases"]])
    priors = Priors.from_symptoms([(c.category, c.target, e["symptoms"]) for c, e in zip(cases, data["cases"])])
    return index, priors


def render(cases: Sequence[Case]) -> str:
    return json.dumps(compile_cases(cases), indent=0, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    COMPILED.write_text(render(load_cases()), encoding="utf-8")
    print(f"wrote {COMPILED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
