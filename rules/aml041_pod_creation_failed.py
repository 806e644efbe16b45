"""AML041: the Deployment's ReplicaSet cannot create the scoring pod (FailedCreate), for a reason of the cluster's own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import kube


@dataclass(frozen=True)
class _Refusal:
    key: str
    mode: str
    pattern: re.Pattern
    title: str
    explanation: str
    steps: tuple[str, ...]
    verify: str


# The ReplicaSet controller reports a pod the API server would not create as a FailedCreate event,
# "Error creating: <the API server's answer>". The answers read here are the API server's own:
# - a webhook it could not call, "failed calling webhook %q: %w" (k8s.io/apiserver, webhook errors);
# - a namespace ResourceQuota, "exceeded quota: %s, requested: %s, used: %s, limited: %s" (the
#   ResourceQuota admission plugin; https://kubernetes.io/docs/concepts/policy/resource-quotas/);
# - a service account that does not exist, "error looking up service account %s/%s: %v" (the
#   ServiceAccount admission plugin).
# A policy that refuses the pod ("admission webhook ... denied the request", "violates PodSecurity")
# is AML040's.
_REFUSALS = (
    _Refusal(
        "webhook-unreachable",
        "admission-broken",
        re.compile(r'failed calling webhook "(?P<what>[^"]+)"'),
        "The cluster's admission webhook {what} fails, so no pod can be created",
        "Every pod the API server creates passes through the cluster's mutating and validating webhooks. The "
        "webhook {what} did not answer (its service has no ready endpoints, its pods crash, or the network "
        "blocks the API server from reaching it) or failed while handling the request, and with its "
        "failurePolicy Fail the API server refuses the pod. The deployment's ReplicaSet retries and the deployment times out; the model "
        "and score.py are never reached.",
        (
            "kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations   # who owns {what}",
            "kubectl get pods -A -o wide | grep -i -v Running   # the webhook's own pods, and why they are down",
            "kubectl describe mutatingwebhookconfiguration <name>   # its service, namespace and failurePolicy",
        ),
        "kubectl get events -n <namespace> --field-selector reason=FailedCreate   # no new events; the scoring pod exists",
    ),
    _Refusal(
        "namespace-quota",
        "namespace-quota",
        re.compile(r"exceeded quota: (?P<what>[\w.-]+)(?P<detail>, requested: .*?, limited: [^\s\"]+)?"),
        "The namespace's ResourceQuota {what} has no room for the scoring pod",
        "The namespace the deployment runs in has a Kubernetes ResourceQuota, {what}, and the scoring pod's "
        "requests or limits would take the namespace over it{detail}. The API server refuses the pod before it is "
        "scheduled, however much room the nodes have.",
        (
            "kubectl describe resourcequota {what} -n <namespace>   # used against hard",
            "Lower the deployment's requests (v1 cpu_cores / memory_gb; v2 the instance type's resources), "
            "remove replicas or services that hold the quota, or raise the quota's hard limits.",
        ),
        "kubectl describe resourcequota {what} -n <namespace> shows room, and the scoring pod is created.",
    ),
    _Refusal(
        "service-account-missing",
        "admission-broken",
        re.compile(r'error looking up service account (?P<what>[\w.-]+/[\w.-]+)'),
        "The service account {what} the scoring pod runs as does not exist",
        "The pod template names a service account, {what}, that is not in the namespace, so the API server "
        "refuses every pod. AzureML creates the service accounts it uses when the compute is attached or the "
        "extension installed; one deleted since leaves every deployment in that namespace without pods.",
        (
            "kubectl get serviceaccount -n <namespace>",
            "v1: detach and re-attach the compute; v2: az k8s-extension update ... (or re-attach the compute) to recreate it.",
        ),
        "kubectl get serviceaccount {what} exists, and the scoring pod is created.",
    ),
)
_ERROR_CREATING = re.compile(r"Error creating: |failed calling webhook|exceeded quota: |error looking up service account")


class PodCreationFailed(Rule):
    id = "AML041"
    name = "pod-creation-failed"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    # A webhook that cannot be called and a missing service account are one mode: the cluster's own
    # admission chain is broken, whatever the pod asks for.
    modes = (
        Mode("admission-broken", Category.CLUSTER_OR_COMPUTE_UNHEALTHY),
        Mode("namespace-quota", Category.INSUFFICIENT_RESOURCES_UNSCHEDULABLE),
    )
    severity = Severity.CRITICAL
    stage = Stage.SCHEDULE
    requires = ("events|text",)
    signals = ("failed calling webhook", "exceeded quota:", "error looking up service account")
    links = ("https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/",)

    def check(self, ev):
        said = [(e.locator, f"{e.reason}: {e.message}", e.count) for e in kube.events_for_service(ev) if e.reason == "FailedCreate"]
        if not said:
            said = [(h.locator, h.line.strip(), 1) for doc in ev.docs() for h in doc.search(_ERROR_CREATING)]
        for refusal in _REFUSALS:
            found = [(loc, text, n) for loc, text, n in said if refusal.pattern.search(text)]
            if not found:
                continue
            match = refusal.pattern.search(found[0][1])
            fields = {"what": match.group("what"), "detail": ""}
            if "detail" in match.groupdict() and match.group("detail"):
                fields["detail"] = f" ({match.group('detail').lstrip(', ')})"
            times = sum(n for _, _, n in found)
            yield self.finding(
                title=refusal.title.format(**fields),
                explanation=refusal.explanation.format(**fields) + (f" The refusal was reported {times} times." if times > 1 else ""),
                evidence=[EvidenceItem(loc, text[:600]) for loc, text, _ in found[:2]],
                subject=f"pod-creation/{refusal.key}",
                confidence=0.9,
                mode=refusal.mode,
                alternatives=(Category.QUOTA_EXCEEDED,) if refusal.mode == "namespace-quota" else (),
                fix=Fix(
                    summary=refusal.title.format(**fields).split(",")[0] + ": fix that, and the ReplicaSet creates the pod on its next retry.",
                    steps=tuple(s.format(**fields) for s in refusal.steps),
                    verify=(refusal.verify.format(**fields),),
                ),
            )
            return
