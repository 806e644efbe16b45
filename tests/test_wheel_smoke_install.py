"""The installs users make: the wheel without extras, the README's user install as written, and
the Dockerfile's pip steps.

scripts/wheel_smoke.sh runs this file with AML_DOCTOR_CORE_VENV (a venv with the bare wheel),
AML_DOCTOR_SDIST (the built sdist) and AML_DOCTOR_SMOKE_PYTHON (the newest admitted Python).
Without them (the ordinary test run) it is skipped. Docker does not run on this machine, so the
Dockerfile is checked as far as its build steps go: each RUN line that calls pip is run, with the
image's paths mapped into a temporary directory, in a venv of the same Python minor version where
pyenv has one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

CORE = os.environ.get("AML_DOCTOR_CORE_VENV")
SDIST = os.environ.get("AML_DOCTOR_SDIST")
PYTHON = os.environ.get("AML_DOCTOR_SMOKE_PYTHON")
if not (CORE and SDIST and PYTHON):
    pytest.skip("run by scripts/wheel_smoke.sh (AML_DOCTOR_CORE_VENV, AML_DOCTOR_SDIST, AML_DOCTOR_SMOKE_PYTHON)",
                allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BUNDLE = ROOT / "examples" / "bundles" / "loan-default-v2.tar.gz"


def _env(tmp_path: Path, path: str) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{path}:/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8"}


def test_bare_wheel_analyzes_and_names_the_live_extra(tmp_path):
    env = _env(tmp_path, f"{CORE}/bin")
    analysed = subprocess.run(["aml-doctor", "analyze", str(BUNDLE), "-o", "json"], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=120)
    assert analysed.returncode == 1 and json.loads(analysed.stdout)["findings"][0]["rule"] == "AML002", analysed.stderr
    live = subprocess.run(["aml-doctor", "myservice"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert live.returncode == 2 and live.stdout == ""
    assert "pip install 'aml-doctor[live]'" in live.stderr and live.stderr.count("\n") == 1


def _user_install_block() -> list[str]:
    """The README's venv install for users: the indented block after "From a checkout"."""
    section = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    block = section.split("From a checkout", 1)[1]
    first = re.search(r"((?:^    \S.*\n)+)", block, re.M)  # the first indented block after it
    lines = re.findall(r"^    (\S.*)$", first.group(1), re.M) if first else []
    assert lines, "README: no indented command block after 'From a checkout'"
    return [line.split("  #", 1)[0].strip() for line in lines]


def test_readme_user_install_works_as_written(tmp_path):
    src = tmp_path / "src"
    with tarfile.open(SDIST) as tf:
        tf.extractall(src, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(src)  # noqa: S202
    (top,) = list(src.iterdir())
    env = _env(tmp_path, str(Path(PYTHON).parent))
    commands = _user_install_block()
    assert any("pip install './[live]'" in c for c in commands)
    for command in commands:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=top, env=env, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    venv_bin = Path(env["HOME"]) / ".venvs" / "aml-doctor" / "bin"
    rules = subprocess.run([str(venv_bin / "aml-doctor"), "rules", "-o", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert "ACME001" not in rules.stdout and json.loads(rules.stdout)
    assert (venv_bin / "kubectl-aml_doctor").is_file()


def _dockerfile_pip_steps() -> tuple[str, list[tuple[str, str]]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    base = re.findall(r"^FROM python:(\d+\.\d+)", text, re.M)
    steps, workdir = [], "/"
    for line in text.splitlines():
        if line.startswith("WORKDIR "):
            workdir = line.split(None, 1)[1].strip()
        if line.startswith("RUN ") and re.search(r"\bpip\b", line):
            steps.append((workdir, line[4:].strip()))
    assert base and len(set(base)) == 1, "every stage uses the same python image"
    return base[0], steps


def test_dockerfile_pip_steps_install_a_working_tool(tmp_path):
    minor, steps = _dockerfile_pip_steps()
    assert steps, "the Dockerfile installs aml-doctor with pip"
    pythons = sorted(Path(PYTHON).parents[2].glob(f"{minor}.*/bin/python"))
    python = str(pythons[-1]) if pythons else PYTHON  # the image's minor version when pyenv has it
    venv = tmp_path / "image"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    src = tmp_path / "src"
    with tarfile.open(SDIST) as tf:
        tf.extractall(src, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(src)  # noqa: S202
    (top,) = list(src.iterdir())
    mapping = {"/src": str(top), "/dist": str(tmp_path / "dist")}
    env = _env(tmp_path, f"{venv}/bin")
    for workdir, command in steps:
        for image_path, local in mapping.items():
            command = re.sub(rf"(?<![\w/]){re.escape(image_path)}(?=[/\s\"')]|$)", local, command)
        cwd = mapping.get(workdir, str(tmp_path))
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    version = subprocess.run([str(venv / "bin" / "aml-doctor"), "version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0 and "kubernetes " in version.stdout and "not installed" not in version.stdout.split("kubernetes", 1)[1].splitlines()[0]
    entry = re.findall(r'^ENTRYPOINT (\[.*\])$', (ROOT / "Dockerfile").read_text(), re.M)
    assert entry and json.loads(entry[0])[0] == "aml-doctor"  # the CronJob's command runs aml-doctor itself
