from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import errorjson, kube, platform


@dataclass(frozen=True)
class _Failure:
    key: str
    pattern: re.Pattern
    title: str
    explanation: str
    steps: tuple[str, ...]
    verify: str
    # The extension's codes above E45000 are diagnostic, below critical (Azure/AML-Kubernetes
    # docs/troubleshooting.md): None keeps the rule's own severity.
    severity: Severity | None = None


_FE_PODS = "kubectl get pods -A -l azuremlappname=azureml-fe -o wide"
# A failed v2 deployment answers every retry with InferencingClientCallFailed around this phrase.
_UNRECOVERABLE_RETRY = re.compile(r"failed during initial provisioning and is in an unrecoverable state", re.IGNORECASE)
# Exact strings and codes (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints, https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-compute,
# https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md). E40007 (TLS) belongs to AML017.
_FAILURES = (
    _Failure(
        "scoring-fe",
        re.compile(r"Retries exceeded in deploy scoring FE"),
        "AzureML could not deploy azureml-fe on the cluster (Retries exceeded in deploy scoring FE)",
        "Creating or attaching the AKS compute deploys the azureml-fe router into the cluster; that step failed. "
        "An API server with authorized IP ranges that exclude AzureML's control plane, a policy that blocks the "
        "load balancer, or a Kubernetes version AzureML does not support are the documented reasons.",
        (
            _FE_PODS,
            "az aks show -n <cluster> -g <rg> --query '{version:kubernetesVersion, ipRanges:apiServerAccessProfile.authorizedIpRanges}'",
            "Allow the AzureML control plane in the authorized IP ranges, then detach and re-attach the compute.",
        ),
        "The compute shows provisioningState Succeeded and azureml-fe pods are Running.",
    ),
    _Failure(
        "cluster-unreachable",
        re.compile(r"\b(?:ClusterNotReachable|ClusterNotFound|GenericClusterError)\b"),
        "AzureML cannot reach the Kubernetes cluster",
        "AzureML's control plane cannot talk to the cluster: the AKS cluster is stopped, deleted, or its API server "
        "does not let AzureML in. No deployment can progress until it can.",
        (
            "az aks show -n <cluster> -g <rg> --query '{power:powerState.code, state:provisioningState}'",
            "az aks start -n <cluster> -g <rg>   # when powerState is Stopped",
            "Check the API server's authorized IP ranges and private-cluster DNS.",
        ),
        "az aks show ... shows powerState Running; az ml compute show shows the compute Succeeded.",
    ),
    _Failure(
        "compute",
        re.compile(r"\b(?:ComputeNotAccessible|ComputeNotFound|InvalidComputeInformation|InvalidComputeNoKubernetesConfiguration)\b"),
        "The Kubernetes compute target is missing, detached or not accessible",
        "The workspace's compute target for this deployment does not exist any more, or AzureML cannot use it "
        "(detached, or its stored cluster configuration is invalid).",
        (
            "az ml compute show -n <compute> -w <workspace> -g <rg>",
            "Re-attach the cluster: az ml compute attach --type Kubernetes ... (v2) or AksCompute.attach_configuration (v1).",
        ),
        "az ml compute show reports provisioning_state Succeeded; redeploy.",
    ),
    _Failure(
        "fe-unhealthy",
        re.compile(r"\bScoringFeUnhealthy\b|azureml-fe not ready|\bE4000[45]\b|AZUREML_FE_(?:DEPLOYMENT_NOT_FOUND|SCALE_UP_TIMEOUT)"),
        "The azureml-fe router is not healthy",
        "azureml-fe routes every scoring request on the cluster; AzureML reports it missing, not ready or unable to scale "
        "up, so deployments cannot be reached or completed.",
        (_FE_PODS, "kubectl describe pod -n <namespace> <azureml-fe pod>", "Update or reinstall the AzureML extension (v2), or re-attach the compute (v1)."),
        "azureml-fe pods are Running with every container ready.",
    ),
    _Failure(
        "relay",
        re.compile(r"\bInferencingClientCallFailed\b"),
        "AzureML's call into the cluster's inference components failed (InferencingClientCallFailed)",
        "The control plane could not call the extension's inference components in the cluster; on Arc-connected "
        "clusters this goes through the relayserver pods.",
        ("kubectl get pods -n azureml   # relayserver, gateway, inference-operator Running?", "Re-attach the compute if they are healthy."),
        "kubectl get pods -n azureml shows every pod Running; redeploy.",
    ),
    _Failure(
        "certificate",
        re.compile(r"\bKubernetesUnaccessible\b|\bInvalidCertificate\b"),
        "AzureML cannot authenticate to the cluster's API server (InvalidCertificate)",
        "AzureML holds a cluster certificate that the API server no longer accepts, typically after the AKS "
        "certificates were rotated or expired.",
        ("az aks rotate-certs -n <cluster> -g <rg>", "Wait for AzureML to pick up the new certificate (Microsoft documents up to 5 hours), then redeploy."),
        "The deployment proceeds past creation; no KubernetesUnaccessible error.",
    ),
    _Failure(
        "fe-conflict",
        re.compile(r"\bE4500[45]\b|AZUREML_FE_(?:ROLE|DEPLOYMENT)_CONFLICT|invalid ownership metadata"),
        "A v1 azureml-fe already on the cluster blocks the AzureML extension",
        "The extension installs its own azureml-fe and refuses to take over the v1 one (Helm: `invalid ownership "
        "metadata`).",
        (
            "Remove the v1 azureml-fe resources (the v1 services must be migrated first), or",
            "kubectl annotate the v1 azureml-fe objects with azureml-fe-enable-upgrade=true and install the extension with --config scoringFe.enableUpgrade=true",
        ),
        "helm test -n azureml <extension> --logs passes; the extension's provisioningState is Succeeded.",
        Severity.MEDIUM,
    ),
    _Failure(
        "load-balancer",
        # A policy that forbids the load balancer's public IP is AML040's: the cluster is fine.
        re.compile(r"\bE40001\b|LOAD_BALANCER_NOT_SUPPORT"),
        "The azureml-fe load balancer cannot be created",
        "azureml-fe needs a LoadBalancer service, and the cluster does not support LoadBalancer services.",
        (
            "Use an internal load balancer: AksCompute.provisioning_configuration(load_balancer_type='InternalLoadBalancer') (v1), "
            "or inferenceRouterServiceType=NodePort/ClusterIP (v2 extension).",
        ),
        "kubectl get svc azureml-fe -A shows an EXTERNAL-IP (or the chosen service type).",
    ),
    _Failure(
        "extension-health",
        re.compile(r"\bE40002\b|INSUFFICIENT_NODE|AGENT_UNHEALTHY|Failed pre-install: pod healthcheck failed"),
        "The AzureML extension's health check failed",
        "The extension's health check (ConfigMap arcml-healthcheck) found the cluster unfit: too few nodes, an "
        "unhealthy agent, or no network path to the AzureML service.",
        (
            "kubectl get configmap arcml-healthcheck -n azureml -o yaml",
            "helm test -n azureml <extension> --logs",
            "From an azureml-fe pod: nslookup <workspace_id>.workspace.<region>.api.azureml.ms",
        ),
        "helm test -n azureml <extension> --logs passes.",
    ),
    _Failure(
        "extension-health-diagnostic",
        re.compile(r"\bE4500[13]\b|BAD_NETWORK_CONNECTIVITY"),
        "The AzureML extension's health check reports a diagnostic error",
        "The health check reports a diagnostic error (a code above E45000): the extension installs, but the "
        "cluster has no network path to the AzureML service, which inference needs.",
        (
            "kubectl get configmap arcml-healthcheck -n azureml -o yaml",
            "From an azureml-fe pod: nslookup <workspace_id>.workspace.<region>.api.azureml.ms",
            "Open the network requirements: https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall",
        ),
        "helm test -n azureml <extension> --logs passes.",
        Severity.MEDIUM,
    ),
)


