"""ACME's rule cases, run with aml-doctor's own test kit."""

from pathlib import Path

import pytest

from aml_doctor.testing import check_case, collect_cases

CASES = collect_cases(Path(__file__).parent / "cases")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case, tmp_path):
    check_case(case, str(tmp_path))
