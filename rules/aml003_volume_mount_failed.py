from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt
from aml_doctor.views import kube, platform

_MOUNT_EVENT = re.compile(r"MountVolume\.SetUp failed|Unable to attach or mount volumes|Unable to start blobfuse|no volume plugin matched")
# The same failures pasted as lines, as kubectl describe and the blob-mount troubleshooting page print
# them (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/storage/mounting-azure-blob-storage-container-fail).
_MOUNT_TEXT = re.compile(_MOUNT_EVENT.pattern + r"|\bFailedMount\b|An operation with the given Volume ID .* already exists")
_UNBOUND = re.compile(r"unbound immediate PersistentVolumeClaims")

# (pattern, cause, confidence, alternatives, what decides)
_CAUSES = (
    (re.compile(r"no volume plugin matched|failed to get plugin from volumeSpec"), "driver", 0.9),
    (re.compile(r"errno\s*=\s*403|AuthorizationFailure|AuthenticationFailed|This request is not authorized"), "key", 0.7),
    (re.compile(r"accountname is empty|container is empty|secret .* not found|couldn't get secret"), "missing-key", 0.85),
    (re.compile(r"errno\s*=\s*404|ContainerNotFound|The specified container does not exist"), "container", 0.85),
    (re.compile(r"context deadline exceeded|i/o timeout|connection timed out|An operation with the given Volume ID .* already exists", re.I), "network", 0.75),
)


class VolumeMountFailed(Rule):
    id = "AML003"
    name = "volume-mount-failed"
    category = Category.VOLUME_MOUNT_FAILURE
    severity = Severity.CRITICAL
    stage = Stage.MOUNT
    requires = ("events|text|azureml_service",)
    signals = ("FailedMount", "MountVolume.SetUp failed", "Unable to attach or mount volumes", "no volume plugin matched", "blobfuse", "unbound immediate PersistentVolumeClaims")
    links = (
        "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/storage/mounting-azure-blob-storage-container-fail",
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-change-storage-access-key",
    )

    def check(self, ev):
        if _mounted_since(ev):
            return
        events = [e for e in kube.events_for_service(ev) if e.reason == "FailedMount" or _MOUNT_EVENT.search(e.message)]
        unbound = [e for e in kube.events_for_service(ev) if _UNBOUND.search(e.message)]
        pasted = [] if events or unbound else platform.lines(kube.scoring_logs(ev), _MOUNT_TEXT)
        if events:
            yield self._mount_failure(events)
        elif pasted:
            yield self._mount_failure_pasted(pasted)
        elif unbound:
            e = unbound[0]
            yield self.finding(
                title="The volume claim for model and code is not bound",
                explanation=(
                    "The pod cannot be scheduled because its PersistentVolumeClaim (the blobfuse volume with the model "
                    "and code) is not bound to a PersistentVolume."
                ),
                evidence=[EvidenceItem(e.locator, f"{e.reason}: {e.message}")],
                subject=f"pod/{e.name}" if e.name else "pvc",
                confidence=0.85,
                fix=Fix(
                    summary="Redeploy the service so AzureML recreates its PV and PVC.",
                    steps=("kubectl get pv,pvc -n <namespace>", "Model.deploy(..., overwrite=True) or service.update()"),
                    verify=("kubectl get pvc -n <namespace>   # STATUS Bound",),
                ),
            )

    def _mount_failure(self, events):
        first = events[-1]
        evidence = [EvidenceItem(e.locator, f"{e.type} {e.reason}: {e.message}".strip()) for e in events[-3:]]
        return self._explained("\n".join(e.message for e in events), evidence, f"pod/{first.name}" if first.name else "volume")

    def _mount_failure_pasted(self, hits):
        return self._explained("\n".join(h.line for h in hits), [excerpt(h.doc, h.line_no) for h in hits[:3]], "volume")

    def _explained(self, text, evidence, subject):
        cause, confidence = "unknown", 0.6
        for pattern, name, conf in _CAUSES:
            if pattern.search(text):
                cause, confidence = name, conf
                break
        title, explanation, fix, alternatives, decide = _EXPLAIN[cause]
        return self.finding(
            title=title,
            explanation=explanation,
            evidence=evidence,
            subject=subject,
            confidence=confidence,
            fix=fix,
            alternatives=alternatives,
            decide=decide,
        )


