"""Print the oldest and the newest Python interpreter (one path a line) that pyenv has and that the
project's requires-python admits: the two the wheel smoke suite runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent


def pyenv_root() -> Path:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    try:
        return Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return Path.home() / ".pyenv"


def main() -> int:
    spec = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    found = []
    for d in sorted((pyenv_root() / "versions").glob("*")):
        try:
            version = Version(d.name)
        except InvalidVersion:
            continue
        python = d / "bin" / "python"
        if python.exists() and version in spec:
            found.append((version, python))
    found.sort()
    chosen = [found[0], found[-1]] if len(found) > 1 else found
    for _, python in chosen:
        print(python)
    return 0 if found else 1


if __name__ == "__main__":
    raise SystemExit(main())