@with_signatures(__file__)
class ClusterOrFrontendUnhealthy(Rule):
    id = "AML018"
    name = "cluster-or-frontend-unhealthy"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("pods|nodes|configmaps|text|azureml_service|operation",)
    signals = (
        "Retries exceeded in deploy scoring FE",
        "ClusterNotReachable",
        "ClusterNotFound",
        "ComputeNotAccessible",
        "ComputeNotFound",
        "ScoringFeUnhealthy",
        "azureml-fe not ready",
        "InferencingClientCallFailed",
        "KubernetesUnaccessible",
        "InvalidCertificate",
        "AZUREML_FE_",
        "invalid ownership metadata",
        "pod healthcheck failed",
    )
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-compute",
        "https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        structured = list(_structured_texts(ev))
        for failure in _FAILURES:
            if failure.key == "relay" and _UNRECOVERABLE_RETRY.search("\n".join(d.text for d in ev.docs())):
                continue  # the v2 retry's answer wraps this code; the first failure is the cause (AML033)
            found = [EvidenceItem(h.locator, h.line.strip()) for h in platform.lines(docs, failure.pattern)]
            found += [EvidenceItem(loc, line) for loc, line in structured if failure.pattern.search(line)]
            if found:
                yield self.finding(
                    title=failure.title,
                    severity=failure.severity,
                    explanation=failure.explanation,
                    evidence=_unique(found)[:3],
                    subject=f"cluster/{failure.key}",
                    confidence=0.9,
                    fix=Fix(summary=failure.title.split(" (")[0] + ": fix the cluster before redeploying.", steps=failure.steps, verify=(failure.verify,)),
                )
        broken = [(res, pod, platform.pod_problem(pod)) for res, pod in platform.frontend_pods(ev)]
        broken = [b for b in broken if b[2]]
        if broken:
            yield self._frontend_pods(ev, broken)
        nodes = platform.not_ready_nodes(ev)
        if nodes:
            yield self._nodes(ev, nodes)

    def _frontend_pods(self, ev, broken):
        names = ", ".join(f"{p['metadata'].get('name')} ({why})" for _, p, why in broken[:3])
        namespace = broken[0][1]["metadata"].get("namespace", "<namespace>")
        return self.finding(
            title=f"azureml-fe is not running: {names}",
            explanation=(
                "azureml-fe routes every scoring request on the cluster and reports replica health to AzureML. With "
                "its pods not running, no service on the cluster can be reached, and a deployment cannot reach Healthy."
            ),
            evidence=[
                EvidenceItem(ev.object_locator(res, pod, "status"), f"phase: {(pod.get('status') or {}).get('phase', '?')}; {why}")
                for res, pod, why in broken[:3]
            ],
            subject="azureml-fe/pods",
            confidence=0.85,
            fix=Fix(
                summary="Get azureml-fe running again before redeploying the service.",
                steps=(
                    f"kubectl describe pod -n {namespace} -l azuremlappname=azureml-fe",
                    f"kubectl logs -n {namespace} -l azuremlappname=azureml-fe --all-containers --previous",
                    "v2: update or reinstall the AzureML extension; v1: detach and re-attach the compute.",
                ),
                verify=(f"kubectl get pods -n {namespace} -l azuremlappname=azureml-fe   # all Running, every container ready",),
            ),
        )

    def _nodes(self, ev, nodes):
        service_nodes = {(p.get("spec") or {}).get("nodeName") for p in kube.service_pods(ev)}
        hosts_service = [n for n, _, _ in nodes if n["metadata"].get("name") in service_nodes]
        names = ", ".join(n["metadata"].get("name", "?") for n, _, _ in nodes[:3])
        return self.finding(
            title=f"{len(nodes)} node(s) NotReady: {names}",
            explanation=(
                "Kubernetes reports these nodes NotReady: pods on them stop and new pods are not placed there."
                + (" The service's own pods run on one of them." if hosts_service else "")
            ),
            evidence=[
                EvidenceItem(
                    ev.object_locator("nodes", n, f"status.conditions[{i}]"),
                    f"Ready={c.get('status')} reason={c.get('reason', '')} message={c.get('message', '')}",
                )
                for n, c, i in nodes[:3]
            ],
            subject="cluster/nodes",
            confidence=0.85 if hosts_service else 0.6,
            fix=Fix(
                summary="Bring the nodes back (or replace them) before redeploying.",
                steps=(
                    "kubectl describe node <node>   # Conditions, Events",
                    "az aks nodepool show -n <pool> --cluster-name <cluster> -g <rg>",
                    "Restart or reimage the node: az vmss restart / az vmss reimage on the node pool's scale set.",
                ),
                verify=("kubectl get nodes   # every node Ready",),
            ),
        )


def _structured_texts(ev):
    """(locator, line) for the error codes and messages of service.json and the health-check ConfigMap's lines."""
    for err in errorjson.azureml_errors(ev):
        if err.locator.startswith("azureml/service.json"):
            for code, message in [(err.code, err.message)] + [(d.code, d.message) for d in err.details]:
                yield err.locator, f"{code}: {message}"
    for cm in ev.objects("configmaps"):
        for key, value in (cm.get("data") or {}).items():
            if isinstance(value, str) and re.search(r"\bE4\d{4}\b", value):
                for line in value.splitlines():
                    yield ev.object_locator("configmaps", cm, f"data.{key}"), line.strip()


def _unique(items):
    seen, out = set(), []
    for item in items:
        if (item.locator, item.excerpt) not in seen:
            seen.add((item.locator, item.excerpt))
            out.append(item)
    return out
