"""Every scenario bundle and every real-world case still diagnoses as recorded in tests/golden/.

A refactor or a speed-up must not change any answer; a deliberate change re-records the snapshot
(``python tests/golden/snapshot.py``) and says in its commit why the new answer is better.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import snapshot  # noqa: E402

GOLDEN = json.loads(snapshot.GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", snapshot.scenario_dirs(), ids=lambda p: p.name)
def test_scenario_diagnoses_as_recorded(path):
    assert snapshot.scenario(path) == GOLDEN["scenarios"][path.name]


@pytest.mark.parametrize("path", snapshot.case_files(), ids=lambda p: p.stem)
def test_real_world_case_diagnoses_as_recorded(path):
    assert snapshot.case(path) == GOLDEN["cases"][path.stem]


def test_the_snapshot_covers_every_scenario_and_case():
    assert sorted(GOLDEN["scenarios"]) == sorted(p.name for p in snapshot.scenario_dirs())
    assert sorted(GOLDEN["cases"]) == sorted(p.stem for p in snapshot.case_files())
