#!/usr/bin/env bash
# CI's second half: aml-doctor as users install it, not as contributors do (editable).
#
#   1. Build the sdist and the wheel.
#   2. Install the wheel with the [live] extra into a clean venv on the oldest and on the newest
#      Python that requires-python admits (of those pyenv has), and run tests/test_wheel_smoke.py
#      against that installed copy: analyze, a live diagnosis, collect, --watch and --all, against
#      the API-server emulator and Azurite running in the test process.
#   3. On the newest Python: the wheel without extras (analyze works; live says which extra),
#      the README's user install run as written inside the unpacked sdist, and the Dockerfile's
#      pip steps (tests/test_wheel_smoke_install.py). Docker itself does not run here.
#
# The example team plugin is never installed into these venvs: a user install must not list ACME001.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/aml-doctor-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

# pip's own chatter goes to a log, shown only when the install fails.
# First the venv's pip itself, as the README tells users: Python 3.10's bundled pip (23.0.1) cannot
# evaluate the metadata's `extra == "v2"` marker ("v2" reads as a version) and crashes.
pip_install() {
    { "$1/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
        && "$1/bin/python" -m pip install --quiet --disable-pip-version-check "$2"; } >"$work/pip.log" 2>&1 \
        || { grep -v "^WARNING: Location" "$work/pip.log" | tail -30; exit 1; }
}

python -m build --no-isolation --sdist --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/aml_doctor-*.whl)
sdist=$(ls "$work"/dist/aml[-_]doctor-*.tar.gz)
echo "wheel-smoke: built $(basename "$wheel") and $(basename "$sdist")"

# The oldest and the newest interpreter pyenv has that requires-python admits.
mapfile -t pythons < <(python scripts/smoke_pythons.py)
[ "${#pythons[@]}" -ge 1 ] || { echo "wheel-smoke: no Python found that requires-python admits" >&2; exit 1; }

for py in "${pythons[@]}"; do
    version=$("$py" -c 'import platform; print(platform.python_version())')
    venv="$work/venv-$version"
    "$py" -m venv "$venv"
    pip_install "$venv" "$wheel[live]"
    echo "wheel-smoke: Python $version: installed the wheel with [live]; running the smoke suite"
    AML_DOCTOR_UNDER_TEST="$venv" python -m pytest -q -p no:cacheprovider tests/test_wheel_smoke.py
done

newest="${pythons[-1]}"
core="$work/venv-core"
"$newest" -m venv "$core"
pip_install "$core" "$wheel"
echo "wheel-smoke: the wheel without extras, the README's user install and the Dockerfile's pip steps"
AML_DOCTOR_CORE_VENV="$core" AML_DOCTOR_SDIST="$sdist" AML_DOCTOR_SMOKE_PYTHON="$newest" \
    python -m pytest -q -p no:cacheprovider tests/test_wheel_smoke_install.py
echo "wheel-smoke: done"
