"""The blob storage collector against a real Azurite blob service and the real azure-storage-blob
client. Nothing is mocked: the only stand-ins are loopback endpoints that refuse connections or
accept and never answer, which is what an unreachable or hung account looks like on the wire."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("azure.storage.blob", reason="pip install 'aml-doctor[test]' installs azure-storage-blob")

from azure.storage.blob import (  # noqa: E402
    AccountSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_container_sas,
)

from aml_doctor.collect.storage import (  # noqa: E402
    WriteAttempted,
    collect_storage,
    describe_storage_error,
    image_id_from_hint,
    open_service_client,
)
from emulators.azurite import azurite_fixture  # noqa: E402

azurite = azurite_fixture()

SERVICE = "chd-predictor-service"
IMAGE_HEX = "d5db24e95bda7d8ce518fbfff093cbd3"
IMAGE_NAME = f"qtmnpemlwu2w7c382976.azurecr.io/azureml/azureml_{IMAGE_HEX}:latest"
MODEL_PATH = "ExperimentRun/dcid.AutoML_3e6bd9f0-1a8a-4c4e-9c6b-5f1d2a7c8e90/outputs/model.pkl"
SCORE_PATH = "LocalUpload/200123T044012-5c1b7e09/tmp5c1b7e09.py"
SCORE_PY = b"import json\n\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n    return json.loads(raw_data)\n"
CODE_TAR_PATH = "LocalUpload/200123T044012-5c1b7e09/5c1b7e09.tar.gz"  # never uploaded: the missing blob

# An ACR-task build log (v1 Model.deploy): the head of Azure/MachineLearningNotebooks#745 and the
# failing tail of MicrosoftLearning/DP100#3, the same dotnetcore2 failure on the same day, as
# saved in shared/real-world. The lines are the real ones, not edited.
ACR_LOG_HEAD = """\
2020/01/23 04:40:19 Downloading source code...
2020/01/23 04:40:20 Finished downloading source code
2020/01/23 04:40:20 Creating Docker network: acb_default_network, driver: 'bridge'
2020/01/23 04:40:21 Successfully set up Docker network: acb_default_network
2020/01/23 04:40:21 Setting up Docker configuration...
2020/01/23 04:40:21 Successfully set up Docker configuration
2020/01/23 04:40:21 Logging in to registry: qtmnpemlwu2w7c382976.azurecr.io
2020/01/23 04:40:22 Successfully logged into qtmnpemlwu2w7c382976.azurecr.io
2020/01/23 04:40:22 Executing step ID: acb_step_0. Timeout(sec): 5400, Working directory: '', Network: 'acb_default_network'
2020/01/23 04:40:22 Scanning for dependencies...
2020/01/23 04:40:23 Successfully scanned dependencies
2020/01/23 04:40:23 Launching container with name: acb_step_0
Sending build context to Docker daemon  60.93kB

Step 1/15 : FROM mcr.microsoft.com/azureml/base:intelmpi2018.3-ubuntu16.04@sha256:a1b514f3ba884b9a7695cbba5638933ddaf222e8ce3e8c81e8cdf861679abb05
sha256:a1b514f3ba884b9a7695cbba5638933ddaf222e8ce3e8c81e8cdf861679abb05: Pulling from azureml/base
Digest: sha256:a1b514f3ba884b9a7695cbba5638933ddaf222e8ce3e8c81e8cdf861679abb05
"""
ACR_LOG_TAIL = """\
WARNING: pip is being invoked by an old script wrapper. This will fail in a future version of pip.
Please see https://github.com/pypa/pip/issues/5599 for advice on fixing the underlying issue.
To avoid this problem you can invoke Python with '-m pip' instead of running pip directly.
ERROR: Could not find a version that satisfies the requirement dotnetcore2>=2.1.9 (from azureml-dataprep[fuse,pandas]<1.2.0a,>=1.1.35a->azureml-train-automl==1.0.83.*->-r /azureml-environment-setup/condaenv.2ab_3h75.requirements.txt (line 1)) (from versions: none)
ERROR: No matching distribution found for dotnetcore2>=2.1.9 (from azureml-dataprep[fuse,pandas]<1.2.0a,>=1.1.35a->azureml-train-automl==1.0.83.*->-r /azureml-environment-setup/condaenv.2ab_3h75.requirements.txt (line 1))


