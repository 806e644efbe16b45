"""Which Azure ML platform the evidence comes from: parsed from the wrappers each SDK, CLI and
service prints, so that fixes and "what to collect next" speak that platform's commands.

v1 (azureml-core) wraps errors in ``WebserviceException`` with AKS or ACI error codes; v2
(azure-ai-ml, ``az ml`` v2) prints ``HttpResponseError: (Code) ...`` and names online endpoints
and deployments. Kubernetes online endpoints run the AzureML extension's ``storageinitializer``
and ``amlarc`` components; managed online endpoints have none of those.
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints
"""

from __future__ import annotations

import re

from aml_doctor.evidence.store import Evidence
from aml_doctor.evidence.textdoc import TextDoc, TextKind

AKS_V1 = "aks_v1"
ACI_V1 = "aci_v1"
K8S_V2 = "k8s_online_v2"
MANAGED_V2 = "managed_online_v2"

_MARKERS = (
    (K8S_V2, re.compile(
        r"storageinitializer|storage-initializer|amlarc|Microsoft\.AzureML\.Kubernetes|KubernetesCompute|"
        r"azureml-fe-v2|inference-operator|instancetype|ml\.azure\.com/|KubernetesOnlineDeployment|"
        r"compute:[^\S\n]*azureml:|ACRSecretError|TokenRefreshFailed|GetAADTokenFailed|NamespaceNotFound|"
        r"KubernetesUnaccessible|InferencingClientCallFailed|PodUnschedulable|PodOutOfMemory|"
        r"KubernetesCrashLoopBackOff|ImagePullLoopBackOff|k8s-extension", re.IGNORECASE)),
    (MANAGED_V2, re.compile(
        r"ManagedOnlineDeployment|ManagedOnlineEndpoint|managed online|online-deployment|online_deployments|"
        r"online-endpoint|online_endpoints|OnlineDeployment|OnlineEndpoint|HttpResponseError|azure\.ai\.ml|"
        r"inference\.ml\.azure\.com|azureml-inference-server-http|azureml_inference_server_http|"
        r"ResourceNotReady|BadArgument|SecretsInjectionError|instance_type|Standard_[A-Z]\w+_v\d|"
        # A prompt flow node's failure (promptflow's ToolExecutionError): flows deploy to v2 online endpoints only.
        r"Execution failure in '", re.IGNORECASE)),
    (ACI_V1, re.compile(r"AciDeploymentFailed|AciWebservice|\bACI\b|Azure Container Instance|azurecontainer\.io", re.IGNORECASE)),
    (AKS_V1, re.compile(
        r"KubernetesDeploymentFailed|AksWebservice|AksCompute|\bAKS\b|azureml-fe|azuremlappname|WebserviceException|"
        r"azureml\.core|Model\.deploy|wait_for_deployment|get_logs\(\)|/api/v1/service/|InitContainerConfig|"
        r"DeploymentTimedOut|az ml service", re.IGNORECASE)),
)


def guess(ev: Evidence) -> str:
    """The platform the evidence shows, or "" when it shows none. Cluster objects with an
    ``azuremlappname`` label and no extension marker are v1 AKS; v2 markers win over v1 ones,
    because a v2 paste often quotes v1-era wording but never the reverse."""
    return ev.derived("platform", lambda: _guess(ev))


def _guess(ev: Evidence) -> str:
    text = "\n".join(doc.text[:200_000] for doc in ev.docs())
    # As a TextDoc, the text is searched only on the lines that hold a marker's literal.
    joined = TextDoc.from_text("", TextKind.PASTED, text)
    for platform, pattern in _MARKERS:
        if joined.first(pattern) is not None:
            return platform
    if ev.objects("pods") or ev.objects("configmaps") or ev.service_json:
        return AKS_V1
    return ""


def is_v2(platform: str) -> bool:
    return platform in (K8S_V2, MANAGED_V2)
