"""AML025: the blob the storage initializer must read is missing (v2 Kubernetes online endpoints)."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views
from aml_doctor.engine.rule import excerpt

# Azure Storage's own answer for a missing blob (learn.microsoft.com/rest/api/storageservices/blob-service-error-codes).
_BLOB_NOT_FOUND = re.compile(r"BlobNotFound|The specified blob does not exist|ContainerNotFound|The specified container does not exist", re.IGNORECASE)


class StorageInitializerBlobMissing(Rule):
    id = "AML025"
    name = "storage-initializer-blob-missing"
    category = Category.MODEL_NOT_FOUND
    severity = Severity.CRITICAL
    stage = Stage.DOWNLOAD
    requires = ("pods|storage_index|azureml_init_logs|container_logs",)
    signals = ("BlobNotFound", "The specified blob does not exist", "STORAGE_MANIFEST_URL")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-badargument",
        "https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes",
    )

    def check(self, ev):
        if not (v2views.is_kubernetes_v2(ev) or v2views.is_managed_v2(ev)):
            return
        inits = list(v2views.storage_initializers(ev))
        reported = False
        for init in inits:
            if init.completed and not init.failing:
                continue  # it downloaded everything once it ran; a missing blob elsewhere is history
            finding = self._manifest_missing(ev, init) or self._listed_missing(ev, init)
            if finding:
                reported = True
                yield finding
                break
        if reported or any(i.completed for i in inits):
            return
        finding = self._from_logs(ev)
        if finding:
            yield finding

    def _manifest_missing(self, ev, init):
        key = init.manifest_key
        if not key or ev.blob_exists(key) is not False:
            return None
        return self.finding(
            title=f"The storage manifest blob is missing: {key}",
            explanation=(
                f"The storage initializer `{init.name}` of pod {init.pod_name} starts by reading the blob that its "
                f"`STORAGE_MANIFEST_URL` names, which lists the model and code files to download into "
                f"`/var/azureml-app`. The storage account has no blob at `{key}`, so the initializer exits and the "
                "inference server never starts. AzureML writes that blob when the deployment is created or updated: "
                "one deleted or rotated away (a lifecycle rule, a cleanup script, a recreated workspace storage) "
                "leaves the deployment unable to start a pod."
                + (" The initializer is failing now." if init.failing else "")
            ),
            evidence=[
                EvidenceItem(init.locator, f"{v2views.STORAGE_MANIFEST_ENV}: {init.manifest_url.split('?')[0]}"),
                EvidenceItem(f"storage/index.json#{key}", f'"{key}": {{"exists": false}}'),
                *self._state_items(init),
                *self._log_items(ev, init),
            ],
            fix=_fix(key, manifest=True),
            subject=f"manifest/{key}",
            confidence=0.95 if init.failing else 0.8,
        )

    def _listed_missing(self, ev, init):
        key = init.manifest_key
        missing = [(k, e) for k, e in v2views.listed_blobs(ev, key) if e.get("exists") is False]
        if not missing:
            return None
        names = ", ".join(k for k, _ in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return self.finding(
            title=f"A file the storage manifest lists is missing: {missing[0][0]}" + (f" (+{len(missing) - 1})" if len(missing) > 1 else ""),
            explanation=(
                f"The storage manifest `{key}` of pod {init.pod_name} lists the model and code files the storage "
                f"initializer downloads. These are not in storage: {names}. The model (or code) version the "
                "deployment names has lost its files, typically because they were deleted from the datastore's "
                "container after registration; the initializer cannot complete and the inference server never starts."
            ),
            evidence=[EvidenceItem(f"storage/index.json#{k}", f'"{k}": {{"exists": false, "listed_by": "{key}"}}') for k, _ in missing[:3]]
            + [EvidenceItem(init.locator, f"{v2views.STORAGE_MANIFEST_ENV}: {init.manifest_url.split('?')[0]}"),
               *self._state_items(init), *self._log_items(ev, init)],
            fix=_fix(missing[0][0], manifest=False),
            subject=f"listed/{missing[0][0]}",
            confidence=0.95 if init.failing else 0.8,
        )

    def _from_logs(self, ev):
        for doc in v2views.storage_init_logs(ev):
            hit = doc.first(_BLOB_NOT_FOUND)
            if hit:
                return self.finding(
                    title="The storage initializer could not find a blob it must download",
                    explanation=(
                        "The storage initializer's output reports a missing blob or container (Azure Storage's "
                        "`BlobNotFound`/`ContainerNotFound`): a model or code file of the deployment, or the manifest "
                        "that lists them, is gone from storage. The storage index was not collected, so which one is "
                        "taken from the log line."
                    ),
                    evidence=[excerpt(doc, hit.line_no, 1, 1)],
                    fix=_fix("", manifest=False),
                    subject="storage-init-log",
                    confidence=0.8,
                )
        return None

    @staticmethod
    def _state_items(init) -> list[EvidenceItem]:
        term = init.last_terminated
        if not term and not init.state:
            return []
        waiting = (init.state.get("waiting") or {}).get("reason", "")
        text = ", ".join(x for x in (waiting, f"restarts {init.status.get('restartCount', 0)}",
                                     f"last exit {term.get('exitCode')} ({term.get('reason')})" if term else "") if x)
        return [EvidenceItem(init.status_locator, text)]

    @staticmethod
    def _log_items(ev, init) -> list[EvidenceItem]:
        for doc in v2views.storage_init_logs(ev, init):
            hit = doc.first(_BLOB_NOT_FOUND)
            if hit:
                return [excerpt(doc, hit.line_no)]
        return []


def _fix(key: str, *, manifest: bool) -> Fix:
    container, _, path = key.partition("/")
    exists = (f"az storage blob exists --account-name <account> -c {container} -n '{path}' --auth-mode login"
              if key else "az storage blob exists --account-name <account> -c <container> -n '<path>' --auth-mode login")
    if manifest:
        steps = (
            "Re-create the blob by updating the deployment, which writes a new manifest: "
            "az ml online-deployment update -f deployment.yml -e <endpoint> -n <deployment>",
            "If the update is refused, delete and create it again: az ml online-deployment delete -e <endpoint> -n <deployment> --yes; "
            "az ml online-deployment create -f deployment.yml -e <endpoint>",
            "Exclude container 'azureml' from lifecycle-management delete rules on the workspace storage account.",
        )
    else:
        steps = (
            "Check the model version's files: az ml model show -n <model> -v <version> --query path",
            "Register the model again from its files (az ml model create -n <model> -v <new version> --path ./model) "
            "and point the deployment's `model:` key at it, then: az ml online-deployment update -f deployment.yml",
        )
    return Fix(
        summary="Make the blob the storage initializer reads exist again (redeploy, or re-register the model), then let the pod restart.",
        steps=steps + ("az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer",),
        verify=(exists, "kubectl get pods -n <namespace> -l isazuremlapp=true   # Init:0/1 turns into Running"),
    )
