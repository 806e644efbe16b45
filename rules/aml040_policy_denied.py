"""AML040: an organisation's policy refused a resource the deployment needs (Azure Policy, or the cluster's admission policy)."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.engine.signatures import with_signatures
from aml_doctor.views import kube, targets

# The ReplicaSet controller reports a pod it could not create as a FailedCreate event, "Error
# creating: <the API server's answer>". An admission policy's answer is Gatekeeper's or any other
# validating webhook's "admission webhook %q denied the request: %s" (k8s.io/apiserver, webhook
# errors), or Pod Security Admission's "violates PodSecurity %q: %s"
# (https://github.com/kubernetes/pod-security-admission/blob/master/admission/admission.go).
# A webhook that could not be called ("failed calling webhook") is a broken cluster, not a policy.
_DENIED = re.compile(r'admission webhook "(?P<hook>[^"]+)" denied the request|violates PodSecurity "(?P<level>[^"]+)"')
_GATEKEEPER = "validation.gatekeeper.sh"


@with_signatures(__file__)
class PolicyDenied(Rule):
    id = "AML040"
    name = "policy-denied"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("events|text|azureml_service|operation",)
    signals = ("denied the request",)
    links = (
        "https://learn.microsoft.com/azure/governance/policy/concepts/policy-for-kubernetes",
        "https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy",
    )

    def check(self, ev):
        refused = [e for e in kube.events_for_service(ev) if e.reason == "FailedCreate" and _DENIED.search(e.message)]
        if not refused:
            return  # a refusal pasted outside an event is one of the signatures beside this rule
        event = refused[0]
        match = _DENIED.search(event.message)
        hook, level = match.group("hook"), match.group("level")
        sig_id = "azure-policy-for-kubernetes-denied" if hook == _GATEKEEPER else "pod-security-admission" if level else ""
        sig = next((s for s in type(self).signatures if s.id == sig_id), None)
        what = "Pod Security Admission" if level else "Azure Policy for Kubernetes (Gatekeeper)" if sig else f"the admission webhook {hook}"
        times = f", {event.count} times" if event.count > 1 else ""
        owner = f"{event.kind or 'ReplicaSet'} {event.name}".strip() if event.name else "The ReplicaSet"
        yield self.finding(
            title=sig.title if sig else f"The admission webhook {hook} refused the deployment's pods",
            explanation=(
                f"{owner} could not create the scoring pod{times}: {what} refused it. "
                + (sig.explanation if sig else "A validating webhook enforces a cluster policy; its message says which rule the pod breaks. "
                   "No pod exists to pull, start or probe, and the deployment waits until it times out.")
            ),
            evidence=[EvidenceItem(e.locator, f"{e.reason}: {e.message}"[:600]) for e in refused[:2]],
            subject=f"policy/{sig_id or 'admission-webhook'}",
            confidence=0.9,
            mode=sig_id or "",
            fix=sig.fix(targets.guess(ev)) if sig else _webhook_fix(hook),
            links=((sig.source,) if sig else ()) + self.links,
        )


def _webhook_fix(hook: str) -> Fix:
    return Fix(
        summary=f"Read which rule of {hook} the pod breaks, then make the pod comply or exempt its namespace.",
        steps=(
            "kubectl get validatingwebhookconfigurations -o wide   # the webhook's owner and its namespaceSelector",
            "kubectl describe replicaset -n <namespace> <replicaset>   # the FailedCreate event's full message",
        ),
        verify=("kubectl get pods -n <namespace>   # the scoring pod is created",),
    )
