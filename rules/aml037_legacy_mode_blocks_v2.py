"""AML037 (migrate-check): the workspace has v1_legacy_mode on (a private endpoint), which blocks v2 APIs."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import v2views


class LegacyModeBlocksV2(Rule):
    id = "AML037"
    name = "legacy-mode-blocks-v2"
    category = Category.AUTH_ERROR
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("text|deployments|frontend-pods|onlineendpoints",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-migrate-from-v1",
             "https://learn.microsoft.com/azure/machine-learning/how-to-configure-network-isolation-with-v2")

    def check(self, ev):
        if not v2views.migrate_check(ev):
            return
        info = v2views.workspace_info(ev)
        if info.get("v1_legacy_mode") is not True:
            return
        private = int(info.get("private_endpoints") or 0)
        yield self.finding(
            title=f"Workspace {info.get('name') or ev.manifest.workspace} has v1_legacy_mode on: v2 APIs (az ml v2, azure-ai-ml) are blocked",
            explanation=(
                "\"If your workspace uses a private endpoint, it will automatically have the v1_legacy_mode flag enabled, "
                "preventing usage of v2 APIs\" (how-to-migrate-from-v1). No Kubernetes or managed online endpoint can be "
                "created until it is off"
                + (f"; this workspace has {private} private endpoint connection(s)" if private else "") + "."
            ),
            evidence=[EvidenceItem("manifest.json#workspace_info", f"v1LegacyMode: true, publicNetworkAccess: {info.get('public_network_access')}, "
                                                                    f"private endpoints: {private}")],
            fix=Fix(
                summary="Turn v1_legacy_mode off on the workspace (Microsoft's network-isolation-with-v2 article), then use v2.",
                steps=("from azureml.core import Workspace; Workspace.get(...).update(v1_legacy_mode=False)   # azureml-core, per the article",
                       "check the private endpoint's DNS for the v2 endpoints afterwards (the same article)"),
                verify=("az resource show --ids <workspace resource id> --query properties.v1LegacyMode",),
            ),
            subject="v1-legacy-mode",
            confidence=0.9,
        )
