"""AML031: a Kubernetes online deployment uses a model from a registry (the model catalog)."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views
from aml_doctor.evidence.textdoc import TextKind


class RegistryAssetOnKubernetes(Rule):
    id = "AML031"
    name = "registry-asset-on-kubernetes"
    category = Category.OTHER
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("azureml_service|onlinedeployments|text",)
    signals = ("azureml://registries/",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-attach-kubernetes-anywhere",)

    def check(self, ev):
        if not v2views.is_kubernetes_v2(ev):
            return
        found = self._from_state(ev) or self._from_text(ev)
        if not found:
            return
        locator, ref, registry, name, version = found
        yield self.finding(
            title=f"Kubernetes online endpoints do not support registry models: {ref}",
            explanation=(
                f"The deployment's model is `{name}`" + (f" version {version}" if version else "")
                + f" from registry `{registry}`. Microsoft documents that \"Models (including the foundational model) "
                "from the Model Catalog and Registry aren't supported on Kubernetes online endpoints\"; the "
                "deployment cannot download it, whatever else is right. Only workspace models (`azureml:<name>:<version>`) "
                "work on a Kubernetes compute."
            ),
            evidence=[EvidenceItem(locator, f"model: {ref}")],
            fix=Fix(
                summary="Copy the model into the workspace and deploy the workspace copy, or deploy the registry model to a managed online endpoint.",
                steps=(
                    f"az ml model download --name {name}" + (f" --version {version}" if version else "") + f" --registry-name {registry} --download-path ./{name}",
                    f"az ml model create --name {name}" + (f" --version {version}" if version else "") + f" --path ./{name}/{name} -w <workspace> -g <rg>",
                    f"Set `model: azureml:{name}:{version or '<version>'}` in deployment.yml, then az ml online-deployment create -f deployment.yml",
                    "Or create a managed online endpoint for it: az ml online-endpoint create -n <endpoint> (managed is the default)",
                ),
                verify=("az ml online-deployment show -e <endpoint> -n <deployment> --query model",),
            ),
            subject=f"registry-model/{registry}/{name}",
            confidence=0.9,
        )

    @staticmethod
    def _from_state(ev):
        state = v2views.deployment_state(ev)
        candidates = [("azureml/service.json#model", state.get("model"))]
        for cr in ev.objects("onlinedeployments"):
            for key, value in ((cr.get("spec") or {}).items()):
                candidates.append((f"kubernetes/onlinedeployments.json#{(cr.get('metadata') or {}).get('name', '')}/spec.{key}", value))
        for locator, value in candidates:
            if isinstance(value, str):
                m = v2views.REGISTRY_ASSET.search(value)
                if m and m.group(2).lower() == "models":
                    return locator, m.group(0), m.group(1), m.group(3), m.group(4) or ""
        return None

    @staticmethod
    def _from_text(ev):
        for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
            for hit in doc.search(v2views.REGISTRY_ASSET):
                m = hit.match
                if m.group(2).lower() == "models" and "model" in hit.line.lower().split("azureml://")[0]:
                    return hit.locator, m.group(0), m.group(1), m.group(3), m.group(4) or ""
        return None