CondaValueError: pip returned an error

The command '/bin/sh -c ldconfig /usr/local/cuda/lib64/stubs && conda env create -p /azureml-envs/azureml_d5db24e95bda7d8ce518fbfff093cbd3 -f azureml-environment-setup/mutated_conda_dependencies.yml && rm -rf "$HOME/.cache/pip" && conda clean -aqy && CONDA_ROOT_DIR=$(conda info --root) && rm -rf "$CONDA_ROOT_DIR/pkgs" && find "$CONDA_ROOT_DIR" -type d -name __pycache__ -exec rm -rf {} + && ldconfig' returned a non-zero code: 1
2020/01/23 12:52:11 Container failed during run
"""
ACR_LOG = ACR_LOG_HEAD + ACR_LOG_TAIL

# The serverless image build log of github.com/Kyrsang/automl-conda-yml-debug (shared/real-world),
# its head and its tail (the middle, the conda solver's conflict tree, left out). Its image name
# appears only in the text, not in its ImageLogs folder name.
V2_IMAGE_HEX = "c248495abd8eaaa562bfe1fd02341bdd"
V2_LOG = """\
======Starting Image Build on Serverless Compute======
The run ID for the image build on serverless compute is imgbldrun_7cd3461
2024-10-15T00:33:45: Logging into Docker registry: eunsangacr.azurecr.io
2024-10-15T00:33:45: Login Succeeded
2024-10-15T00:33:45: Running: ['docker', 'build', '-f', 'azureml-environment-setup/Dockerfile', '.', '-t', 'eunsangacr.azurecr.io/azureml/azureml_c248495abd8eaaa562bfe1fd02341bdd', '-t', 'eunsangacr.azurecr.io/azureml/azureml_c248495abd8eaaa562bfe1fd02341bdd:1']
2024-10-15T00:37:41: CalledProcessError(1, ['docker', 'build', '-f', 'azureml-environment-setup/Dockerfile', '.', '-t', 'eunsangacr.azurecr.io/azureml/azureml_c248495abd8eaaa562bfe1fd02341bdd', '-t', 'eunsangacr.azurecr.io/azureml/azureml_c248495abd8eaaa562bfe1fd02341bdd:1'])

2024-10-15T00:37:41: Building docker image failed with exit code: 1

2024-10-15T00:37:41: Logging out of Docker registry: eunsangacr.azurecr.io
2024-10-15T00:37:41: Removing login credentials for https://index.docker.io/v1/
"""
# The error text AzureML gives for a failed image build, with its build-log path (AML-Kubernetes#212).
V2_ERROR_TEXT = (
    'The build log is available in the workspace blob store "kitar0smart0mlstor9shr" under the path '
    '"/azureml/ImageLogs/00000000-0000-0000-000000000000/build.log"'
)

BIG_LOG_SIZE = 200 * 1024 * 1024
TAIL = 256 * 1024


# ------------------------------------------------------------------ helpers
class Traffic:
    """Every request the collector's client sends and every response's declared body size, taken
    from azure-core's raw request/response hooks."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.responses: list[tuple[str, str, int]] = []  # method, path, Content-Length

    def options(self) -> dict:
        return {"raw_request_hook": self._on_request, "raw_response_hook": self._on_response}

    def _on_request(self, request) -> None:
        self.methods.append(request.http_request.method)

    def _on_response(self, response) -> None:
        request = response.http_request
        self.responses.append((request.method, request.url.split("?")[0], body_size(response)))

    def bytes_from(self, blob_name: str) -> int:
        return sum(n for method, url, n in self.responses if method == "GET" and url.endswith(blob_name))


def body_size(response) -> int:
    """Bytes in a response's body: none for HEAD (whose Content-Length is the blob's size), the
    declared length of a download (its body is still a stream here), the read body of a listing
    (sent chunked, with no Content-Length)."""
    http = response.http_response
    if http.request.method == "HEAD":
        return 0
    if "Content-Length" in http.headers:
        return int(http.headers["Content-Length"])
    return len(http.body())


