"""AML023: installing or updating the AzureML Kubernetes extension failed."""

from __future__ import annotations

from aml_doctor import Category, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures


@with_signatures(__file__)
class ExtensionInstallFailed(Rule):
    id = "AML023"
    name = "extension-install-failed"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("text|operation",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension",)

    def check(self, ev):
        # Every failure mode of this rule is an error text; they live in the signatures file beside it.
        return ()
