"""AML033: 'failed during initial provisioning and is in an unrecoverable state' is a consequence, never the cause."""

from __future__ import annotations

import re

from aml_doctor import Category, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt

UNRECOVERABLE = re.compile(r"failed during initial provisioning and is in an unrecoverable state", re.IGNORECASE)
_NAME = re.compile(r"Specified deployment \[([^\]]+)\]")


class UnrecoverableAfterFailedProvisioning(Rule):
    id = "AML033"
    name = "unrecoverable-after-failed-provisioning"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.OPERATION
    requires = ("text",)
    signals = ("failed during initial provisioning and is in an unrecoverable state",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",)

    def check(self, ev):
        for doc in ev.docs():
            hit = doc.first(UNRECOVERABLE)
            if not hit:
                continue
            m = _NAME.search(hit.line)
            name = m.group(1) if m else "<deployment>"
            yield self.finding(
                title=f"Deployment {name} is refused as 'unrecoverable': it failed once, and every retry gets this answer",
                explanation=(
                    f"AzureML answers \"Specified deployment [{name}] failed during initial provisioning and is in an "
                    "unrecoverable state. Delete and re-create.\" to any update of a deployment whose first creation "
                    "failed, whatever the update changes. It is a consequence of that first failure, never its cause, and it "
                    "arrives wrapped in other codes (InferencingClientCallFailed, BadRequest) that point elsewhere. The "
                    "first failure is in the pods' history and logs, or in the first operation's error "
                    "(`properties.AzureAsyncOperationUri` of the deployment, while it is still kept)."
                ),
                evidence=[excerpt(doc, hit.line_no)],
                fix=Fix(
                    summary="Find and fix the first failure, then delete the deployment and create it again; updating it cannot work.",
                    steps=(f"az ml online-deployment get-logs -e <endpoint> -n {name} -l 200   # and --container storage-initializer",
                           f"az ml online-deployment delete -e <endpoint> -n {name} --yes",
                           "az ml online-deployment create -f deployment.yml -e <endpoint>"),
                    verify=(f"az ml online-deployment show -e <endpoint> -n {name} --query provisioning_state   # Succeeded",),
                ),
                subject=f"unrecoverable/{name}",
                confidence=0.9,
            )
            return
