from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, platform
from aml_doctor.engine.rule import excerpt

_QUOTA_CODES = ("QuotaExceeded", "OutOfQuota")
_REGIONAL_CORES = re.compile(r"exceeding approved Total Regional Cores quota|Total Regional Cores quota")
_NOT_ENOUGH = re.compile(r"not enough quota", re.IGNORECASE)
_QUOTA_WORDS = re.compile(r"quota|limit", re.IGNORECASE)
# v2 wraps a Kubernetes scheduling failure in OutOfQuota; that is cluster capacity (AML009's), not quota.
_UNSCHEDULABLE = re.compile(r"Kubernetes unschedulable|nodes are available|Insufficient (?:cpu|memory|nvidia)", re.IGNORECASE)
# "Location: eastus2, Current Limit: 4, Current Usage: 0, Additional Required: 12, (Minimum) New Limit Required: 12"
_NUMBERS = re.compile(
    r"Location: (?P<location>[\w-]+), Current Limit: (?P<limit>\d+), Current Usage: (?P<usage>\d+), "
    r"Additional Required: (?P<required>\d+)"
)


@with_signatures(__file__)
class QuotaExceeded(Rule):
    id = "AML016"
    name = "quota-exceeded"
    category = Category.QUOTA_EXCEEDED
    severity = Severity.CRITICAL
    stage = Stage.CLUSTER
    requires = ("text|azureml_service|operation",)
    # Said here, not left to comments: the cases this rule stays silent on because another rule reports them.
    defers = {"AML009": "a v2 OutOfQuota that wraps a Kubernetes scheduling failure (cluster capacity, not quota)"}
    signals = ("QuotaExceeded", "OutOfQuota", "Total Regional Cores quota", "not enough quota")
    links = (
        "https://learn.microsoft.com/azure/quotas/regional-quota-requests",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        coded = [c for c in platform.coded_errors(ev, _QUOTA_CODES) if not _UNSCHEDULABLE.search(c.message)]
        # azure-ai-ml prints "Code: OutOfQuota" on a line of its own, the "Kubernetes unschedulable"
        # message on the next: a bare code beside that message is cluster capacity too. Each of those
        # phrases sits on one line, so the documents are searched line by line, and only when a code
        # without quota words needs it.
        if any(not _QUOTA_WORDS.search(c.message) for c in coded) and any(d.first(_UNSCHEDULABLE) for d in docs):
            coded = [c for c in coded if _QUOTA_WORDS.search(c.message)]
        cores = platform.lines(docs, _REGIONAL_CORES)
        not_enough = [h for h in platform.lines(docs, _NOT_ENOUGH) if not _UNSCHEDULABLE.search(h.line)]
        if not (coded or cores or not_enough):
            return
        evidence: list[EvidenceItem] = []
        for c in coded[:2]:
            evidence.append(EvidenceItem(c.locator, f"{c.code}: {c.message}"[:600]))
        for h in (cores or not_enough)[:1]:
            evidence.append(excerpt(h.doc, h.line_no))
        text = "\n".join([c.message for c in coded] + [h.line for h in cores + not_enough])
        numbers = _NUMBERS.search(text)
        regional = bool(cores) or "Total Regional Cores" in text
        if numbers:
            detail = (
                f" In {numbers['location']} the limit is {numbers['limit']} cores, {numbers['usage']} are in use and "
                f"the operation needs {numbers['required']} more."
            )
        else:
            detail = ""
        what = "the subscription's regional vCPU quota" if regional else "a subscription or workspace quota"
        yield self.finding(
            title=f"Quota exceeded: {what} is too small for this operation",
            explanation=(
                f"Azure refused to provision resources because {what} is exhausted.{detail} This is a quota on the "
                "subscription, not a lack of capacity in the cluster: adding nodes to the cluster needs the quota first."
            ),
            evidence=evidence,
            subject="quota/" + ("regional-cores" if regional else (coded[0].code if coded else "quota")),
            confidence=0.95 if (coded and (cores or numbers)) else 0.85,
            fix=Fix(
                summary="Raise the quota, free cores, or use another region or a smaller VM size.",
                steps=(
                    "az vm list-usage --location <region> -o table   # see the limit and current usage per VM family",
                    "Request more vCPUs: Azure portal > Subscriptions > Usage + quotas (or https://aka.ms/ProdportalCRP).",
                    "Or free cores: delete unused AKS clusters, compute instances or deployments in that region.",
                    "Or create the cluster with fewer or smaller nodes (AksCompute.provisioning_configuration(agent_count=..., vm_size=...)) "
                    "or in another region.",
                ),
                verify=("az vm list-usage --location <region> -o table   # CurrentValue + required <= Limit; then retry the operation",),
            ),
        )

