"""The wheel holds the whole tree: every package folder and every file in it, at its import path.

The package list in pyproject.toml is written by hand (three folders install under one import
name, which setuptools' find cannot express); this test is what keeps it from drifting. A new
subpackage, or a data file of a kind package-data does not name, fails here, not in a user's
``ModuleNotFoundError``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR = PYPROJECT["tool"]["setuptools"]["package-dir"]  # import name -> folder


def _tree() -> dict[str, Path]:
    """Wheel path -> file, for every file under the mapped folders (caches left out)."""
    out = {}
    roots = {name: ROOT / folder for name, folder in PACKAGE_DIR.items() if name.count(".") == 0 or name in
             ("aml_doctor.rules", "aml_doctor.reports")}
    for name, folder in roots.items():
        for path in folder.rglob("*"):
            rel = path.relative_to(folder)
            if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc" or any(p.startswith(".") for p in rel.parts):
                continue
            if name == "aml_doctor" and rel.parts[0] in ("rules", "reports"):
                continue  # not under doctor/, but keep the mapping honest if such folders appear
            out["/".join([*name.split("."), *rel.parts])] = path
    return out


def _packages() -> set[str]:
    """Import names of the folders that hold an __init__.py."""
    found = set()
    for wheel_path in _tree():
        if wheel_path.endswith("/__init__.py"):
            found.add(wheel_path[: -len("/__init__.py")].replace("/", "."))
    return found


def test_every_package_folder_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert _packages() <= listed, f"add to [tool.setuptools] packages: {sorted(_packages() - listed)}"
    assert listed <= _packages(), f"listed but not in the tree: {sorted(listed - _packages())}"


def test_the_wheel_holds_every_file_of_the_tree(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("aml_doctor-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    missing = sorted(set(_tree()) - names)
    assert not missing, f"in the tree but not in the wheel (package-data?): {missing[:20]}"
    assert "kubectl-aml_doctor = aml_doctor.cli.main:kubectl_plugin" in entry_points
    # Every runtime import declared: tomli before 3.11, the test kit's typing_extensions, markdown-it-py.
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("tomli") and "python_version < \"3.11\"" in r for r in requires), requires
    assert any(r.startswith("typing_extensions") or r.startswith("typing-extensions") for r in requires), requires
    assert any(r.startswith("markdown-it-py") and "extra" not in r for r in requires), requires
    assert any(r.startswith("rich") and 'extra == "live"' in r for r in requires), requires
