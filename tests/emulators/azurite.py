"""Azurite's blob service on 127.0.0.1, for tests that need a real storage endpoint.

Azurite is the npm package ``azurite`` (a dev dependency in the repository's package.json), so
``npm ci`` at the repository root installs ``node_modules/.bin/azurite-blob``. An ``azurite-blob``
on PATH works too. Each server keeps its blobs in memory and is gone when the context exits.

In a conftest::

    from emulators.azurite import azurite_fixture
    azurite = azurite_fixture()          # session-scoped fixture named "azurite"
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# Azurite's well-known development account (published in Azure's docs; not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

INSTALL_HINT = "Azurite is not installed: run `npm ci` (or `npm install`) at the repository root"

_LISTENING = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")
_REPO_ROOT = Path(__file__).resolve().parents[2]


class AzuriteNotInstalled(RuntimeError):
    pass


@dataclass(frozen=True)
class AzuriteBlob:
    """A running Azurite blob service and the development account's credentials."""

    port: int
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY

    @property
    def account_url(self) -> str:
        # Azurite serves accounts path-style: http://host:port/<account>
        return f"http://127.0.0.1:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.account_url};"
        )


def find_azurite_blob() -> str | None:
    """The azurite-blob executable: the repository's node_modules first, then the working
    directory's (for a non-editable install run from the checkout), then PATH."""
    for root in (_REPO_ROOT, Path.cwd()):
        candidate = root / "node_modules" / ".bin" / "azurite-blob"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("azurite-blob")


@contextmanager
def azurite_server(start_timeout: float = 30.0) -> Iterator[AzuriteBlob]:
    """Start Azurite's blob service on a free loopback port; stop it on exit."""
    executable = find_azurite_blob()
    if executable is None:
        raise AzuriteNotInstalled(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        log_path = os.path.join(workdir, "azurite.out")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    executable,
                    "--blobHost", "127.0.0.1",
                    "--blobPort", "0",  # the OS picks a free port; Azurite prints which
                    "--inMemoryPersistence",
                    "--extentMemoryLimit", "2048",
                    "--skipApiVersionCheck",  # the Python SDK may speak a newer API version
                    "--disableTelemetry",  # Azurite would otherwise send telemetry off this machine
                    "--loose",
                    "--silent",
                ],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            port = _wait_until_listening(process, log_path, start_timeout)
            yield AzuriteBlob(port=port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(process: subprocess.Popen, log_path: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            output = fh.read()
        match = _LISTENING.search(output)
        if match and _accepts_connections(int(match.group(1))):
            return int(match.group(1))
        if process.poll() is not None:
            last = output.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"azurite-blob exited with code {process.returncode}: {last[0]}")
        time.sleep(0.05)
    raise RuntimeError(f"azurite-blob did not listen within {timeout:.0f} s")


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def azurite_fixture(scope: str = "session"):
    """A pytest fixture yielding an :class:`AzuriteBlob`; it skips the test, naming the install
    command, when Azurite is not installed."""
    import pytest  # only test code calls this; the module itself must import without pytest

    @pytest.fixture(scope=scope)
    def azurite() -> Iterator[AzuriteBlob]:
        if find_azurite_blob() is None:
            pytest.skip(INSTALL_HINT)
        with azurite_server() as server:
            yield server

    return azurite
