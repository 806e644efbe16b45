"""One line of pytest runs a directory of case files::

    # tests/test_cases.py
    from aml_doctor.testing import case_tests

    test_case = case_tests("tests/cases")     # test ids <RULE>-<case>: pytest -k ACME003
"""

from __future__ import annotations

import os

from aml_doctor.testing.cases import check_case, collect_cases


def case_tests(directory: str | os.PathLike):
    """A pytest test function parametrized over every case in ``directory``."""
    import pytest

    cases = collect_cases(directory)

    @pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])
    def test_case(case, tmp_path):
        check_case(case, str(tmp_path))

    return test_case
