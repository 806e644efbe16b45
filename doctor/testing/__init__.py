"""A test kit for rule authors: run a rule against a scenario bundle or a YAML case, and build
realistic Kubernetes evidence in a few lines. The built-in rules are tested with it.

    # tests/test_my_rules.py of a team plugin
    import pytest
    from aml_doctor.testing import collect_cases, check_case

    CASES = collect_cases("tests/cases")

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_rule(case, tmp_path):
        check_case(case, str(tmp_path))
"""

from aml_doctor.testing.builders import (  # noqa: F401
    BundleBuilder,
    crashloop_pod,
    event,
    failed_mount_event,
    image_for,
    init_container_config,
    pod,
    pod_name,
)
from aml_doctor.testing.cases import Case, CaseError, analyze_case, check_case, collect_cases, load_case_file  # noqa: F401