def _mounted_since(ev) -> bool:
    """A pod that runs and is ready has its volume: old FailedMount events are history."""
    states = [s for s in kube.container_states(ev) if not s.init]
    return bool(states) and all(s.running and s.ready for s in states)


_SYNC = "az ml workspace sync-keys -w <workspace> -g <resource-group>"
_EXPLAIN = {
    "driver": (
        "Blob volume cannot be mounted: no volume plugin on the node handles it",
        "The node has no driver for the service's volume (`no volume plugin matched`). This happens after an AKS "
        "upgrade across 1.16/1.17, when the blobfuse FlexVolume gave way to the Blob CSI driver and the service was "
        "not redeployed.",
        Fix(
            summary="Redeploy or update the web service so it uses the volume driver of the current cluster version.",
            steps=("service.update(...) or Model.deploy(..., overwrite=True)", "kubectl get csidrivers   # blob.csi.azure.com present"),
            verify=("kubectl describe pod <pod>   # no FailedMount events; pod Running",),
        ),
        (),
        "",
    ),
    "key": (
        "Blob volume cannot be mounted: storage refused the key (errno=403)",
        "blobfuse got 403 from the workspace storage account. Most often the account keys were rotated and the "
        "cluster still holds the old key; a storage firewall that excludes the AKS subnet also answers 403.",
        Fix(
            summary="Sync the workspace keys, then redeploy so the volume secret gets the new key.",
            steps=(_SYNC, "Model.deploy(..., overwrite=True) or service.update()"),
            verify=("kubectl get pod -l azuremlappname=<service>   # Running; no new FailedMount events",),
        ),
        (Category.AUTH_ERROR,),
        "Check the storage account's activity log for `Regenerate Storage Account Keys`; if there is none, "
        "check the storage firewall allows the AKS subnet.",
    ),
    "missing-key": (
        "Blob volume cannot be mounted: the storage account name or key is missing",
        "The blobfuse driver rejected the volume before mounting: its secret has no account name or key.",
        Fix(
            summary="Sync the workspace keys and redeploy so AzureML rewrites the volume secret.",
            steps=(_SYNC, "Model.deploy(..., overwrite=True)"),
            verify=("kubectl describe pod <pod>   # no FailedMount events",),
        ),
        (),
        "",
    ),
    "container": (
        "Blob volume cannot be mounted: the blob container does not exist (errno=404)",
        "blobfuse got 404: the `azureml` container of the workspace storage account is missing, or the volume names the wrong account.",
        Fix(
            summary="Check the workspace's default storage account and its `azureml` container.",
            steps=("az storage container exists --account-name <account> -n azureml",),
            verify=("kubectl describe pod <pod>   # no FailedMount events",),
        ),
        (),
        "",
    ),
    "network": (
        "Blob volume cannot be mounted: the node cannot reach the storage account",
        "The mount timed out: an NSG, firewall or network virtual appliance blocks the node's traffic to "
        "<account>.blob.core.windows.net on port 443, or private DNS does not resolve it.",
        Fix(
            summary="Allow the AKS subnet to reach the storage account on 443 (NSG, firewall, private endpoint DNS).",
            steps=("From a node or a debug pod: nc -v -w 2 <account>.blob.core.windows.net 443",),
            verify=("kubectl describe pod <pod>   # no FailedMount events",),
        ),
        (Category.CLUSTER_OR_COMPUTE_UNHEALTHY,),
        "A `nc -v -w 2 <account>.blob.core.windows.net 443` from the node tells a network block from a storage-side refusal.",
    ),
    "unknown": (
        "Blob volume with the model and code cannot be mounted",
        "The pod is stuck before its containers start: the volume holding the model and code fails to mount. "
        "The event does not say why.",
        Fix(
            summary="Read the driver's error and fix the key, network or driver it names.",
            steps=("kubectl describe pod <pod>", "On the node: tail /var/log/blobfuse-driver.log"),
            verify=("kubectl describe pod <pod>   # no FailedMount events",),
        ),
        (),
        "The blobfuse driver log on the node (/var/log/blobfuse-driver.log) names the failing call.",
    ),
}
