"""AML022: the control plane refused the request itself (a name, the endpoint, the deployment spec)."""

from __future__ import annotations

from aml_doctor import Category, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures


@with_signatures(__file__)
class RequestRejected(Rule):
    id = "AML022"
    name = "request-rejected"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("text|azureml_service|operation",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",)

    def check(self, ev):
        # Every failure mode of this rule is an error text; they live in the signatures file beside it.
        return ()