def new_container(azurite) -> tuple[str, object]:
    """A container of its own for each test, so tests cannot see each other's blobs."""
    name = f"azureml-{uuid.uuid4().hex[:12]}"
    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(name)
    client.create_container()
    return name, client


def upload_scenario(client) -> None:
    client.upload_blob(MODEL_PATH, b"\x80\x04\x95" + b"\x00" * 4093)  # the head of a pickle, 4 KiB
    client.upload_blob(SCORE_PATH, SCORE_PY)
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", ACR_LOG.encode())


def collect(azurite, container, **kwargs):
    args = dict(
        blob_paths=[MODEL_PATH, SCORE_PATH, CODE_TAR_PATH],
        image_id_hint=IMAGE_NAME,
        service=SERVICE,
        connection_string=azurite.connection_string,
        container=container,
        request_timeout=5,
    )
    args.update(kwargs)
    return collect_storage(**args)


def text_of(part) -> str:
    """Everything a part could put in a bundle, as one string to search for secrets."""
    return repr(part.files) + repr([(g.what, g.error) for g in part.gaps])


def snapshot(client) -> list[tuple[str, str, int]]:
    return sorted((b.name, b.etag, b.size) for b in client.list_blobs())


def big_log_bytes() -> bytes:
    """200 MiB: the real head, then the real ACR header lines repeated (a long build's worth of
    output), then the real failing tail."""
    head, tail = ACR_LOG_HEAD.encode(), ACR_LOG_TAIL.encode()
    filler = ACR_LOG_HEAD.encode()
    repeats = (BIG_LOG_SIZE - len(head) - len(tail)) // len(filler)
    body = head + filler * repeats
    body += b"\n" * (BIG_LOG_SIZE - len(body) - len(tail))
    return body + tail


# ------------------------------------------------------------------ blob index
def test_index_records_existing_and_missing_blobs(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)

    part = collect(azurite, container)

    index = part.files["storage/index.json"]
    model = index[f"{container}/{MODEL_PATH}"]
    assert model["exists"] is True and model["kind"] == "blob" and model["size"] == 4096
    assert model["last_modified"].endswith("Z")
    assert index[f"{container}/{SCORE_PATH}"]["size"] == len(SCORE_PY)
    assert index[f"{container}/{CODE_TAR_PATH}"] == {"exists": False}
    assert "storage_index" in part.collected
    assert part.gaps == []


def test_model_registered_as_a_directory_is_a_prefix_with_the_sum_of_its_sizes(azurite):
    container, client = new_container(azurite)
    folder = "ExperimentRun/dcid.HD_8b1c/outputs/sklearn_mnist_model"
    client.upload_blob(f"{folder}/model.pkl", b"p" * 1000)
    client.upload_blob(f"{folder}/vocab/words.txt", b"w" * 234)
    client.upload_blob(folder + "_other/model.pkl", b"o" * 50)  # a sibling that only shares the prefix

    part = collect(azurite, container, blob_paths=[folder, folder + "/"], image_id_hint=None)

    for key in (f"{container}/{folder}", f"{container}/{folder}/"):
        entry = part.files["storage/index.json"][key]
        assert entry["exists"] is True
        assert entry["kind"] == "prefix"
        assert entry["size"] == 1234 and entry["blobs"] == 2


# ------------------------------------------------------------------ build log
def test_build_log_found_from_the_image_name(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)
    said: list[str] = []

    part = collect(azurite, container, progress=said.append)

    name = f"{container}/ImageLogs/{IMAGE_HEX}/build.log"
    assert part.files[f"storage/{name}"] == ACR_LOG
    entry = part.files["storage/index.json"][name]
    assert entry["size"] == len(ACR_LOG.encode()) and entry["truncated_head_bytes"] == 0
    assert "build_log" in part.collected
    assert any(f"ImageLogs/{IMAGE_HEX}/build.log" in line and "image id" in line for line in said)


