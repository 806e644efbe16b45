"""The corpus: every catching case of every rule, as one table of root-cause categories.

Each row: how many cases expect that category, how many the rule caught with it, and how many
ranked it first in the whole report. Run with ``-s`` to see the table; it is also asserted: every
category is caught and ranked first at least once, and no expected catch is missed.
"""

from collections import defaultdict
from pathlib import Path

from aml_doctor.findings import Category
from aml_doctor.testing import analyze_case, collect_cases

CASES = [c for c in collect_cases(Path(__file__).parent / "cases") if c.expect.get("fires") is True and "category" in c.expect]


def test_every_category_is_caught_and_ranked_first(tmp_path, capsys):
    expected = defaultdict(int)
    caught = defaultdict(int)
    first = defaultdict(int)
    missed = []
    for case in CASES:
        category = case.expect["category"]
        expected[category] += 1
        report = analyze_case(case, str(tmp_path))
        mine = [r.finding for r in report.findings if r.finding.rule == case.rule]
        if mine and mine[0].category.value == category:
            caught[category] += 1
            if report.findings[0].finding.rule == case.rule and report.findings[0].finding.category.value == category:
                first[category] += 1
        else:
            missed.append(case.id)
    lines = [f"{'category':<38} {'cases':>5} {'caught':>6} {'first':>6}"]
    for category in Category:
        c = category.value
        lines.append(f"{c:<38} {expected[c]:>5} {caught[c]:>6} {first[c]:>6}")
    lines.append(f"{'total':<38} {sum(expected.values()):>5} {sum(caught.values()):>6} {sum(first.values()):>6}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert missed == []
    assert [c.value for c in Category if not first[c.value]] == []
