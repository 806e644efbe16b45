from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, platform, podfailures
from aml_doctor.views.errorjson import azureml_errors, service_state
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

# Owned elsewhere: a claim that is not bound is AML003's (volume), a GPU shortage AML010's.
_NOT_MINE = re.compile(r"unbound immediate PersistentVolumeClaims|nvidia\.com/gpu")
# AzureML's own wording: v1 state messages, the SDK pre-check (https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment), v2 OutOfQuota (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints).
_AZUREML_TEXT = re.compile(
    r"Couldn't Schedule because the kubernetes cluster didn't have available resources[^\n\"]*|"
    r"Unschedulable: CPU/Memory resource insufficient[^\n\"]*|"
    r"Deployment request failed due to insufficient compute resource\.[^\n\"]*|"
    r"Kubernetes unschedulable[^\n\"]*"
)
# The scheduler's message pasted alone ("0/3 nodes are available: 3 Insufficient cpu."). Anti-affinity
# alone is the AzureML router's high availability on too few nodes: AML018's, not a lack of capacity.
_SCHEDULER_TEXT = re.compile(r"\b\d+/\(?\w+\)? nodes are available: [^\n]+")
_PASTED_NOT_MINE = re.compile(r"anti-affinity")
_REASON = re.compile(r"(\d+) (Insufficient [\w/-]+(?:\.[\w/-]+)*|Too many pods|node\(s\) [^,.]+)")

# What each scheduler reason means and what to do about it.
_ADVICE = (
    (re.compile(r"Insufficient (cpu|memory|pods)|Too many pods"), "capacity"),
    (re.compile(r"taint"), "taint"),
    (re.compile(r"anti-affinity"), "anti-affinity"),
    (re.compile(r"node affinity/selector|node selector"), "selector"),
    (re.compile(r"volume node affinity conflict"), "zone"),
    (re.compile(r"were unschedulable"), "cordoned"),
)
_STEPS = {
    "taint": "The nodes carry a taint the pod does not tolerate (v1 deployments add no tolerations): "
    "kubectl describe nodes | grep Taints; remove it with kubectl taint nodes <node> <key>- or deploy to an untainted cluster.",
    "anti-affinity": "Pod anti-affinity needs one node per replica: a production cluster needs at least 3 nodes "
    "(az aks scale -n <cluster> -g <resource-group> --node-count 3).",
    "selector": "No node carries the labels the pod (or the v2 instance type's nodeSelector) asks for: "
    "kubectl get nodes --show-labels; az ml compute show ... to read the instance type.",
    "zone": "The volume sits in another availability zone than the nodes: redeploy so the volume is created again, "
    "or add nodes in that zone.",
    "cordoned": "Nodes are cordoned: kubectl uncordon <node> once their maintenance is over.",
}


