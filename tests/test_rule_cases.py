"""The generic runner for tests/cases/*.yml: ``pytest -k AML004`` runs one rule's cases."""

from pathlib import Path

import pytest

from aml_doctor.testing import check_case, collect_cases

CASES = collect_cases(Path(__file__).parent / "cases")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case, tmp_path):
    check_case(case, str(tmp_path))
