"""AML024: the SDK or CLI failed on the user's machine, before a request reached Azure ML."""

from __future__ import annotations

from aml_doctor import Category, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures


@with_signatures(__file__)
class ClientSideFailure(Rule):
    id = "AML024"
    name = "client-side-failure"
    category = Category.OTHER
    severity = Severity.HIGH
    # Before any deployment stage: nothing reached the service.
    stage = Stage.CLUSTER
    requires = ("text|operation",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-configure-cli",)

    def check(self, ev):
        # Every failure mode of this rule is an error text; they live in the signatures file beside it.
        return ()
