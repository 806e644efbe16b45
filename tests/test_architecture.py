"""The layering in pyproject.toml's import-linter contracts holds, and no module of the project
imports another's private names.

The installed package spans three folders (doctor/, rules/, reports/ map to one import name), which
an editable install serves through an import hook that import-linter's graph builder cannot walk;
so the check runs on a copy laid out as the wheel lays it out.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"aml_doctor": ROOT / "doctor", "aml_doctor/rules": ROOT / "rules", "aml_doctor/reports": ROOT / "reports"}


def _wheel_layout(tmp_path: Path) -> Path:
    for target, source in FOLDERS.items():
        shutil.copytree(source, tmp_path / target, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_import_linter_contracts_hold(tmp_path):
    tree = _wheel_layout(tmp_path)
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def _module_name(path: Path) -> str:
    for target, source in FOLDERS.items():
        if path.is_relative_to(source):
            parts = [*target.split("/"), *path.relative_to(source).with_suffix("").parts]
            return ".".join(p for p in parts if p != "__init__")
    raise AssertionError(path)


def test_no_module_imports_a_private_name_of_another():
    offences = []
    for source in FOLDERS.values():
        for path in sorted(source.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                    # Only the project's own modules: the stdlib's regex parser (re._parser) is read
                    # where a pattern's structure is needed, with its pre-3.11 name as the fallback.
                    if private and (node.module or "").startswith("aml_doctor"):
                        offences.append(f"{_module_name(path)} imports {', '.join(private)} from {node.module}")
    assert not offences, "\n".join(offences)