@with_signatures(__file__)
class Unschedulable(Rule):
    id = "AML009"
    name = "unschedulable"
    category = Category.INSUFFICIENT_RESOURCES_UNSCHEDULABLE
    severity = Severity.CRITICAL
    stage = Stage.SCHEDULE
    requires = ("pods|events|text|azureml_service",)
    # Said here, not left to comments: the cases this rule stays silent on because another rule reports them.
    defers = {
        "AML003": "a pod that waits for a volume claim that is not bound",
        "AML010": "a pod that waits for a GPU the nodes do not have",
    }
    signals = (
        "FailedScheduling",
        "nodes are available",
        "Couldn't Schedule because",
        "CPU/Memory resource insufficient",
        "insufficient compute resource",
        "Kubernetes unschedulable",
        "PodUnschedulable",
        "Unschedulable",
    )
    links = (
        "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/availability-performance/troubleshoot-pod-scheduler-errors",
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
    )

    def check(self, ev):
        failures = [f for f in podfailures.scheduling_failures(ev) if not _NOT_MINE.search(f.message)]
        items = [EvidenceItem(f.locator, f"FailedScheduling: {f.message}") for f in failures[:2]]
        messages = [f.message for f in failures]
        if not failures:
            pasted = [
                h for h in platform.lines(kube.scoring_logs(ev), _SCHEDULER_TEXT)
                if not _NOT_MINE.search(h.line) and not _PASTED_NOT_MINE.search(h.line)
            ]
            items += [excerpt(h.doc, h.line_no) for h in pasted[:2]]
            messages += [h.match.group(0) for h in pasted]
        azureml = self._azureml_says(ev)
        items += azureml[:2]
        state = service_state(ev)
        if not items and state and state[0] == "Unschedulable":
            items.append(EvidenceItem(state[1], "state: Unschedulable"))
        if not items:
            return
        reasons = sorted({m.group(0) for text in messages for m in _REASON.finditer(text)})
        kinds = [kind for pattern, kind in _ADVICE if any(pattern.search(r) for r in reasons or messages)] or ["capacity"]
        sizes, fits_nowhere = _compare(ev, reasons)
        if sizes:
            items.append(EvidenceItem(*sizes))
        what = ", ".join(reasons) if reasons else (messages[0][:200] if messages else "the cluster lacks the CPU or memory the service requests")
        title = f"Pods cannot be scheduled: {what}"
        if fits_nowhere:
            title += f" ({fits_nowhere})"
        yield self.finding(
            title=title,
            explanation=(
                "The scheduler found no node for the service's pod, so nothing else can start: no image pull, no "
                f"init(). It says: {what}."
                + (f" {sizes[1]}." if sizes else "")
                + (" The request is larger than any node could ever offer." if fits_nowhere else "")
                + " AzureML v1 reports this as the state `Unschedulable`; azureml-fe does not add nodes."
            ),
            evidence=items[:5],
            subject="scheduling",
            confidence=0.9 if failures else (0.85 if azureml else 0.7),
            fix=_fix(kinds, bool(fits_nowhere)),
        )

    def _azureml_says(self, ev) -> list[EvidenceItem]:
        items = []
        for err in azureml_errors(ev):
            m = _AZUREML_TEXT.search(err.all_text())
            if m or "PodUnschedulable" in err.codes():
                items.append(EvidenceItem(err.locator, m.group(0) if m else f"PodUnschedulable: {err.message}"))
        if not items:
            for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED, TextKind.AZUREML_LOGS):
                hit = doc.first(_AZUREML_TEXT)
                if hit:
                    items.append(excerpt(doc, hit.line_no))
        return items


def _compare(ev, reasons: list[str]) -> tuple[tuple[str, str] | None, str]:
    """(locator, "pod requests ... ; nodes allocate at most ..."), and what can never fit."""
    requests = podfailures.pod_requests(ev)
    nodes = podfailures.node_allocatable(ev)
    if not requests:
        return None, ""
    wanted, locator = next(iter(requests.values()))
    parts, never = [], []
    for resource, show in (("cpu", podfailures.cpu_text), ("memory", podfailures.memory_text)):
        if resource not in wanted:
            continue
        largest = max((alloc.get(resource, 0.0) for _, alloc, _ in nodes), default=None)
        text = f"{resource} request {show(wanted[resource])}"
        if largest is not None:
            text += f" vs at most {show(largest)} allocatable on any of {len(nodes)} node(s)"
            if wanted[resource] > largest:
                never.append(f"{resource} {show(wanted[resource])} > {show(largest)} per node")
        parts.append(text)
    if not parts:
        return None, ""
    where = locator if not nodes else f"{locator} ; {nodes[0][2]}"
    return (where, "; ".join(parts)), ", ".join(never)


def _fix(kinds: list[str], fits_nowhere: bool) -> Fix:
    steps = []
    if "capacity" in kinds:
        if fits_nowhere:
            steps.append("Lower the request below one node's allocatable: AksWebservice.deploy_configuration(cpu_cores=<n>, memory_gb=<n>), or use a larger VM SKU.")
        else:
            steps += [
                "Add nodes: az aks scale -n <cluster> -g <resource-group> --node-count <n>, or enable the cluster autoscaler "
                "(az aks update -n <cluster> -g <resource-group> --enable-cluster-autoscaler --min-count 3 --max-count <n>).",
                "Or lower the service's cpu_cores / memory_gb / replicas, or delete services that are no longer used.",
            ]
    steps += [_STEPS[k] for k in kinds if k in _STEPS]
    return Fix(
        summary="Make room for the pod: a smaller request, or more or larger nodes." if "capacity" in kinds else "Remove what keeps the pod off every node.",
        steps=tuple(steps),
        verify=(
            "kubectl describe nodes | grep -A 8 'Allocated resources'   # what the nodes have left",
            "kubectl get pod -l azuremlappname=<service> -n <namespace> -o wide   # a NODE is assigned",
        ),
    )
