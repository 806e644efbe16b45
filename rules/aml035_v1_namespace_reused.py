"""AML035 (migrate-check): the v2 compute's namespace is a v1 workspace namespace (azureml-<workspace>)."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views


class V1NamespaceReused(Rule):
    id = "AML035"
    name = "v1-namespace-reused"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("deployments",)
    links = ("https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md",
             "https://learn.microsoft.com/azure/machine-learning/how-to-attach-kubernetes-to-workspace")

    def check(self, ev):
        if not v2views.migrate_check(ev):
            return
        raw = ev.manifest.raw if isinstance(ev.manifest.raw, dict) else {}
        namespace = str(raw.get("compute_namespace") or "")
        workspace = ev.manifest.workspace
        if not namespace.startswith("azureml-"):
            return
        services = [d for d in v2views.v1_services(ev) if (d.get("metadata") or {}).get("namespace") == namespace]
        if namespace != f"azureml-{workspace.lower()}" and not services:
            return
        names = sorted((d.get("metadata") or {}).get("name", "") for d in services)
        yield self.finding(
            title=f"The v2 compute namespace {namespace} is the v1 namespace of workspace {workspace}",
            explanation=(
                "\"The namespace for v1 compute follows the pattern: azureml-<workspace-name>\", and a v2 Kubernetes compute "
                "should not reuse it: v1's azureml-fe and the extension's inference operator would manage objects in the same "
                "namespace, and the v1 services there"
                + (f" ({', '.join(names[:5])})" if names else "") + " would share it with v2 deployments."
            ),
            evidence=[EvidenceItem("manifest.json#compute_namespace", namespace)]
            + [EvidenceItem(f"kubernetes/deployments.json#{n}", f"v1 web service in {namespace}") for n in names[:3]],
            fix=Fix(
                summary="Attach the cluster as a v2 Kubernetes compute with a namespace of its own.",
                steps=("kubectl create namespace <v2-namespace>",
                       "az ml compute attach --type Kubernetes -n <compute> --resource-id <cluster resource id> --namespace <v2-namespace> -w <workspace> -g <rg>"),
                verify=("az ml compute show -n <compute> -w <workspace> -g <rg> --query namespace",),
            ),
            subject=f"namespace/{namespace}",
            confidence=0.9,
        )
