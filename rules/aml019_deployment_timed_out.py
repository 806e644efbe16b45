from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import errorjson, kube, platform
from aml_doctor.engine.rule import excerpt

# Exact texts (https://github.com/Azure/MachineLearningNotebooks/issues/1767,
# https://github.com/Azure/azureml-sdk-for-r/issues/252, azureml-core's webservice.py): MMS gave up (DeploymentTimedOut, 504), or the SDK's own poll did.
_TIMED_OUT_TEXT = re.compile(
    r"polling has TimedOut|Timed out waiting for AKS deployment to complete|Deployment polling exceeded timeout override of \d+s"
)
_POLL_TIMEOUT = re.compile(r"pollTimeout : ([\d:]+)")


class DeploymentTimedOut(Rule):
    id = "AML019"
    name = "deployment-timed-out"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.OPERATION
    requires = ("text|azureml_service|operation",)
    signals = ("DeploymentTimedOut", "polling has TimedOut", "Timed out waiting for AKS deployment to complete", "Deployment polling exceeded timeout override")
    links = ("https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",)

    def check(self, ev):
        coded = platform.coded_errors(ev, ("DeploymentTimedOut",))
        texts = platform.lines(kube.scoring_logs(ev), _TIMED_OUT_TEXT)
        if not (coded or texts):
            return
        evidence: list[EvidenceItem] = []
        if coded:
            c = coded[0]
            status = f" ({c.error.status_code})" if c.error and c.error.status_code else ""
            evidence.append(EvidenceItem(c.locator, f"{c.code}{status}: {c.message}"[:500]))
        elif texts:
            evidence.append(excerpt(texts[0].doc, texts[0].line_no))
        state = errorjson.service_state(ev)
        if state:
            evidence.append(EvidenceItem(state[1], f"current service state: {state[0]}"))
        message = "\n".join([c.message for c in coded] + [h.line for h in texts])
        poll = _POLL_TIMEOUT.search(message)
        waited = f" after {poll.group(1)}" if poll else ""
        left = f" and left the service {state[0]}" if state else ""
        service = ev.service or "<service>"
        namespace = ev.namespace or "azureml-<workspace>"
        yield self.finding(
            title=f"AzureML gave up waiting for the deployment{waited}: a symptom, the cause is in the cluster",
            explanation=(
                f"AzureML gave up waiting; the cause is in the cluster. The deployment operation timed out{waited}{left}: "
                "the pods never became ready in time. A timeout says *that* the service did not come up, never *why*: "
                "an image that cannot be pulled, a volume that cannot be mounted, init() crashing, a pod that cannot be "
                "scheduled, probes failing or azureml-fe being down all end this way. Any other finding in this report "
                "explains it; without one, collect the pod's state and logs."
            ),
            evidence=evidence,
            subject="operation/timed-out",
            confidence=0.3,
            decide=(
                f"Look at the pods: `kubectl describe pod -n {namespace} -l azuremlappname={service}` (Events, Last State) and "
                "`print(service.get_logs())`; `aml-doctor collect` gathers both into a bundle this report can read."
            ),
            fix=Fix(
                summary="Collect the pods' state and logs and fix the failure they show; redeploying unchanged times out again.",
                steps=(
                    "aml-doctor collect   # pods, events, logs and storage into a bundle; then: aml-doctor analyze <bundle>",
                    f"kubectl describe pod -n {namespace} -l azuremlappname={service}",
                    f"kubectl get events -n {namespace} --sort-by=.lastTimestamp",
                    "print(service.get_logs()); print(service.get_logs(init=True))",
                ),
                verify=("service.wait_for_deployment(show_output=True) ends with state Healthy.",),
            ),
        )
