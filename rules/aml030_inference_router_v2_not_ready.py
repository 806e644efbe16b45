"""AML030: azureml-fe-v2, the AzureML extension's inference router, is not ready or cannot be scheduled."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views

_ANTI_AFFINITY = re.compile(r"didn't match pod anti-affinity rules|didn't satisfy existing pods anti-affinity", re.IGNORECASE)


class InferenceRouterV2NotReady(Rule):
    id = "AML030"
    name = "inference-router-v2-not-ready"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("extension-pods|frontend-pods",)
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-badargument",
        "https://learn.microsoft.com/azure/machine-learning/how-to-kubernetes-inference-routing-azureml-fe",
        "https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md",
    )

    def check(self, ev):
        routers = [p for p in v2views.extension_pods(ev) if v2views.is_router_v2(p)]
        if not routers:
            return
        down = [(p, why) for p in routers if (why := v2views.pod_not_serving(p))]
        if not down:
            return
        serving = len(routers) - len(down)
        pending = [(p, why) for p, why in down if why.startswith("Pending")]
        anti = any(_ANTI_AFFINITY.search(why) for _, why in pending) or any(
            _ANTI_AFFINITY.search(str(e.get("message") or "")) for e in ev.objects("extension-events") if e.get("reason") == "FailedScheduling")
        nodes = len(ev.objects("nodes"))
        health = [h for h in v2views.health_failures(ev) if h[1] in ("E40002", "E40004", "E40005", "E40006")]
        deployment = v2views.extension_deployment(ev, "azureml-fe-v2")
        items = [EvidenceItem(f"kubernetes/extension-pods.json#{p['metadata']['name']}/status", why) for p, why in down[:3]]
        if deployment:
            st = deployment.get("status") or {}
            items.append(EvidenceItem("kubernetes/extension-deployments.json#azureml-fe-v2/status",
                                      f"replicas {st.get('replicas', '?')}, ready {st.get('readyReplicas', 0)}"))
        for checker, code, message, severity, locator in health[:2]:
            items.append(EvidenceItem(locator, f"health check {checker}: {code} {message} ({severity})"))
        if pending and (anti or any(h[1] == "E40002" for h in health)):
            title = f"azureml-fe-v2 cannot place its replicas: {len(pending)} Pending on a {nodes or '?'}-node cluster (inferenceRouterHA)"
            cause = ("The extension runs the router highly available (`inferenceRouterHA`, the default), which spreads its "
                     "replicas one per node; the cluster has fewer nodes than replicas, so the rest stay Pending "
                     "(E40002 INSUFFICIENT_NODE: HA 'requires at least three nodes').")
            fix = Fix(
                summary="Turn the router's HA off on a small cluster, or add nodes.",
                steps=("az k8s-extension update --name <extension> --extension-type Microsoft.AzureML.Kubernetes --cluster-type managedClusters "
                       "--cluster-name <cluster> -g <rg> --config inferenceRouterHA=False",
                       "Or scale the cluster to at least three nodes: az aks scale -g <rg> -n <cluster> --node-count 3"),
                verify=("kubectl get pods -n azureml -l azuremlappname=azureml-fe,azuremlappversion=v2",),
            )
        elif pending:
            title = f"azureml-fe-v2 cannot be scheduled: {pending[0][1]}"
            cause = "The router's pods find no node (CPU, memory or taints), so no scoring request can be routed."
            fix = Fix(
                summary="Free or add node capacity for the router, then let its pods schedule.",
                steps=("kubectl describe pods -n azureml -l azuremlappname=azureml-fe", "az aks scale -g <rg> -n <cluster> --node-count <n>"),
                verify=("kubectl get pods -n azureml -l azuremlappname=azureml-fe,azuremlappversion=v2",),
            )
        else:
            title = f"azureml-fe-v2 is not ready: {down[0][0]['metadata']['name']} {down[0][1]}"
            cause = "A container of the router's pod is crash-looping or not ready, so it cannot route scoring requests."
            fix = Fix(
                summary="Read the failing router container's log, then update or repair the extension.",
                steps=(f"kubectl logs -n azureml {down[0][0]['metadata']['name']} --all-containers --previous --tail=200",
                       "az k8s-extension update --name <extension> --cluster-type managedClusters --cluster-name <cluster> -g <rg> "
                       "(a newer extension version, or the same one to repair it)",
                       "kubectl get configmap arcml-healthcheck -n azureml -o yaml   # the extension's own health report"),
                verify=("kubectl get pods -n azureml -l azuremlappname=azureml-fe,azuremlappversion=v2   # every container ready",),
            )
        yield self.finding(
            title=title,
            explanation=(
                "azureml-fe-v2 in namespace `azureml` is the extension's inference router: every scoring request to a "
                f"Kubernetes online endpoint passes through it. {cause} "
                + (f"{serving} of {len(routers)} router pod(s) still serve. " if serving else "None of its pods serves. ")
                + "AzureML refuses or fails deployments while it is unhealthy ('Azureml-fe for kubernetes online endpoint "
                "isn't ready', `ScoringFeUnhealthy`)."
            ),
            evidence=items,
            fix=fix,
            subject="azureml-fe-v2",
            confidence=0.95 if not serving or (pending and (anti or health)) else 0.8,
        )
