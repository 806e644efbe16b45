"""AML036 (migrate-check): v1 and v2 scoring URLs are not segregated on one cluster, and names collide."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views


class SharedScoringUrls(Rule):
    id = "AML036"
    name = "shared-scoring-urls"
    category = Category.GATEWAY_TIMEOUT_OR_ROUTER_ERROR
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("deployments", "onlineendpoints")
    links = ("https://github.com/Azure/AML-Kubernetes/blob/master/docs/attach-compute-on-aks-v1-cluster.md",)

    def check(self, ev):
        if not v2views.migrate_check(ev):
            return
        services = {(d.get("metadata") or {}).get("name", ""): d for d in v2views.v1_services(ev)}
        endpoints = {(e.get("metadata") or {}).get("name", ""): e for e in ev.objects("onlineendpoints")}
        shared = sorted(set(services) & set(endpoints))
        if not shared:
            return
        name = shared[0]
        yield self.finding(
            title=f"v1 service and v2 endpoint share the name {name} on one cluster, whose scoring URLs are not segregated",
            explanation=(
                "On a cluster attached both as AksCompute (v1) and as Kubernetes compute (v2), \"the scoring URL for "
                "AKSCompute and the scoring URL for Kubernetes compute are not segregated. This means that both deployments "
                "can access and serve the models and online deployments that are registered on either compute\" "
                f"(Azure/AML-Kubernetes). A v2 endpoint with the same name as a v1 service ({', '.join(shared[:5])}) "
                "makes that overlap a question of which one answers."
            ),
            evidence=[EvidenceItem(f"kubernetes/deployments.json#{name}", f"v1 web service {name} in {(services[name].get('metadata') or {}).get('namespace')}"),
                      EvidenceItem(f"kubernetes/onlineendpoints.json#{name}", f"v2 online endpoint {name} in {(endpoints[name].get('metadata') or {}).get('namespace')}")],
            fix=Fix(
                summary="Give the v2 endpoint a name no v1 service uses, or retire the v1 service first.",
                steps=(f"az ml online-endpoint create -n {name}-v2 -f endpoint.yml   # then move the deployment and the clients",
                       f"after the clients moved: delete the v1 service {name} (its last SDK v1 operation)"),
                verify=("kubectl get deployments -A -l azuremlappname   # v1 services", "kubectl get onlineendpoints.amlarc.azureml.com -A"),
            ),
            subject=f"shared/{name}",
            confidence=0.8,
        )
