"""The three folders install under one import name: the wheel's only top-level package is aml_doctor."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_only_aml_doctor_at_top_level(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("aml_doctor-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top_level = zf.read(next(n for n in names if n.endswith(".dist-info/top_level.txt"))).decode().split()
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert top_level == ["aml_doctor"]
    roots = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert roots == {"aml_doctor"}
    for expected in (
        "aml_doctor/cli/main.py",
        "aml_doctor/rules/aml004_pod_not_ready.py",
        "aml_doctor/rules/aml004_pod_not_ready.md",
        "aml_doctor/reports/__init__.py",
        "aml_doctor/testing/cases.py",
    ):
        assert expected in names
    assert any(n.startswith("aml_doctor/reports/templates/") for n in names)
    assert "[aml_doctor]" in entry_points and "aml_doctor.rules" in entry_points
    assert "aml-doctor = aml_doctor.cli.main:main" in entry_points
