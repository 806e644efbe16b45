from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import kube
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

_ASKED_FOR = re.compile(
    r"Model not found in cache or in root at \S*?azureml-models/([^/\s]+)/(\d+)|"
    r"Model/Version ([^/\s]+)/(\d+) not found in workspace|"
    r"Dir \S*?azureml-models/([^/\s]+)/(\d+) can contain only 1 file or folder"
)


class ModelOrCodeBlobMissing(Rule):
    id = "AML002"
    name = "model-or-code-blob-missing"
    category = Category.MODEL_NOT_FOUND
    modes = (
        Mode("model-blob-missing", Category.MODEL_NOT_FOUND),
        Mode("code-blob-missing", Category.ENTRY_SCRIPT_IMPORT_ERROR),
    )
    severity = Severity.CRITICAL
    stage = Stage.DOWNLOAD
    requires = ("configmaps", "storage_index|container_logs|azureml_logs|azureml_init_logs|text")
    signals = ("Model not found in cache or in root", "not found in workspace", "can contain only 1 file or folder")

    def check(self, ev):
        cfg = kube.init_container_config(ev)
        if cfg is None:
            return
        container = _blob_container(ev)
        asked = self._asked_for(ev)
        for kind, name, path in cfg.blob_paths():
            key = f"{container}/{path}"
            if ev.blob_exists(key) is not False:
                continue
            is_model = kind == "model"
            items = [
                EvidenceItem(cfg.locator, f"{'Models' if is_model else 'Dependency'}[].Path: {path}"),
                EvidenceItem(f"storage/index.json#{key}", f'"{key}": {{"exists": false}}'),
            ]
            items += [excerpt(hit.doc, hit.line_no) for hit in asked[:1]]
            yield self.finding(
                title=f"{'Model' if is_model else 'Code'} blob missing from storage: {path}",
                explanation=(
                    f"The service's InitContainerConfig ({cfg.configmap}) lists `{path}` "
                    f"{'for model ' + name if is_model else 'as code (' + name + ')'}, but the blob does not exist in "
                    f"container `{container}` of the workspace storage account. The pod cannot get it, so "
                    + ("init() cannot load the model." if is_model else "the scoring script never arrives.")
                ),
                evidence=items,
                subject=key,
                confidence=0.95,
                category=Category.MODEL_NOT_FOUND if is_model else Category.ENTRY_SCRIPT_IMPORT_ERROR,
                fix=_fix_model(name, path) if is_model else _fix_code(path),
            )
        deployed = {name.lower() for kind, name, _path in cfg.blob_paths() if kind == "model"}
        for hit in asked:
            wanted_name, wanted_version = next(g for g in _pairs(hit.match) if g[0])
            if f"{wanted_name}:{wanted_version}".lower() in deployed or not deployed:
                continue
            yield self.finding(
                title=f"score.py asks for model {wanted_name}:{wanted_version}, which the service was not deployed with",
                explanation=(
                    f"get_model_path looked for {wanted_name} version {wanted_version}, but the service was deployed with "
                    f"{', '.join(sorted(deployed))}. A wrong model name or version in score.py finds nothing."
                ),
                evidence=[excerpt(hit.doc, hit.line_no), EvidenceItem(cfg.locator, "Models: " + ", ".join(sorted(deployed)))],
                subject=f"model/{wanted_name}:{wanted_version}",
                confidence=0.85,
                stage=Stage.INIT,
                fix=Fix(
                    summary="Load the model that was deployed, from AZUREML_MODEL_DIR.",
                    steps=(
                        "model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), '<file>')   # no hard-coded name or version",
                        "Or deploy the version score.py expects: Model(ws, name='<name>', version=<n>)",
                    ),
                    verify=("service.get_logs() shows `Users's init has completed successfully`.",),
                ),
            )

    def _asked_for(self, ev):
        docs = ev.container_logs() + ev.docs(TextKind.AZUREML_LOGS, TextKind.AZUREML_INIT_LOGS, TextKind.PASTED)
        return [hit for d in docs for hit in d.search(_ASKED_FOR)]


def _pairs(match: re.Match):
    g = match.groups()
    return [(g[i], g[i + 1]) for i in range(0, len(g), 2)]


def _blob_container(ev) -> str:
    for pv in ev.objects("persistentvolumes"):
        spec = pv.get("spec") or {}
        options = (spec.get("flexVolume") or {}).get("options") or {}
        attrs = (spec.get("csi") or {}).get("volumeAttributes") or {}
        name = options.get("container") or attrs.get("containerName") or attrs.get("container")
        if name:
            return name
    return "azureml"


def _fix_model(name: str, path: str) -> Fix:
    model = name.split(":")[0]
    return Fix(
        summary=f"Re-register model {name} (or deploy a version whose files exist), then redeploy.",
        steps=(
            f"az storage blob exists --account-name <account> -c azureml -n '{path}'",
            f"Model.register(ws, model_path='<local file or folder>', model_name='{model}') and deploy the new version",
            "If files were deleted by a storage lifecycle policy, exclude ExperimentRun/ and LocalUpload/ from it.",
        ),
        verify=(f"az storage blob exists --account-name <account> -c azureml -n '{path}'   # exists: true",),
    )


def _fix_code(path: str) -> Fix:
    return Fix(
        summary="Redeploy so the entry script and source directory are uploaded again.",
        steps=(
            "Model.deploy(ws, '<service>', models, inference_config, deployment_config, aks_target, overwrite=True)",
            "Check the storage account's lifecycle rules do not delete LocalUpload/.",
        ),
        verify=(f"az storage blob exists --account-name <account> -c azureml -n '{path}'   # exists: true",),
    )
