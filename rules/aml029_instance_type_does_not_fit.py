"""AML029: the deployment's InstanceType asks for more than any node it may run on offers, or selects no node."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import podfailures, v2views
from aml_doctor.views.errorjson import azureml_errors

_AZUREML = re.compile(r"Kubernetes unschedulable[^\n\"]*|\bPodUnschedulable\b[^\n\"]*", re.IGNORECASE)


class InstanceTypeDoesNotFit(Rule):
    id = "AML029"
    name = "instance-type-does-not-fit"
    category = Category.INSUFFICIENT_RESOURCES_UNSCHEDULABLE
    severity = Severity.CRITICAL
    stage = Stage.SCHEDULE
    requires = ("instancetypes", "pods|events|azureml_service|operation")
    signals = ("Kubernetes unschedulable", "PodUnschedulable")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-manage-kubernetes-instance-types",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-outofquota",
    )

    def check(self, ev):
        if not v2views.is_kubernetes_v2(ev):
            return
        unscheduled = self._unscheduled(ev)
        if not unscheduled:
            return
        name, source = v2views.instance_type_name(ev)
        itype = v2views.instance_type(ev, name) if name else None
        if itype is None:
            return
        spec = itype.get("spec") or {}
        selector = dict(spec.get("nodeSelector") or {})
        wanted = {k: v2views.quantity(v) for k, v in ((spec.get("resources") or {}).get("requests") or {}).items()}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        nodes = ev.objects("nodes")
        matching = [n for n in nodes if all(((n.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())]
        it_item = EvidenceItem(f"kubernetes/instancetypes.json#{name}/spec",
                               f"nodeSelector: {selector or '{}'}; requests: " + ", ".join(f"{k} {_show(k, v)}" for k, v in wanted.items()))
        why, detail = "", ""
        if nodes and selector and not matching:
            labels = sorted({f"{k}={v}" for n in nodes for k, v in ((n.get("metadata") or {}).get("labels") or {}).items() if k in selector})
            why = f"no node has the labels its nodeSelector asks for ({', '.join(f'{k}={v}' for k, v in selector.items())})"
            detail = f"the nodes carry {', '.join(labels) or 'none of those label keys'}"
        elif matching:
            for resource in ("cpu", "memory", "nvidia.com/gpu"):
                if resource not in wanted:
                    continue
                largest = max((v2views.quantity(((n.get("status") or {}).get("allocatable") or {}).get(resource)) or 0.0 for n in matching), default=0.0)
                if wanted[resource] > largest:
                    why = f"it requests {resource} {_show(resource, wanted[resource])}, more than any node it may run on allocates"
                    detail = f"the largest of {len(matching)} matching node(s) allocates {_show(resource, largest)}"
                    break
        if not why:
            return  # the instance type fits a node: the cluster is full, which is AML009's
        differs = self._differs(ev, wanted)
        items = [it_item, *unscheduled[:2]]
        if differs:
            items.append(differs)
        yield self.finding(
            title=f"Instance type {name} does not fit the cluster: {why}",
            explanation=(
                f"The deployment runs with instance type `{name}` ({source}). On Kubernetes online endpoints the "
                "InstanceType custom resource sets the pod's node selector and its resource requests and limits; "
                f"{why}, so the scheduler can place the pod nowhere ({detail}). AzureML reports this as "
                "`OutOfQuota: Kubernetes unschedulable` or `PodUnschedulable`; it is not an Azure quota, and adding "
                "quota changes nothing."
                + (" The pod's own requests also differ from the instance type's (as in Azure/MachineLearningNotebooks#1900), "
                   "so check which one the extension applied." if differs else "")
            ),
            evidence=items,
            fix=Fix(
                summary=f"Deploy with an instance type that fits a node, or give the cluster nodes that {name} fits.",
                steps=(
                    "kubectl get instancetype   # the instance types the cluster offers, and their requests",
                    "kubectl get nodes -L agentpool -o custom-columns=NAME:.metadata.name,CPU:.status.allocatable.cpu,MEM:.status.allocatable.memory",
                    "Set a fitting `instance_type:` in deployment.yml, then az ml online-deployment create -f deployment.yml "
                    "(a new deployment; shift traffic with az ml online-endpoint update -n <endpoint> --traffic \"<new>=100\")",
                    (f"Or add nodes with the labels {selector} and enough capacity: az aks nodepool add -g <rg> --cluster-name <cluster> -n <pool> "
                     f"--labels {' '.join(f'{k}={v}' for k, v in selector.items())} --node-vm-size <size>") if selector else
                    "Or add larger nodes: az aks nodepool add -g <rg> --cluster-name <cluster> -n <pool> --node-vm-size <size>",
                ),
                verify=("kubectl get pods -n <namespace> -l isazuremlapp=true -o wide   # the pod is placed on a node",),
            ),
            subject=f"instancetype/{name}",
            confidence=0.95,
        )

    @staticmethod
    def _unscheduled(ev) -> list[EvidenceItem]:
        items = [EvidenceItem(f.locator, f"FailedScheduling: {f.message}") for f in podfailures.scheduling_failures(ev)]
        for err in azureml_errors(ev):
            m = _AZUREML.search(err.all_text())
            if m:
                items.append(EvidenceItem(err.locator, f"{err.code}: {m.group(0)}" if err.code and err.code not in m.group(0) else m.group(0)))
                break
        return items

    @staticmethod
    def _differs(ev, wanted: dict) -> EvidenceItem | None:
        for pod in v2views.deployment_pods(ev):
            container = v2views.scoring_container(pod) or {}
            requests = {k: v2views.quantity(v) for k, v in ((container.get("resources") or {}).get("requests") or {}).items()}
            changed = [k for k in wanted if k in requests and requests[k] is not None and abs(requests[k] - wanted[k]) > 1e-9]
            if changed:
                name = (pod.get("metadata") or {}).get("name", "")
                return EvidenceItem(f"kubernetes/pods.json#{name}/spec.containers[{container.get('name')}].resources.requests",
                                    ", ".join(f"{k} {_show(k, requests[k])}" for k in changed))
        return None


def _show(resource: str, value: float) -> str:
    if resource == "memory":
        return v2views.memory_text(value)
    if resource == "cpu":
        return v2views.cpu_text(value)
    return f"{value:g}"