def test_build_log_found_from_the_error_texts_path(azurite):
    container, client = new_container(azurite)
    client.upload_blob("ImageLogs/00000000-0000-0000-000000000000/build.log", V2_LOG.encode())

    part = collect(azurite, container, blob_paths=[], image_id_hint=V2_ERROR_TEXT)

    assert part.files[f"storage/{container}/ImageLogs/00000000-0000-0000-000000000000/build.log"] == V2_LOG


def test_without_its_folder_the_newest_log_naming_the_image_is_chosen(azurite):
    container, client = new_container(azurite)
    client.upload_blob("ImageLogs/6c4a1e0f-7b2d-4c55-9a61-2f0d3e8b9a10/build.log", V2_LOG.encode())
    time.sleep(1.1)  # Last-Modified has a one-second resolution; the unrelated log must be newer
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", ACR_LOG.encode())
    said: list[str] = []

    part = collect(
        azurite, container, blob_paths=[], image_id_hint=f"azureml/azureml_{V2_IMAGE_HEX}", progress=said.append
    )

    assert list(k for k in part.files if k.endswith("build.log")) == [
        f"storage/{container}/ImageLogs/6c4a1e0f-7b2d-4c55-9a61-2f0d3e8b9a10/build.log"
    ]
    assert any("whose text names" in line and V2_IMAGE_HEX in line for line in said)


def test_no_build_log_for_this_service_is_a_gap_not_a_guess(azurite):
    container, client = new_container(azurite)
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", ACR_LOG.encode())

    part = collect(azurite, container, image_id_hint=None, blob_paths=[MODEL_PATH])

    assert not any(k.endswith("build.log") for k in part.files)
    assert [g.what for g in part.gaps] == ["build_log"]
    assert SERVICE in part.gaps[0].error
    assert part.files["storage/index.json"][f"{container}/{MODEL_PATH}"] == {"exists": False}


def test_tail_that_starts_on_a_line_keeps_that_line(azurite):
    container, client = new_container(azurite)
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", ACR_LOG.encode())
    last_line = ACR_LOG.splitlines(keepends=True)[-1]

    part = collect(azurite, container, blob_paths=[], tail_bytes=len(last_line.encode()))

    name = f"{container}/ImageLogs/{IMAGE_HEX}/build.log"
    assert part.files[f"storage/{name}"] == last_line
    assert part.files["storage/index.json"][name]["truncated_head_bytes"] == len(ACR_LOG.encode()) - len(last_line)


def test_tail_of_one_endless_line_is_exactly_tail_bytes(azurite):
    container, client = new_container(azurite)
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", b"." * 5000)  # progress dots, no newline

    part = collect(azurite, container, blob_paths=[], tail_bytes=1000)

    name = f"{container}/ImageLogs/{IMAGE_HEX}/build.log"
    assert part.files[f"storage/{name}"] == "." * 1000
    assert part.files["storage/index.json"][name]["truncated_head_bytes"] == 4000


@pytest.fixture(scope="module")
def big_log(azurite):
    container, client = new_container(azurite)
    data = big_log_bytes()
    client.upload_blob(f"ImageLogs/{IMAGE_HEX}/build.log", data, max_concurrency=2)
    return container, data


def test_200_mb_build_log_is_read_by_its_tail_only(azurite, big_log):
    big_log_container, data = big_log
    traffic = Traffic()

    part = collect(azurite, big_log_container, blob_paths=[], client_options=traffic.options(), tail_bytes=TAIL)

    name = f"{big_log_container}/ImageLogs/{IMAGE_HEX}/build.log"
    read = traffic.bytes_from(f"ImageLogs/{IMAGE_HEX}/build.log")
    assert TAIL <= read <= TAIL + 1, f"read {read} bytes of a {BIG_LOG_SIZE}-byte log"
    listings = [n for method, url, n in traffic.responses if url.endswith(big_log_container)]
    assert listings and all(0 < n < 4096 for n in listings)
    assert sum(n for _, _, n in traffic.responses) < TAIL + 8192
    text = part.files[f"storage/{name}"]
    assert text.endswith(ACR_LOG_TAIL)
    entry = part.files["storage/index.json"][name]
    assert entry["size"] == BIG_LOG_SIZE
    # What was kept plus what was skipped is the whole log, and the skip ends on a line break.
    assert entry["truncated_head_bytes"] + len(text.encode()) == BIG_LOG_SIZE
    assert data[entry["truncated_head_bytes"] - 1 : entry["truncated_head_bytes"]] == b"\n"


