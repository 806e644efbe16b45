"""A test kit for rule authors, and only that: cases as data, builders of realistic Kubernetes
evidence, and a runner. The built-in rules are tested with it. The emulators aml-doctor's own tests
use (API server, Azurite, MMS) live in the repository's ``tests/emulators/`` and are not shipped.

    # tests/test_my_rules.py of a team plugin
    from aml_doctor.testing import case_tests

    test_case = case_tests("tests/cases")
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
from aml_doctor.testing.runner import case_tests  # noqa: F401
