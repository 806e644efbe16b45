from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import podfailures

GPU = "nvidia.com/gpu"
_INSUFFICIENT_GPU = re.compile(r"Insufficient nvidia\.com/gpu")


@with_signatures(__file__)
class GpuUnavailable(Rule):
    id = "AML010"
    name = "gpu-unavailable"
    category = Category.INSUFFICIENT_RESOURCES_UNSCHEDULABLE
    severity = Severity.CRITICAL
    stage = Stage.SCHEDULE
    requires = ("pods|events|text|azureml_service",)
    signals = ("Insufficient nvidia.com/gpu",)
    links = ("https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-inferencing-gpus",)

    def check(self, ev):
        failures = [f for f in podfailures.scheduling_failures(ev) if _INSUFFICIENT_GPU.search(f.message)]
        if not failures:
            return
        items = [EvidenceItem(f.locator, f"FailedScheduling: {f.message}") for f in failures[:2]]
        requests = podfailures.pod_requests(ev)
        per_pod = max((r.get(GPU, 0.0) for r, _ in requests.values()), default=0.0)
        pending = len({f.pod for f in failures if f.pod}) or 1
        nodes = podfailures.node_allocatable(ev)
        gpus = {name: alloc.get(GPU, 0.0) for name, alloc, _ in nodes}
        total = sum(gpus.values())
        if requests:
            r, locator = next(iter(requests.values()))
            items.append(EvidenceItem(locator, f"{GPU} requested per pod: {r.get(GPU, 0):g}"))
        if nodes:
            items.append(EvidenceItem(nodes[0][2], ", ".join(f"{n}: {g:g} {GPU}" for n, g in gpus.items())))
        if nodes and total == 0:
            cause = "none"
            facts = f"none of the {len(nodes)} node(s) offers any {GPU}"
        elif nodes:
            cause = "taken"
            facts = f"the cluster has {total:g} GPU(s) in all, each pod needs {per_pod or 1:g}, and GPUs are not shared between pods"
        else:
            cause, facts = "unknown", "nodes.json is not in the evidence, so the cluster's GPUs cannot be counted"
        yield self.finding(
            title=f"No GPU for the service: {failures[0].message.strip()}",
            explanation=(
                f"The pod requests {GPU} and no node can give it one: {facts}. "
                + {
                    "none": "The cluster has no GPU nodes, or the NVIDIA device plugin is not running on them.",
                    "taken": f"With {pending} pod(s) still pending, the service asks for more replicas than there are free GPUs.",
                    "unknown": "Either the cluster has no GPU nodes or every GPU is taken.",
                }[cause]
            ),
            evidence=items[:4],
            subject="scheduling/gpu",
            confidence=0.9 if nodes else 0.8,
            decide="" if nodes else "kubectl get nodes -o custom-columns=NAME:.metadata.name,GPU:.status.allocatable.nvidia\\.com/gpu counts the GPUs.",
            fix=_fix(cause),
        )


def _fix(cause: str) -> Fix:
    steps = {
        "none": (
            "Deploy to a cluster built on a GPU SKU (for example Standard_NC6s_v3); v1 cannot deploy to a secondary node pool, "
            "so that is a new AKS compute: AksCompute.provisioning_configuration(vm_size='Standard_NC6s_v3').",
            "If the nodes do have GPUs: kubectl get pods -n kube-system | grep nvidia-device-plugin   # the plugin must run on them",
            "Or deploy without a GPU: AksWebservice.deploy_configuration(gpu_cores=0) with a CPU image.",
        ),
        "taken": (
            "Cap replicas at the number of free GPUs: AksWebservice.deploy_configuration(autoscale_max_replicas=<GPUs>) or num_replicas=<GPUs>.",
            "Or add GPU nodes: az aks scale -n <cluster> -g <resource-group> --node-count <n>.",
            "Delete other GPU services that are no longer used: kubectl get pods -A -o wide | grep <gpu node>.",
        ),
        "unknown": (
            "kubectl describe nodes | grep -E 'nvidia.com/gpu|Allocated'   # GPUs per node and in use",
            "Then add GPU nodes, lower the replica count, or deploy without a GPU (gpu_cores=0).",
        ),
    }[cause]
    return Fix(
        summary={"none": "Run the service on GPU nodes, or stop requesting a GPU.", "taken": "Free GPUs or add GPU nodes; one GPU per replica.",
                 "unknown": "Count the cluster's GPUs, then add nodes or request fewer."}[cause],
        steps=steps,
        verify=(
            "kubectl get pod -l azuremlappname=<service> -n <namespace> -o wide   # a NODE is assigned",
            "kubectl describe node <node> | grep nvidia.com/gpu   # allocatable > 0",
        ),
    )