# ------------------------------------------------------------------ read-only
def test_collector_sends_only_get_and_head_and_changes_nothing(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)
    before = snapshot(client)
    traffic = Traffic()

    part = collect(azurite, container, client_options=traffic.options())

    assert "build_log" in part.collected and "storage_index" in part.collected
    assert traffic.methods and set(traffic.methods) <= {"GET", "HEAD"}
    assert "HEAD" in traffic.methods  # the blob index used get_blob_properties
    assert snapshot(client) == before


def test_collectors_client_refuses_to_write(azurite):
    container, client = new_container(azurite)
    reader = open_service_client(
        connection_string=azurite.connection_string, account_url=None, credential=None, request_timeout=5
    ).get_container_client(container)

    with pytest.raises(WriteAttempted):
        reader.upload_blob("LocalUpload/x/score.py", b"print('hi')\n")
    with pytest.raises(WriteAttempted):
        reader.delete_container()

    assert snapshot(client) == []
    assert client.exists()


# ------------------------------------------------------------------ credentials and faults
def test_account_url_with_account_key(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)

    part = collect(
        azurite, container, connection_string=None, account_url=azurite.account_url, credential=azurite.account_key
    )

    assert part.gaps == []
    assert part.files["storage/index.json"][f"{container}/{MODEL_PATH}"]["exists"] is True


def test_container_sas_with_read_and_list_is_enough(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)
    sas = generate_container_sas(
        azurite.account_name,
        container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )

    as_credential = collect(azurite, container, connection_string=None, account_url=azurite.account_url, credential=sas)
    in_url = collect(azurite, container, connection_string=None, account_url=f"{azurite.account_url}?{sas}")

    for part in (as_credential, in_url):
        assert part.gaps == []
        assert part.files["storage/index.json"][f"{container}/{SCORE_PATH}"]["exists"] is True
        assert part.files[f"storage/{container}/ImageLogs/{IMAGE_HEX}/build.log"] == ACR_LOG


