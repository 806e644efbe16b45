"""AML034 (migrate-check): a v1 azureml-fe outside `azureml` makes the v2 extension's install fail."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views


class V1FrontendBlocksExtension(Rule):
    id = "AML034"
    name = "v1-frontend-blocks-extension"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("deployments|frontend-pods",)
    links = ("https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md",
             "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension")

    def check(self, ev):
        if not v2views.migrate_check(ev):
            return
        found = v2views.v1_frontends(ev)
        if not found:
            return
        namespaces = sorted({(o.get("metadata") or {}).get("namespace", "?") for _, o in found})
        items = [EvidenceItem(f"kubernetes/{res}.json#{(o.get('metadata') or {}).get('name')}", f"azuremlappname=azureml-fe in namespace "
                              f"{(o.get('metadata') or {}).get('namespace')}") for res, o in found[:3]]
        yield self.finding(
            title=f"A v1 azureml-fe runs in {', '.join(namespaces)}: installing the AzureML extension will fail (E45004/E45005)",
            explanation=(
                "The extension installs its own router and refuses to take over the v1 one: its health check fails with "
                "E45004 AZUREML_FE_ROLE_CONFLICT / E45005 AZUREML_FE_DEPLOYMENT_CONFLICT, and Helm reports "
                "'... exists and cannot be imported into the current release: invalid ownership metadata'. Users hit it as "
                "'Status: Failed Name: inferencev1 ErrorCode: E45005 ErrorMessage: Azureml Fe deployment confict' with "
                "inference-operator-controller-manager never created (Azure/AML-Kubernetes#293). Codes from E45000 up are "
                "diagnostic, but this one stops the inference part of the install."
            ),
            evidence=items,
            fix=Fix(
                summary="Let the extension adopt the v1 azureml-fe, or remove it once the v1 services are migrated.",
                steps=(
                    "kubectl annotate deployment,service,serviceaccount,configmap -n default -l azuremlappname=azureml-fe azureml-fe-enable-upgrade=true",
                    "az k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes --cluster-type managedClusters "
                    "--cluster-name <cluster> -g <rg> --scope cluster --config enableInference=True scoringFe.enableUpgrade=true ...",
                    "Or, after migrating the v1 services: delete the azureml-fe objects in default, then install the extension.",
                ),
                verify=("helm test -n azureml <extension> --logs", "kubectl get pods -n azureml -l azuremlappname=azureml-fe,azuremlappversion=v2"),
            ),
            subject="v1-azureml-fe",
            confidence=0.9,
        )
