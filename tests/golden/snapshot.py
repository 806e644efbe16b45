"""What every scenario bundle and every real-world corpus case diagnoses to, as a compact summary.

``python tests/golden/snapshot.py`` rewrites ``reports.json`` from the current code; the test
``tests/test_golden_reports.py`` fails when the code diagnoses anything differently. A change of
result is then deliberate: re-run this, and say in the commit why the new answer is better.
Only built-in rules count (a team plugin installed beside them must not change the snapshot).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("reports.json")
FORMATS = ("text", "md", "html", "sarif", "junit")


def _run(argv: list[str]) -> tuple[int, str]:
    from aml_doctor.cli.main import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main([*argv, "--output-file", str(out)])
        return code, out.read_text(encoding="utf-8") if out.exists() else ""


def _summary(code: int, text: str) -> dict:
    report = json.loads(text)
    builtin = [f for f in report["findings"] if f["rule"].startswith("AML")]
    return {
        "exit": code,
        "verdict": report["verdict"],
        "platform": report["platform"],
        "findings": [
            [f["rule"], f["category"], f["severity"], f["stage"]["id"], f["title"]] for f in builtin
        ],
        "not_checked": sorted(n["rule"] for n in report["not_checked"] if n["rule"].startswith("AML")),
        "unexplained": len(report["unexplained"]),
        "possible_causes": [c["category"] for c in report["possible_causes"]],
    }


def scenario_dirs() -> list[Path]:
    found = [p for p in sorted((ROOT / "tests" / "scenarios").iterdir()) if (p / "manifest.json").exists()]
    return found + sorted((ROOT / "examples" / "bundles").glob("*.tar.gz"))


def case_files() -> list[Path]:
    return sorted((ROOT / "doctor" / "knowledge" / "cases").glob("*.yml"))


def scenario(path: Path, formats: bool = True) -> dict:
    code, text = _run(["analyze", str(path), "-f", "json"])
    summary = _summary(code, text)
    if formats:
        summary["format_exits"] = {fmt: _run(["analyze", str(path), "-f", fmt])[0] for fmt in FORMATS}
    return summary


def case(path: Path) -> dict:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        pasted = Path(tmp) / f"{path.stem}.txt"
        pasted.write_text(data["evidence"], encoding="utf-8")
        code, text = _run(["analyze", "--text", str(pasted), "-f", "json"])
    return _summary(code, text)


def snapshot() -> dict:
    return {
        "scenarios": {p.name: scenario(p) for p in scenario_dirs()},
        "cases": {p.stem: case(p) for p in case_files()},
    }


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    GOLDEN.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