def test_sas_without_read_gives_gaps_without_the_signature(azurite):
    container, client = new_container(azurite)
    upload_scenario(client)
    sas = generate_account_sas(
        azurite.account_name,
        account_key=azurite.account_key,
        resource_types=ResourceTypes(container=True, object=True),
        permission=AccountSasPermissions(list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )

    part = collect(azurite, container, connection_string=None, account_url=azurite.account_url, credential=sas)

    assert {g.what for g in part.gaps} == {"storage_index", "build_log"}
    assert all(g.error.count("\n") == 0 and "403" in g.error for g in part.gaps)
    signature = sas.split("sig=")[1]
    assert signature not in text_of(part) and signature.replace("%3D", "=") not in text_of(part)


@pytest.mark.parametrize("variant", ["connection_string", "account_url"])
def test_wrong_account_key_is_a_gap_with_no_key_in_it(azurite, variant):
    container, client = new_container(azurite)
    upload_scenario(client)
    wrong_key = "Zm9vYmFy" * 10 + "Zm9vYm" + "=="  # 88 characters, a storage key's shape
    if variant == "connection_string":
        kwargs = {"connection_string": azurite.connection_string.replace(azurite.account_key, wrong_key)}
    else:
        kwargs = {"connection_string": None, "account_url": azurite.account_url, "credential": wrong_key}

    part = collect(azurite, container, **kwargs)

    assert [g.what for g in part.gaps] == ["storage_index", "build_log"]
    assert part.gaps[0].error.startswith("403 ")
    assert "rejected the credential" in part.gaps[0].error
    assert wrong_key not in text_of(part) and azurite.account_key not in text_of(part)
    assert "AccountKey=" not in text_of(part)
    assert part.files == {}


def test_missing_container_is_a_gap(azurite):
    part = collect(azurite, "azureml-never-created")

    assert [g.what for g in part.gaps] == ["storage_index", "build_log"]
    assert "404 ContainerNotFound" in part.gaps[0].error and "azureml-never-created" in part.gaps[0].error


def test_refused_connection_is_a_gap_with_no_sas_in_it():
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sas = "se=2030-01-01T00%3A00%3A00Z&sp=rl&sv=2021-08-06&sr=c&sig=c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ%3D%3D"
    started = time.monotonic()

    part = collect_storage(
        blob_paths=[MODEL_PATH],
        image_id_hint=IMAGE_NAME,
        service=SERVICE,
        account_url=f"http://127.0.0.1:{port}/devstoreaccount1",
        credential=sas,
        request_timeout=2,
    )

    assert time.monotonic() - started < 15  # no retries with back-off; generous for a loaded machine
    assert [g.what for g in part.gaps] == ["storage_index", "build_log"]
    assert "cannot reach" in part.gaps[0].error and "Connection refused" in part.gaps[0].error
    assert "c2VjcmV0" not in text_of(part)


def test_error_text_quoting_a_request_url_loses_the_sas():
    """A SAS client's URLs carry the SAS, so an error that quotes a request URL would too; whatever
    text reaches a Gap (here through the catch-all branch) is scrubbed."""
    sas = "se=2030-01-01T00%3A00%3A00Z&sp=rl&sv=2021-08-06&sr=c&sig=c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ%3D%3D"
    reader = open_service_client(
        connection_string=None, account_url="http://127.0.0.1:1/devstoreaccount1", credential=sas, request_timeout=2
    )
    url = reader.get_blob_client("azureml", MODEL_PATH).url
    assert "sig=c2VjcmV0" in url  # the SDK's own request URL

    error = describe_storage_error(RuntimeError(f"GET {url} failed"), None, 2)
    assert "c2VjcmV0" not in error and error.startswith("RuntimeError: GET http://127.0.0.1:1/")


def test_account_that_never_answers_is_a_gap_within_the_timeout():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()

        part = collect_storage(
            blob_paths=[MODEL_PATH],
            image_id_hint=None,
            service=SERVICE,
            account_url=f"http://127.0.0.1:{port}/devstoreaccount1",
            credential="Zm9vYmFy" * 10 + "Zm9vYm==",
            request_timeout=1,
        )
        elapsed = time.monotonic() - started

    assert elapsed < 30, elapsed  # one timeout, not one per path; generous for a loaded machine
    assert [g.what for g in part.gaps] == ["storage_index", "build_log"]
    assert part.gaps[0].error == f"no answer from http://127.0.0.1:{port}/devstoreaccount1 within 1 s"


@pytest.mark.parametrize(
    "connection_string, error",
    [
        ("c2VjcmV0LWtleQ pasted without its field names", "ValueError: Connection string is either blank or malformed."),
        (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0LWtleQ;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
            "could not authenticate to http://127.0.0.1:9/devstoreaccount1: Incorrect padding",
        ),
    ],
)
def test_malformed_connection_string_is_a_gap_without_its_key(connection_string, error):
    part = collect_storage(
        blob_paths=[MODEL_PATH], image_id_hint=None, service=SERVICE, connection_string=connection_string
    )

    assert [(g.what, g.error) for g in part.gaps] == [("storage_index", error), ("build_log", error)]
    assert "c2VjcmV0" not in text_of(part)


def test_no_account_given_is_a_gap():
    part = collect_storage(blob_paths=[MODEL_PATH], image_id_hint=None, service=SERVICE)

    assert [g.what for g in part.gaps] == ["storage_index", "build_log"]
    assert "no storage account given" in part.gaps[0].error


@pytest.mark.parametrize(
    "hint, image_id",
    [
        (IMAGE_NAME, IMAGE_HEX),
        (f"azureml/azureml_{IMAGE_HEX}", IMAGE_HEX),
        (V2_ERROR_TEXT, "00000000-0000-0000-000000000000"),
        ("/azureml/ImageLogs/5f1d2a7c/build.log", "5f1d2a7c"),
        ("5f1d2a7c-8e90-4c4e-9c6b-3e6bd9f01a8a", "5f1d2a7c-8e90-4c4e-9c6b-3e6bd9f01a8a"),
    ],
)
def test_image_id_from_hint(hint, image_id):
    assert image_id_from_hint(hint) == image_id
