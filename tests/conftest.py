import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SCENARIOS = TESTS / "scenarios"


@pytest.fixture
def scenarios() -> Path:
    return SCENARIOS


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr


@pytest.fixture
def cli(tmp_path):
    """Run the real ``aml-doctor`` command in a subprocess, in an empty working directory."""

    def run(*args: str, stdin: bytes | None = None, env: dict | None = None) -> CliResult:
        full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        full_env.pop("AML_DOCTOR_DEBUG", None)
        proc = subprocess.run(
            [sys.executable, "-m", "aml_doctor", *args],
            input=stdin,
            capture_output=True,
            cwd=tmp_path,
            env=full_env,
            timeout=300,
        )
        return CliResult(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")))

    return run


from emulators.azurite import azurite_fixture  # noqa: E402

# One Azurite blob service for the whole session, on 127.0.0.1 (skips with the install hint if absent).
azurite = azurite_fixture()
