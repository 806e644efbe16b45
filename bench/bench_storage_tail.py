"""How much of a 200 MiB image build log the storage collector downloads.

Starts Azurite (``npm ci`` at the repository root installs it), uploads a 200 MiB build log, runs
``collect_storage`` ``--repeat`` times and prints the bytes the responses carried against the log's
size, and its time (min/median/max) against one ranged download of the same tail. The byte count
comes from azure-core's response hook: a download's Content-Length, a listing's body.

    python bench/bench_storage_tail.py [--size-mib 200] [--tail-kib 256] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from azure.storage.blob import BlobServiceClient

from aml_doctor.collect.storage import collect_storage

# The emulators are test infrastructure in tests/emulators, not part of the package.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from emulators.azurite import AzuriteNotInstalled, azurite_server

IMAGE_ID = "d5db24e95bda7d8ce518fbfff093cbd3"
# Real ACR-task lines (Azure/MachineLearningNotebooks#745, MicrosoftLearning/DP100#3).
FILLER = (
    "2020/01/23 04:40:22 Executing step ID: acb_step_0. Timeout(sec): 5400, Working directory: '', "
    "Network: 'acb_default_network'\n"
    "Sending build context to Docker daemon  60.93kB\n"
).encode()
TAIL = (
    "CondaValueError: pip returned an error\n"
    "2020/01/23 12:52:11 Container failed during run\n"
).encode()


def build_log(size: int) -> bytes:
    body = FILLER * ((size - len(TAIL)) // len(FILLER))
    return body + b"\n" * (size - len(body) - len(TAIL)) + TAIL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--tail-kib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size, tail_bytes = args.size_mib * 2**20, args.tail_kib * 1024

    received: list[int] = []

    def count(response) -> None:
        http = response.http_response
        if http.request.method == "HEAD":  # no body; its Content-Length is the blob's size
            received.append(0)
        elif "Content-Length" in http.headers:  # a download, its body still a stream here
            received.append(int(http.headers["Content-Length"]))
        else:  # a listing, sent chunked
            received.append(len(http.body()))

    try:
        with azurite_server() as azurite:
            container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
                "azureml"
            )
            container.create_container()
            container.upload_blob(f"ImageLogs/{IMAGE_ID}/build.log", build_log(size), max_concurrency=2)
            blob = f"ImageLogs/{IMAGE_ID}/build.log"
            walls, plain = [], []
            for _ in range(args.repeat):
                received.clear()
                started = time.perf_counter()
                part = collect_storage(
                    blob_paths=[],
                    image_id_hint=f"azureml/azureml_{IMAGE_ID}",
                    service="bench-service",
                    connection_string=azurite.connection_string,
                    tail_bytes=tail_bytes,
                    client_options={"raw_response_hook": count},
                )
                walls.append(time.perf_counter() - started)
                # The baseline: one ranged download of the same tail, the least the information needs.
                started = time.perf_counter()
                container.download_blob(blob, offset=size - tail_bytes, length=tail_bytes).readall()
                plain.append(time.perf_counter() - started)
    except AzuriteNotInstalled as exc:
        print(exc, file=sys.stderr)
        return 2

    entry = part.files["storage/index.json"][f"azureml/ImageLogs/{IMAGE_ID}/build.log"]
    read = sum(received)
    print(f"build log size:        {entry['size']:>12,} bytes")
    print(f"tail asked for:        {tail_bytes:>12,} bytes")
    print(f"bytes in responses:    {read:>12,} bytes ({len(received)} responses, listings included)")
    print(f"skipped head:          {entry['truncated_head_bytes']:>12,} bytes")
    print(f"read / size:           {read / entry['size']:>12.4%}")
    print(f"collect_storage:       {min(walls):.3f}/{statistics.median(walls):.3f}/{max(walls):.3f} s (min/median/max of {args.repeat})")
    print(f"one ranged download:   {min(plain):.3f}/{statistics.median(plain):.3f}/{max(plain):.3f} s of the same tail (baseline)")
    print(f"ratio (medians):       {statistics.median(walls) / statistics.median(plain):>12.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
