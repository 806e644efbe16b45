from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, platform
from aml_doctor.engine.rule import excerpt

# v1 answers 409 while "an operation is already in progress" (https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment); the SDK prints the MMS
# status as `Response Code: 409`; v2 cancels a pre-empted operation with OperationCanceled, and
# refuses a second one with OperationDuplicationConflict ("another operation on same entity is
# already running", as azure-ai-ml prints it in https://github.com/Azure/carnegie-mop's troubleshooting pages).
_CONFLICT = re.compile(
    r"an operation is already in progress|OperationDuplicationConflict|another operation on (?:the )?same entity is already running|"
    r"Response Code: 409\b|\b409\b[^\n]{0,30}\bconflict|\bconflict\b[^\n]{0,30}\b409\b|"
    r"[\"']statusCode[\"'][^\S\n]*:[^\S\n]*409\b",
    re.IGNORECASE,
)


class OperationConflict(Rule):
    id = "AML020"
    name = "operation-conflict"
    category = Category.OTHER
    severity = Severity.MEDIUM
    stage = Stage.CLUSTER
    requires = ("text|azureml_service|operation",)
    signals = ("already in progress", "Response Code: 409", "Conflict", "OperationCanceled", "already running")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        conflicts = platform.lines(kube.scoring_logs(ev), _CONFLICT)
        canceled = platform.coded_errors(ev, ("OperationCanceled",))
        if conflicts:
            yield self.finding(
                title="The request conflicts with an operation already in progress on the service (409)",
                explanation=(
                    "AzureML answered 409 Conflict: another create, update or delete of the same service is still "
                    "running (a second pipeline run, a retry, or a deployment started from the portal), and AzureML "
                    "runs one operation per service at a time. Nothing is wrong with the deployment itself."
                ),
                evidence=[excerpt(h.doc, h.line_no) for h in conflicts[:2]],
                subject="operation/409",
                confidence=0.85,
                fix=_fix(),
            )
        if canceled:
            c = canceled[0]
            yield self.finding(
                title="The deployment operation was canceled by AzureML (OperationCanceled)",
                explanation=(
                    "A v2 operation was canceled before it finished: a higher-priority operation on the same endpoint or "
                    "deployment pre-empted it, or it was still waiting for the lock another operation holds. Retrying "
                    "once the other operation finished is enough."
                ),
                evidence=[EvidenceItem(c.locator, f"{c.code}: {c.message}"[:400])],
                subject="operation/canceled",
                confidence=0.85,
                fix=_fix(),
            )


def _fix() -> Fix:
    return Fix(
        summary="Wait for the other operation to finish, then retry; do not run two deployments of one service at once.",
        steps=(
            "v1: service = Webservice(ws, '<service>'); print(service.state)   # wait until it is no longer Transitioning",
            "v2: az ml online-deployment show -e <endpoint> -n <deployment> --query provisioning_state   # wait for Succeeded/Failed",
            "Serialise CI: one pipeline run per service at a time (a concurrency lock or queue on the deploy stage).",
        ),
        verify=("Retry the operation: it is accepted (no 409 / OperationCanceled) and runs to a final state.",),
    )
