from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, podfailures
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.engine.rule import excerpt

V1_DEFAULT_MEMORY = 0.5 * 2**30  # AksWebservice.deploy_configuration(memory_gb=0.5)
_CGROUP_OOM = re.compile(r"Memory cgroup out of memory")
_EVICTED_MEMORY = re.compile(r"low on resource: memory")
_WORKER_SIGKILL = re.compile(r"Worker with pid (\d+) was terminated due to signal 9")
_WORKER_TIMEOUT = re.compile(r"WORKER TIMEOUT|worker timed out")
_INIT_DONE = re.compile(r"Users's init has completed successfully")
_LIVENESS_KILL = re.compile(r"Liveness probe failed|failed liveness probe")


@with_signatures(__file__)
class OomKilled(Rule):
    id = "AML008"
    name = "oom-killed"
    category = Category.OOM_KILLED
    severity = Severity.CRITICAL
    stage = Stage.INIT
    requires = ("pods|events|text|azureml_service|container_logs|azureml_logs",)
    signals = (
        "OOMKilled",
        "Memory cgroup out of memory",
        "Evicted",
        "low on resource: memory",
        "PodOutOfMemory",
        "was terminated due to signal 9",
        "WORKER TIMEOUT",
    )
    links = (
        "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/availability-performance/troubleshoot-oomkilled-aks-clusters",
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service",
    )

    def check(self, ev):
        events = podfailures.service_events(ev)
        killed, confidence, how = self._killed(ev, events)
        if killed:
            yield self._finding(ev, killed, confidence, how)
        evicted = self._evicted(ev, events)
        if evicted:
            yield self._eviction(ev, evicted)

    # ------------------------------------------------------------------ the container was killed
    def _killed(self, ev, events):
        """(evidence, confidence, how it was seen), strongest first; ([], 0, "") when nothing was."""
        states = [s for s in kube.container_states(ev) if not (s.running and s.ready)]
        oom = [s for s in states if s.terminated_reason == "OOMKilled"]
        if oom:
            items = [EvidenceItem(s.locator, _state_text(s)) for s in oom[:3]]
            return items + self._corroboration(ev, events), 0.95, "OOMKilled"
        for err in azureml_errors(ev):
            if "PodOutOfMemory" in err.codes():
                return [EvidenceItem(err.locator, f"PodOutOfMemory: {err.all_text()[:300]}".strip())], 0.9, "PodOutOfMemory"
        cgroup = self._corroboration(ev, events)
        if cgroup:
            return cgroup, 0.85, "the kernel's OOM killer"
        worker = self._worker_sigkill(ev)
        if worker:
            return worker, 0.75, "gunicorn worker killed by signal 9"
        sigkill = [s for s in states if s.exit_code == 137 and s.terminated_reason != "OOMKilled"]
        if sigkill and not any(_LIVENESS_KILL.search(e.message) for e in events):
            return [EvidenceItem(s.locator, _state_text(s)) for s in sigkill[:3]], 0.45, "exit code 137 (SIGKILL)"
        return [], 0.0, ""

    def _corroboration(self, ev, events):
        return [EvidenceItem(e.locator, f"{e.reason}: {e.message}") for e in events if _CGROUP_OOM.search(e.message)][:2] or [
            excerpt(hit.doc, hit.line_no) for d in kube.scoring_logs(ev) for hit in d.search(_CGROUP_OOM)
        ][:2]

    def _worker_sigkill(self, ev):
        """gunicorn's master outlives a worker the OOM killer picked; a timeout kill says WORKER TIMEOUT first."""
        for doc in kube.scoring_logs(ev):
            for hit in doc.search(_WORKER_SIGKILL):
                before = "\n".join(text for _, text in doc.window(hit.line_no, 3, 0))
                if _WORKER_TIMEOUT.search(before):
                    continue
                booted = doc.last(rf"Booting worker with pid: {hit.match.group(1)}\b")
                in_init = booted is not None and not any(
                    booted.line_no < h.line_no < hit.line_no for h in doc.search(_INIT_DONE)
                )
                items = [excerpt(doc, booted.line_no)] if in_init else []
                return items + [excerpt(doc, hit.line_no, 1, 1)]
        return []

    def _finding(self, ev, items, confidence, how):
        limit, where = _memory_limit(ev)
        shown = f"memory limit {podfailures.memory_text(limit)} (memory_gb={podfailures.memory_gb(limit)}" + (
            ", the v1 default)" if abs(limit - V1_DEFAULT_MEMORY) < 2**20 else ")"
        ) if limit else "memory limit not in the evidence"
        if where:
            items = items + [EvidenceItem(where, shown)]
        low = confidence < 0.5
        return self.finding(
            title=f"The scoring container ran out of memory ({how}): {shown}",
            explanation=(
                f"The container was killed for exceeding its memory limit ({how}), typically while init() loads the "
                "model: the model, its framework and the server's workers must all fit in the limit. AzureML v1 "
                "gives a service 0.5 GB unless `memory_gb` says otherwise. Kubernetes restarts the container, it is "
                "killed again, and the service crash-loops."
                + (" Exit code 137 only says the process got SIGKILL; the reason was not recorded as OOMKilled." if low else "")
            ),
            evidence=items[:5],
            subject="container/memory",
            confidence=confidence,
            alternatives=(Category.WRONG_PORT_OR_PROBE_FAILURE, Category.CRASH_LOOP_OTHER) if low else (),
            decide=(
                "`kubectl describe pod <pod>`: `Last State: Terminated, Reason: OOMKilled` confirms memory; "
                "a `Killing ... failed liveness probe` event points at the probe instead."
                if low
                else ""
            ),
            fix=_fix(limit),
        )

    # ------------------------------------------------------------------ node memory pressure
    def _evicted(self, ev, events):
        items = []
        for pod in kube.service_pods(ev):
            status = pod.get("status") or {}
            if status.get("reason") == "Evicted" and _EVICTED_MEMORY.search(status.get("message") or ""):
                items.append(EvidenceItem(ev.object_locator("pods", pod, "status"), f"Evicted: {status['message']}"))
        items += [EvidenceItem(e.locator, f"{e.reason}: {e.message}") for e in events if e.reason == "Evicted" and _EVICTED_MEMORY.search(e.message)]
        return items[:3]

    def _eviction(self, ev, items):
        limit, _ = _memory_limit(ev)
        return self.finding(
            title="Pods evicted: the node ran low on memory and the scoring pod used more than it requested",
            explanation=(
                "The kubelet evicted the pod because its node was under memory pressure. Pods that use more memory "
                "than they request are evicted first; the scoring container needs more memory than its request says."
            ),
            evidence=items,
            subject="pod/evicted",
            confidence=0.8,
            fix=_fix(limit, eviction=True),
        )


