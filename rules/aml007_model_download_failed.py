from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import kube, podfailures
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.engine.rule import excerpt

# The azure-storage SDK's log lines in the init container
# (https://github.com/Azure/azureml-sdk-for-r/issues/373).
_RESPONSE = re.compile(r"Receiving Response: .*?HTTP Status Code=(\d{3}), Message=(.*?\.?)(?:, Headers=|$)")
_REQUEST_PATH = re.compile(r"Outgoing request: Method=\w+, Path=([^,]+)")
_UNABLE = re.compile(r"Unable to download user model")
_LAYOUT = re.compile(r"Dir \S*?azureml-models/([^/\s]+)/(\d+) can contain only 1 file or folder\. Found (\[[^\]]*\])?")
# What the inference server prints when /var/azureml-app holds no code (AML004's no-score-script).
_NO_CODE = re.compile(r"No score script found|No module named 'main'|not an accessible directory in the container")


@with_signatures(__file__)
class ModelDownloadFailed(Rule):
    id = "AML007"
    name = "model-download-failed"
    category = Category.MODEL_NOT_FOUND
    modes = (
        Mode("download-failed", Category.MODEL_NOT_FOUND),
        Mode("storage-refused", Category.AUTH_ERROR),
    )
    severity = Severity.CRITICAL
    stage = Stage.DOWNLOAD
    requires = ("azureml_init_logs|container_logs|azureml_logs|text|azureml_service",)
    # Said here, not left to comments: the cases this rule stays silent on because another rule reports them.
    defers = {
        "AML002": "a model or code blob the storage index shows missing, and a model score.py asks for that the service was not deployed with",
    }
    signals = (
        "HTTP Status Code=",
        "Outgoing request:",
        "Unable to download user model",
        "Model download failed",
        "DownloadFailed",
        "can contain only 1 file or folder",
    )
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        finding = self._init_container(ev) or self._endpoint(ev)
        if finding:
            yield finding
        layout = self._layout(ev)
        if layout:
            yield layout

    # ------------------------------------------------------------------ v1 init container
    def _init_container(self, ev):
        for doc in kube.init_logs(ev) + kube.scoring_logs(ev):
            for hit in doc.search(_RESPONSE):
                status, message = int(hit.match.group(1)), hit.match.group(2)
                if status < 400:
                    continue
                path, request_line = _request_path(doc, hit.line_no)
                if status == 404 and ev.blob_exists(path.lstrip("/")) is False:
                    return None  # AML002 reports the missing blob from the storage index
                items = [excerpt(doc, request_line)] if path else []
                items.append(EvidenceItem(hit.locator, f"HTTP Status Code={status}, Message={message}"))
                items += _code_never_arrived(ev)
                return self._storage_answer(status, message, path or "a blob of the deployment", items)
        return None

    def _storage_answer(self, status, message, path, items):
        no_code = any("No module named 'main'" in i.excerpt or "No score script" in i.excerpt for i in items)
        tail = " Nothing was downloaded, so the server then finds no entry script: `No module named 'main'`." if no_code else ""
        if status == 403:
            return self.finding(
                title=f"Model and code download refused by storage (HTTP 403) for {path}",
                explanation=(
                    f"The init container asked the workspace storage account for `{path}` and got `{status} {message}`. "
                    "That is Azure Storage's AuthorizationFailure: the request was signed, but the account's firewall "
                    "(selected networks, disabled public access, a private endpoint) or the caller's permissions do not "
                    "let it in. A missing blob would answer 404, so the files may well be there." + tail
                ),
                evidence=items,
                subject=f"blob/{path}",
                confidence=0.85,
                category=Category.AUTH_ERROR,
                decide="`az storage account show -n <account> --query networkRuleSet` shows whether the firewall excludes the AKS subnet.",
                fix=Fix(
                    summary="Let the cluster read the workspace storage account: allow the AKS subnet, or fix the private endpoint.",
                    steps=(
                        "az storage account network-rule add -g <resource-group> --account-name <account> --subnet <aks-subnet-id>",
                        "With a private endpoint: link the privatelink.blob.core.windows.net DNS zone to the AKS virtual network.",
                        "If keys were rotated: az ml workspace sync-keys -w <workspace> -g <resource-group>, then redeploy.",
                    ),
                    verify=(
                        "service.get_logs(init=True)   # the init_config.json request answers HTTP Status Code=200",
                        "service.get_logs()   # no `No module named 'main'`; `Users's init has completed successfully`",
                    ),
                ),
            )
        missing = status == 404
        return self.finding(
            title=f"Model and code download failed: storage answered HTTP {status} for {path}",
            explanation=(
                f"The init container could not download `{path}`: `{status} {message}`. "
                + ("The blob is not in the workspace storage account." if missing else "The storage account refused or failed the request.")
                + tail
            ),
            evidence=items,
            subject=f"blob/{path}",
            confidence=0.8 if missing else 0.5,
            alternatives=() if missing else (Category.AUTH_ERROR,),
            decide="" if missing else f"az storage blob exists --account-name <account> -c azureml -n '{path.lstrip('/').split('/', 1)[-1]}'",
            fix=Fix(
                summary="Make the files the deployment lists exist and readable, then redeploy.",
                steps=(
                    f"az storage blob exists --account-name <account> -c azureml -n '{path.lstrip('/').split('/', 1)[-1]}'",
                    "Model.deploy(..., overwrite=True) uploads the code again; re-register a model whose files are gone.",
                ),
                verify=("service.get_logs(init=True)   # every request answers HTTP Status Code=200",),
            ),
        )

    # ------------------------------------------------------------------ v2 / managed endpoints
    def _endpoint(self, ev):
        items = []
        for err in azureml_errors(ev):
            m = _UNABLE.search(err.all_text())
            if m:
                items.append(EvidenceItem(err.locator, f"{err.code}: {err.all_text()[m.start():m.start() + 200]}"))
        if not kube.service_healthy(ev):
            items += [
                EvidenceItem(e.locator, f"{e.type} {e.reason}: {e.message}")
                for e in podfailures.endpoint_events(ev) + kube.events_for_service(ev)
                if e.reason == "DownloadFailed"
            ][-2:]
        if not items:
            return None
        return self.finding(
            title="The deployment's model could not be downloaded (storage-initializer)",
            explanation=(
                "AzureML reports that the model (or code) could not be downloaded into the container "
                "(`Unable to download user model` / `Model download failed, retrying`). The files are missing from "
                "the workspace storage account, or the deployment's identity cannot read them; the storage-initializer "
                "log says which."
            ),
            evidence=items[:3],
            subject="model/download",
            confidence=0.6,
            alternatives=(Category.AUTH_ERROR,),
            decide=(
                "`az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer`: "
                "a 403 or AuthorizationFailure means access (auth_error); BlobNotFound means the files are missing."
            ),
            fix=Fix(
                summary="Register the model in the deployment's workspace and let the endpoint identity read the storage account.",
                steps=(
                    "az ml model show --name <model> --version <version>",
                    "az storage blob exists --account-name <account> --container-name <container> --name <path>",
                    "Grant the endpoint identity `Storage Blob Data Reader` on the workspace storage account (user-assigned identity).",
                ),
                verify=("az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer   # download completes",),
            ),
        )

    # ------------------------------------------------------------------ what arrived is not what get_model_path expects
    def _layout(self, ev):
        cfg = kube.init_container_config(ev)
        deployed = {name.lower() for kind, name, _ in cfg.blob_paths() if kind == "model"} if cfg else set()
        for doc in kube.scoring_logs(ev):
            hit = doc.last(_LAYOUT)
            if not hit:
                continue
            name, version = hit.match.group(1), hit.match.group(2)
            if deployed and f"{name}:{version}".lower() not in deployed:
                return None  # AML002: score.py asks for a model the service was not deployed with
            return self.finding(
                title=f"Model {name}:{version} holds several files; Model.get_model_path() expects exactly one",
                explanation=(
                    f"The model's folder azureml-models/{name}/{version} arrived with more than one entry "
                    f"{hit.match.group(3) or ''}, and `Model.get_model_path('{name}')` only accepts a version folder "
                    "with a single file or folder in it, so init() fails before loading anything."
                ),
                evidence=[excerpt(doc, hit.line_no)],
                subject=f"model/{name}:{version}",
                confidence=0.9,
                fix=Fix(
                    summary="Build the path yourself from AZUREML_MODEL_DIR instead of calling get_model_path().",
                    steps=(
                        "model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), '<file inside the model>')   # in init()",
                        "Or register the model as one folder: Model.register(ws, model_path='<folder>', model_name='" + name + "')",
                    ),
                    verify=("service.get_logs()   # `Users's init has completed successfully`",),
                ),
            )
        return None


def _request_path(doc, line_no: int) -> tuple[str, int]:
    """The blob path of the request this response answers (the nearest Outgoing request above it), and its line."""
    for n, text in reversed(doc.window(line_no, 6, 0)):
        m = _REQUEST_PATH.search(text)
        if m:
            return m.group(1).strip(), n
    return "", 0


def _code_never_arrived(ev) -> list[EvidenceItem]:
    """The scoring container's `No module named 'main'`: what a failed download looks like from inside."""
    for doc in kube.scoring_logs(ev):
        hit = doc.last(_NO_CODE)
        if hit:
            return [excerpt(doc, hit.line_no)]
    return []
