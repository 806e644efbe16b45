"""AML038: AzureML's own service failed the v2 request (InternalServerError), nothing else known."""

from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.common.text import first_line
from aml_doctor.views import platform, targets

# The v2 troubleshooting page's code: "something isn't right on our side, and we need to fix it"
# (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-internalservererror).
# v1's Model Management Service answers 500 InternalServerError for failures of the user's own
# resources too (a wiped Key Vault access policy), so a v1 500 is not this rule's.
_CODE = "InternalServerError"


class ServiceInternalError(Rule):
    id = "AML038"
    name = "service-internal-error"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("text|azureml_service|operation",)
    signals = (_CODE,)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#error-internalservererror",)

    def check(self, ev):
        if targets.guess(ev) in (targets.AKS_V1, targets.ACI_V1):
            return
        errors = platform.coded_errors(ev, (_CODE,))
        if not errors:
            return
        yield self.finding(
            title="AzureML's own service failed the request (InternalServerError)",
            explanation=(
                "The v2 online-endpoint service answered InternalServerError: by the troubleshooting page, something "
                "is wrong on the service's side, not in the deployment. When the evidence names another cause, that "
                "cause ranks ahead of this finding."
            ),
            evidence=[EvidenceItem(e.locator, f"{e.code}: {first_line(e.message)}".rstrip(": ")[:400]) for e in errors[:2]],
            subject="service/internal-error",
            # Weak: the same code can wrap a failure the evidence does not show.
            confidence=0.45,
            alternatives=(Category.IMAGE_BUILD_FAILURE, Category.IMAGE_PULL_FAILURE),
            decide=(
                "Retry once; if it fails again, `az ml online-deployment get-logs -e <endpoint> -n <deployment>` and the "
                "deployment's operation details say whether a build, a pull or the service failed."
            ),
            fix=Fix(
                summary="Retry the operation; if it keeps failing, open an Azure support request with its details.",
                steps=(
                    "az ml online-deployment create|update ... again (the same request)",
                    "Open a support request with the error's correlation or request id, region, workspace and time.",
                ),
                verify=("az ml online-deployment show -e <endpoint> -n <deployment> --query provisioning_state   # Succeeded",),
            ),
        )
