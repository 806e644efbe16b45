"""Accuracy on the real-world corpus, per failure family and per target, leave-one-thread-out.

    python bench/bench_corpus.py                 # both forms, with the known-issue index (LOTO)
    python bench/bench_corpus.py --rules-only    # the rules alone: no index, no base rates
    python bench/bench_corpus.py --misses        # also list each case not ranked first
    python bench/bench_corpus.py --cases DIR     # score only the cases in DIR (a held-out batch), the
                                                 # knowledge built from the corpus and DIR together, LOTO

The baseline printed beside it is the rules alone, measured in the same run: the difference is
what the corpus knowledge adds, each case scored without its own thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aml_doctor.knowledge import corpus
from aml_doctor.engine import measure
from aml_doctor.engine.plugins import load_plugins


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-only", action="store_true")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--form", choices=measure.FORMS, action="append")
    parser.add_argument("--cases", type=Path, metavar="DIR", help="score only these cases (a batch not yet in the corpus)")
    args = parser.parse_args(argv)
    cases = corpus.load_cases()
    only: set[str] = set()
    if args.cases:
        batch = corpus.load_cases(args.cases)
        known = {c.id for c in cases}
        clash = sorted(c.id for c in batch if c.id in known)
        if clash:
            print(f"bench_corpus: {args.cases} repeats corpus ids: {', '.join(clash)}", file=sys.stderr)
            return 2
        only = {c.id for c in batch}
        cases = cases + batch
    rules = load_plugins().rules
    forms = tuple(args.form or measure.FORMS)
    scored = [c for c in cases if c.scored and (not only or c.id in only)]
    print(f"corpus: {len(cases)} cases, {len(scored)} scored ({sum(c.control for c in cases)} controls), "
          f"{len({c.thread for c in cases})} threads; user reports: {sum(c.source_kind != 'docs' for c in cases)}")
    runs = [("rules alone", False)] + ([] if args.rules_only else [("rules + known issues + base rates, LOTO", True)])
    for title, use in runs:
        started = time.perf_counter()
        outcomes = measure.measure(cases, rules, forms, use_knowledge=use, only=only)
        elapsed = time.perf_counter() - started
        for form in forms:
            rows = [o for o in outcomes if o.form == form]
            print(f"\n== {title} · {form} form ({elapsed:.1f} s for all forms)")
            print("\n".join(measure.table(rows, "category")))
            print()
            print("\n".join(measure.table(rows, "target")))
            print()
            print("\n".join(measure.table(rows, "origin")))
            print(measure.runner_up_line(rows))
            print("\n".join(measure.controls(rows)))
            if args.misses:
                for o in rows:
                    if not o.case.control and not o.top1:
                        print(f"  miss {o.case.id}: want {o.case.category}, got {list(o.leading[:3])} ({o.verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
