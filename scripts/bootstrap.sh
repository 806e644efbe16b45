#!/usr/bin/env bash
# Install everything aml-doctor's tests need on a fresh machine: the package with its test,
# live-collection and AzureML extras, the example team plugin, Azurite (npm) and Chromium (apt).
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --upgrade --quiet pip
python -m pip install --quiet -e '.[test,live,azureml,v2]'
python -m pip install --quiet -e examples/acme-aml-rules

npm ci --no-audit --no-fund --loglevel=error

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "bootstrap: done"
