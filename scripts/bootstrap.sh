#!/usr/bin/env bash
# The contributors' install: everything aml-doctor's tests need on a fresh machine. The package
# (editable) with its test, live-collection and AzureML extras, the example team plugin (for the
# tests only: a user's install never has it), Azurite (npm), Chromium, zsh and fish (apt).
# Users install with pip or pipx instead (README, "For users").
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --upgrade --quiet pip
python -m pip install --quiet -e '.[test,live,azureml,v2]'
python -m pip install --quiet -e examples/acme-aml-rules

npm ci --no-audit --no-fund --loglevel=error

# Chromium for the browser tests; zsh and fish so the completion tests load those scripts too.
missing=""
for tool in chromium zsh fish; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "bootstrap: done"
