"""AML026: the storage initializer gets no token from the extension's identity proxy."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views
from aml_doctor.engine.rule import excerpt

_TOKEN_ERROR = re.compile(r"(?:token|credential|identity)[^\n]{0,160}?(?:fail|error|refused|timed? ?out|denied|unavailable|\b[45]\d\d\b)"
                          r"|(?:fail|error|unable)[^\n]{0,80}?(?:token|credential endpoint|identity-proxy)", re.IGNORECASE)


class StorageInitializerTokenFailed(Rule):
    id = "AML026"
    name = "storage-initializer-token-failed"
    category = Category.AUTH_ERROR
    severity = Severity.CRITICAL
    stage = Stage.DOWNLOAD
    requires = ("pods|azureml_init_logs|container_logs", "extension-pods|azureml_init_logs|container_logs")
    signals = ("amlarc-identity-proxy", "STORAGE_CREDENTIAL_ENDPOINT", "sidecar_token")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
        "https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall",
    )

    def check(self, ev):
        if not v2views.is_kubernetes_v2(ev):
            return
        inits = list(v2views.storage_initializers(ev))
        failing = [i for i in inits if i.failing]
        if inits and not failing:
            return
        proxies = [p for p in v2views.extension_pods(ev) if v2views.is_identity_proxy(p)]
        down = [(p, why) for p in proxies if (why := v2views.pod_not_serving(p))]
        log_hit = None
        for doc in v2views.storage_init_logs(ev, failing[0] if failing else None):
            hit = doc.first(_TOKEN_ERROR)
            if hit:
                log_hit = (doc, hit)
                break
        if not down and log_hit is None:
            return
        init = failing[0] if failing else None
        endpoint = init.env("STORAGE_CREDENTIAL_ENDPOINT") if init else ""
        items = []
        if init:
            items.append(EvidenceItem(init.locator, f"STORAGE_CREDENTIAL_ENDPOINT: {endpoint}; STORAGE_CREDENTIAL_TYPE: {init.env('STORAGE_CREDENTIAL_TYPE')}"))
        if log_hit:
            items.append(excerpt(log_hit[0], log_hit[1].line_no))
        for pod, why in down[:2]:
            items.append(EvidenceItem(f"kubernetes/extension-pods.json#{pod['metadata']['name']}/status", why))
        # A NetworkPolicy that cuts the pods off from the proxy is the cause then (AML028 reports it).
        blocked = bool(init) and bool(v2views.blocked(
            ev, src_ns=init.pod.get("metadata", {}).get("namespace", ev.namespace), src_labels=(init.pod.get("metadata") or {}).get("labels") or {},
            dst_ns=v2views.EXTENSION_NAMESPACE, dst_labels=(proxies[0].get("metadata") or {}).get("labels") or {} if proxies else {},
            port=v2views.IDENTITY_PROXY_PORT))
        confidence = 0.95 if down and (init or log_hit) else (0.85 if log_hit and init else 0.7)
        if blocked and not down:
            confidence = 0.45
        where = f"pod {init.pod_name}'s storage initializer `{init.name}`" if init else "the storage initializer"
        down_text = "; ".join(f"{p['metadata']['name']} {why}" for p, why in down[:2])
        yield self.finding(
            title=("The identity proxy is not running, so the storage initializer gets no token"
                   if down else "The storage initializer cannot get a token from the identity proxy"),
            explanation=(
                f"On Kubernetes online endpoints {where} authenticates to the storage account with a token from the "
                f"extension's identity proxy (`STORAGE_CREDENTIAL_TYPE=Amlarc`, `{endpoint or 'amlarc-identity-proxy-service.azureml'}`), "
                "not with an account key. "
                + (f"The proxy's pods in `azureml` are not serving: {down_text}. "
                   if down else "Its output shows the token request failing. ")
                + "Without a token every download fails, so the initializer exits and the inference server never starts. "
                "The proxy gets its own credential from the cluster's identity; AzureML reports the same failure as "
                "`TokenRefreshFailed` or `GetAADTokenFailed` when the deployment gives up."
                + (" A NetworkPolicy that blocks port 9999 to `azureml` explains this better (AML028)." if blocked and not down else "")
            ),
            evidence=items,
            fix=Fix(
                summary="Get amlarc-identity-proxy running and able to reach Microsoft Entra ID, then let the pod restart.",
                steps=(
                    "kubectl get pods -n azureml -l ml.azure.com/infra-app=identity-proxy -o wide",
                    "kubectl logs -n azureml deploy/amlarc-identity-proxy --all-containers --tail=200",
                    "Allow the cluster's egress to login.microsoftonline.com and the workspace (outbound proxy, firewall, private link).",
                    "Repair the extension: az k8s-extension update --name <extension> --cluster-type managedClusters --cluster-name <cluster> -g <rg> "
                    "(or delete and create it again if the cluster identity changed)",
                ),
                verify=("az ml online-deployment get-logs -e <endpoint> -n <deployment> --container storage-initializer",
                        "kubectl get pods -n <namespace> -l isazuremlapp=true   # Init:0/1 turns into Running"),
            ),
            subject="identity-proxy",
            confidence=confidence,
            alternatives=(Category.CLUSTER_OR_COMPUTE_UNHEALTHY,),
        )