def _state_text(s: kube.ContainerState) -> str:
    return (
        f"container {s.container}: lastState.terminated.reason: {s.terminated_reason or '-'}; exitCode: {s.exit_code}; "
        f"restartCount: {s.restart_count}; waiting: {s.waiting_reason or '-'}"
    )


def _memory_limit(ev) -> tuple[float, str]:
    """The scoring container's memory limit (bytes) and where it was read, else AzureML's memoryInGB."""
    resources = podfailures.container_resources(ev)
    scoring = {s.container for s in kube.scoring_states(ev)}
    for r in sorted(resources, key=lambda r: r.container not in scoring):
        if "memory" in r.limits:
            return r.limits["memory"], r.locator
    gb = ((ev.service_json or {}).get("containerResourceRequirements") or {}).get("memoryInGB")
    if isinstance(gb, (int, float)):
        return float(gb) * 2**30, "azureml/service.json#containerResourceRequirements.memoryInGB"
    return 0.0, ""


def _fix(limit: float, eviction: bool = False) -> Fix:
    current = limit / 2**30 if limit else 0.5
    target = max(2, int(current * 2 + 0.999))
    steps = (
        f"deployment_config = AksWebservice.deploy_configuration(memory_gb={target}, memory_gb_limit={target})",
        "service.update(...) with that configuration, or Model.deploy(..., overwrite=True)",
        f"v2 Kubernetes endpoint: resources.requests.memory and resources.limits.memory: {target}Gi (or a larger instance type)",
        "Load the model once in init() and keep WORKER_COUNT at 1 while memory is tight: each gunicorn worker holds its own copy.",
    )
    if eviction:
        steps = steps[:2] + ("Set the request equal to the limit (memory_gb == memory_gb_limit) so the pod is not evicted first.",)
    return Fix(
        summary=f"Give the service more memory: memory_gb={target} (now {podfailures.memory_gb(limit) if limit else 'unknown'}).",
        steps=steps,
        verify=(
            "kubectl describe pod <pod> -n <namespace>   # Last State no longer OOMKilled; Restart Count stops growing",
            "kubectl top pod <pod> -n <namespace>   # memory use stays below the new limit",
        ),
    )
