"""AML027: the storage initializer is still downloading long after it started, or runs out of memory."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import v2views

# INFERRED threshold: a storage initializer still running after 10 minutes has outlasted what a
# model of a few hundred MB needs even at 100m CPU; the deployment's own timeout follows it.
SLOW_SECONDS = 10 * 60
LARGE_MODEL_BYTES = 1 * 2**30


class StorageInitializerSlowDownload(Rule):
    id = "AML027"
    name = "storage-initializer-slow-download"
    category = Category.OTHER
    modes = (
        Mode("slow-download", Category.OTHER),
        Mode("initializer-oom", Category.OOM_KILLED),
    )
    severity = Severity.HIGH
    stage = Stage.DOWNLOAD
    requires = ("pods",)
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-resourcenotready",
    )

    def check(self, ev):
        if not v2views.is_kubernetes_v2(ev):
            return
        now = v2views.collected_at(ev)
        for init in v2views.storage_initializers(ev):
            limits = init.limits()
            cpu, memory = v2views.quantity(limits.get("cpu")), v2views.quantity(limits.get("memory"))
            listed = v2views.listed_blobs(ev, init.manifest_key)
            total = sum(int(e.get("size") or 0) for _, e in listed if e.get("exists"))
            size_items = ([EvidenceItem("storage/index.json", f"{len(listed)} file(s) listed by {init.manifest_key}, {v2views.size_text(total)} in all")]
                          if listed else [])
            limit_text = ", ".join(x for x in (f"cpu {v2views.cpu_text(cpu)}" if cpu else "", f"memory {v2views.memory_text(memory)}" if memory else "") if x)
            limit_item = EvidenceItem(f"{init.locator}.resources.limits", limit_text or "no limits")
            if init.oom_killed:
                yield self.finding(
                    title=f"The storage initializer runs out of memory (OOMKilled at {v2views.memory_text(memory) if memory else 'its limit'})",
                    explanation=(
                        f"Pod {init.pod_name}'s storage initializer `{init.name}` was killed for exceeding its memory limit "
                        f"({limit_text or 'unknown'}) while downloading the model"
                        + (f" ({v2views.size_text(total)} in {len(listed)} files)" if listed else "")
                        + ". It restarts and is killed again, so the inference server never starts. The initializer's "
                        "resources are the extension's, not the deployment's: the instance type does not change them."
                    ),
                    evidence=[EvidenceItem(init.status_locator, f"lastState.terminated: OOMKilled, exit {init.last_terminated.get('exitCode')}, restarts {init.status.get('restartCount', 0)}"),
                              limit_item, *size_items],
                    fix=_fix(),
                    category=Category.OOM_KILLED,
                    subject=f"oom/{init.pod_name}",
                    confidence=0.85,
                )
                return
            started = v2views.parse_time(init.running_since)
            if started is None or now is None:
                continue
            elapsed = (now - started).total_seconds()
            if elapsed < SLOW_SECONDS:
                continue
            large = total >= LARGE_MODEL_BYTES
            yield self.finding(
                title=f"The storage initializer has been downloading for {int(elapsed // 60)} minutes"
                      + (f" ({v2views.size_text(total)} model, {limit_text})" if large else ""),
                explanation=(
                    f"Pod {init.pod_name}'s storage initializer `{init.name}` started at {init.running_since} and is still "
                    f"running {int(elapsed // 60)} minutes later; the inference server waits for it. "
                    + (f"The manifest lists {v2views.size_text(total)} of files, " if listed else "")
                    + f"and the initializer is limited to {limit_text or 'the extension defaults'}: a large model downloaded with "
                    "a tenth of a CPU can take longer than the deployment waits, and the deployment then fails with a "
                    "timeout that names no cause. This reading is inferred from the limits and the size; the "
                    "initializer's progress output is not public."
                ),
                evidence=[EvidenceItem(f"{init.status_locator}.state.running", f"startedAt: {init.running_since} (collected {ev.manifest.collected_at})"),
                          limit_item, *size_items],
                fix=_fix(),
                subject=f"slow/{init.pod_name}",
                confidence=0.8 if large else 0.55,
            )
            return


def _fix() -> Fix:
    return Fix(
        summary="Make the download smaller or let the deployment wait longer for it.",
        steps=(
            "Keep only the files the scoring script loads under the model's path, and register that as a new model version "
            "(az ml model create -n <model> -v <version> --path ./model).",
            "For very large weights, build them into the environment's image instead and load them from the image's path.",
            "Give the inference server time after the download: the deployment YAML's readiness_probe/liveness_probe "
            "initial_delay and failure_threshold (az ml online-deployment update -f deployment.yml).",
        ),
        verify=("kubectl get pod -n <namespace> <pod> -o jsonpath='{.status.initContainerStatuses[*].state}'",
                "az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer"),
    )
