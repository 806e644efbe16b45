"""AML028: a NetworkPolicy stops azureml-fe reaching the model pods on 5001, or the pods reaching the identity proxy on 9999."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views


class NetworkPolicyBlocksExtension(Rule):
    id = "AML028"
    name = "network-policy-blocks-extension"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("networkpolicies", "pods")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    )

    def check(self, ev):
        if not v2views.is_kubernetes_v2(ev) or not ev.objects("networkpolicies"):
            return
        pods = v2views.deployment_pods(ev)
        if not pods:
            return
        pod = pods[0]
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace") or ev.namespace
        labels = meta.get("labels") or {}
        ext = v2views.extension_pods(ev)
        proxy = next((p for p in ext if v2views.is_identity_proxy(p)), None)
        router = next((p for p in ext if v2views.is_router_v2(p)), None)
        proxy_labels = ((proxy or {}).get("metadata") or {}).get("labels") or {"ml.azure.com/infra-app": "identity-proxy"}
        router_labels = ((router or {}).get("metadata") or {}).get("labels") or {"azuremlappname": "azureml-fe", "azuremlappversion": "v2"}
        container = v2views.scoring_container(pod) or {}
        port_names = {p.get("name") for p in container.get("ports") or [] if p.get("containerPort") == v2views.FE_PORT} - {None}

        token = v2views.blocked(ev, src_ns=ns, src_labels=labels, dst_ns=v2views.EXTENSION_NAMESPACE, dst_labels=proxy_labels,
                                port=v2views.IDENTITY_PROXY_PORT)
        if token:
            yield self._finding(ev, token, pod, "token", Stage.CLUSTER)
            return
        scoring = v2views.blocked(ev, src_ns=v2views.EXTENSION_NAMESPACE, src_labels=router_labels, dst_ns=ns, dst_labels=labels,
                                  port=v2views.FE_PORT, port_names=port_names)
        if scoring:
            yield self._finding(ev, scoring, pod, "scoring", Stage.RUN)

    def _finding(self, ev, blocks, pod, what, stage):
        pod_name = (pod.get("metadata") or {}).get("name", "")
        first = blocks[0]
        names = ", ".join(first.policies)
        if what == "token":
            title = f"NetworkPolicy {names} blocks the deployment's pods from the identity proxy (port 9999 in azureml)"
            effect = ("The storage initializer and the identity sidecar fetch their tokens from amlarc-identity-proxy in "
                      "`azureml` on port 9999; with that blocked, no model download can authenticate and the pod never leaves "
                      "`Init`.")
        else:
            title = f"NetworkPolicy {names} blocks azureml-fe from the deployment's pods (port 5001)"
            effect = ("azureml-fe-v2 in `azureml` forwards every scoring request to the model pods on port 5001; with that "
                      "blocked, the deployment looks healthy but requests time out or answer 502/503 from the router.")
        direction = ("egress from namespace " if first.direction == "egress" else "ingress into namespace ") + first.namespace
        return self.finding(
            title=title,
            explanation=(
                f"{effect} The {direction} is restricted by {names}, and none of its rules admits this connection "
                f"(pod {pod_name}). Microsoft documents both paths as required in-cluster traffic for the AzureML extension."
                + ("" if first.certain else " An `ipBlock` rule might admit it if it covers the pod IPs, which the evidence does not show.")
            ),
            evidence=[EvidenceItem(f"kubernetes/networkpolicies.json#{n}/spec", f"{first.direction} restricted; nothing allows "
                                   f"{'port 9999 to namespace azureml' if what == 'token' else 'port 5001 from namespace azureml'}")
                      for n in first.policies[:3]],
            fix=Fix(
                summary=("Allow egress to namespace azureml on TCP 9999" if what == "token" else "Allow ingress from namespace azureml on TCP 5001")
                + " in the compute namespace's NetworkPolicy, then let the pods restart.",
                steps=(
                    f"kubectl get networkpolicy -n {first.namespace} -o yaml",
                    ("Add an egress rule: to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: azureml}}}] ports: [{port: 9999, protocol: TCP}]"
                     if what == "token" else
                     "Add an ingress rule: from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: azureml}}}] ports: [{port: 5001, protocol: TCP}]"),
                    "Keep DNS (kube-dns in kube-system) allowed as well: the extension needs it.",
                ),
                verify=("az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer"
                        if what == "token" else "az ml online-endpoint invoke -n <endpoint> -d <deployment> --request-file sample.json",),
            ),
            subject=f"networkpolicy/{what}",
            stage=stage,
            confidence=0.9 if first.certain else 0.6,
        )
