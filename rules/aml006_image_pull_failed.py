from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, podfailures
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "ImagePullFailed"}
_PULL_TEXT = re.compile(r"ErrImagePull|ImagePullBackOff|Back-off pulling image|Failed to pull image|Image pull failed", re.IGNORECASE)
# v2 Kubernetes-endpoint codes and the cause each one names (https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints).
_V2_CODES = {
    "ImagePullLoopBackOff": "",
    "ACRSecretError": "identity",
    "ACRTokenExchangeFailed": "identity",
    "ACRAuthenticationChallengeFailed": "network",
}
_IMAGE = re.compile(r'(?:pull(?:ing)? image|image) "([^"]+)"', re.IGNORECASE)
_ACR = re.compile(r"\b([a-z0-9]+)\.azurecr\.io/([^:@\s\"]+)")

# The registry's or kubelet's words, most specific first
# (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/connectivity/cannot-pull-image-from-acr-to-aks-cluster).
_CAUSES = (
    ("platform", re.compile(r"no match for platform in manifest", re.IGNORECASE)),
    ("qps", re.compile(r"pull QPS exceeded", re.IGNORECASE)),
    ("not_found", re.compile(r"manifest unknown|:\s*not found\b", re.IGNORECASE)),
    ("firewall", re.compile(r"failed to fetch anonymous token|\b403 Forbidden", re.IGNORECASE)),
    ("unauthorized", re.compile(r"401 Unauthorized|unauthorized: authentication required", re.IGNORECASE)),
    ("network", re.compile(r"i/o timeout|TLS handshake timeout", re.IGNORECASE)),
)


@with_signatures(__file__)
class ImagePullFailed(Rule):
    id = "AML006"
    name = "image-pull-failed"
    category = Category.IMAGE_PULL_FAILURE
    severity = Severity.CRITICAL
    stage = Stage.PULL
    requires = ("pods|events|text|azureml_service",)
    signals = (
        "ErrImagePull",
        "ImagePullBackOff",
        "ImagePullLoopBackOff",
        "Back-off pulling image",
        "Failed to pull image",
        "Image pull failed",
        "ACRSecretError",
        "ACRTokenExchangeFailed",
        "ACRAuthenticationChallengeFailed",
    )
    links = (
        "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/connectivity/cannot-pull-image-from-acr-to-aks-cluster",
    )

    def check(self, ev):
        states = [s for s in kube.scoring_states(ev) + _init_states(ev) if s.waiting_reason in _PULL_REASONS]
        items: list[EvidenceItem] = []
        texts: list[str] = []
        for s in states:
            items.append(EvidenceItem(s.locator, f"waiting: {s.waiting_reason} {s.waiting_message}".strip()))
            texts.append(s.waiting_message)
        if not states and kube.service_healthy(ev):
            return  # pulled in the end: earlier pull warnings are history
        events = [e for e in podfailures.service_events(ev) if e.reason in _PULL_REASONS or _PULL_TEXT.search(e.message)]
        # The event that carries the registry's answer says the most; "Back-off" only repeats it.
        events.sort(key=lambda e: not _cause_of(e.message))
        items += [EvidenceItem(e.locator, f"{e.type} {e.reason}: {e.message}".strip()) for e in events[:2]]
        texts += [e.message for e in events]
        codes = []
        for err in azureml_errors(ev):
            for code in err.codes() & set(_V2_CODES):
                codes.append(code)
                items.append(EvidenceItem(err.locator, f"{code}: {_short(err.all_text())}"))
                texts.append(err.all_text())
            # Events embedded in the error that could not be read as events still carry the registry's answer.
            pull = _PULL_TEXT.search(err.all_text())
            if pull and not _cause_of("\n".join(texts)) and _cause_of(err.all_text()):
                items.append(EvidenceItem(err.locator, _short(err.all_text()[pull.start():], 600)))
                texts.append(err.all_text())
        if not items:
            items, texts = _from_plain_text(ev)
        if not items:
            return
        text = "\n".join(texts)
        cause = _cause_of(text) or next((_V2_CODES[c] for c in codes if _V2_CODES[c]), "") or "unknown"
        image = _image(ev, text)
        acr, repo = _acr(image)
        title, explanation, confidence, alternatives, decide = _EXPLAIN[cause]
        yield self.finding(
            title=title.format(image=image or "the scoring image"),
            explanation=explanation.format(acr=acr, image=image or "the image"),
            evidence=items[:4],
            subject=f"image/{image}" if image else "image",
            confidence=confidence,
            alternatives=alternatives,
            decide=decide.format(acr=acr, repo=repo),
            fix=_fix(cause, acr, repo),
        )


def _init_states(ev):
    return [s for s in kube.container_states(ev) if s.init]


def _cause_of(text: str) -> str:
    return next((name for name, pattern in _CAUSES if pattern.search(text or "")), "")


def _from_plain_text(ev):
    """Pasted lines that are neither an event table nor a pod description: the kubelet's own words."""
    items, texts = [], []
    for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
        for hit in doc.search(_PULL_TEXT):
            items.append(excerpt(doc, hit.line_no))
            texts.append(hit.line)
    return items[:3], texts


def _image(ev, text: str) -> str:
    m = _IMAGE.search(text)
    if m:
        return m.group(1)
    for pod in kube.service_pods(ev):
        container = kube.scoring_container(pod)
        if container and container.get("image"):
            return container["image"]
    details = (ev.service_json or {}).get("imageDetails") or {}
    return str(details.get("imageLocation") or "")


def _acr(image: str) -> tuple[str, str]:
    m = _ACR.search(image or "")
    return (m.group(1), m.group(2)) if m else ("<acr>", "azureml/azureml_<id>")


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_AKS = "-n <cluster> -g <resource-group>"
_CHECK = "az aks check-acr " + _AKS + " --acr {acr}.azurecr.io"
_TAGS = "az acr repository show-tags -n {acr} --repository {repo} --orderby time_desc -o table"

# cause -> (title, explanation, confidence, alternatives, decide)
_EXPLAIN = {
    "unauthorized": (
        "Image pull failed: the registry refused the node's credentials (401) for {image}",
        "The kubelet asked {acr}.azurecr.io for the image and got `401 Unauthorized`: the cluster's kubelet identity "
        "has no AcrPull role on the workspace registry (the ACR is not attached), or the pull secret holds registry "
        "credentials that were regenerated since the service was deployed. AKS always tries an anonymous pull as "
        "well, so an image name that does not exist can also surface as a 401.",
        0.85,
        (),
        "`" + _CHECK + "` reports whether the cluster can authenticate; `" + _TAGS + "` shows whether the image exists.",
    ),
    "not_found": (
        "Image pull failed: {image} does not exist in the registry",
        "The registry answered `not found` / `manifest unknown`: the repository or tag the pod asks for is not in "
        "{acr}.azurecr.io. Either it was never pushed (the image build failed or went to another registry) or it "
        "was deleted (an ACR retention or purge task).",
        0.85,
        (Category.IMAGE_BUILD_FAILURE,),
        "`" + _TAGS + "` lists the tags; if the image is missing, the build log under ImageLogs/ tells whether it was ever built.",
    ),
    "firewall": (
        "Image pull failed: the registry's firewall refused the node (403) for {image}",
        "The registry answered `403 Forbidden` before any credential was checked: the ACR's network rules (firewall, "
        "disabled public access or a private endpoint) do not let the cluster's nodes in, or the private DNS zone "
        "resolves {acr}.azurecr.io to an address the nodes cannot use.",
        0.85,
        (),
        "`az acr show -n {acr} --query \"{{public:publicNetworkAccess,rules:networkRuleSet}}\"` and `nslookup {acr}.azurecr.io` from a node tell a firewall rule from a DNS problem.",
    ),
    "network": (
        "Image pull failed: the node cannot reach the registry for {image}",
        "The pull timed out (`i/o timeout` / `TLS handshake timeout`): a firewall, NSG or network virtual appliance "
        "between the nodes and {acr}.azurecr.io drops the traffic, or the private-link path to the registry is not reachable.",
        0.8,
        (Category.CLUSTER_OR_COMPUTE_UNHEALTHY,),
        "`" + _CHECK + "` runs the connectivity checks from inside the cluster.",
    ),
    "platform": (
        "Image pull failed: {image} has no variant for the node's OS or architecture",
        "The registry has the image, but `no match for platform in manifest`: it was built for another OS or CPU "
        "architecture (for example arm64 only) than the nodes run.",
        0.9,
        (),
        "",
    ),
    "qps": (
        "Image pull throttled by the kubelet (`pull QPS exceeded`) for {image}",
        "The kubelet's own pull rate limit (registryPullQPS) rejected the pull. This is usually transient, when many "
        "pods start on one node at once.",
        0.6,
        (),
        "Watch `kubectl get events -n <namespace> -w`: the pull should succeed on a later retry; if not, the registry's own answer follows.",
    ),
    "identity": (
        "Image pull failed: the cluster's identity cannot get a token for the registry",
        "The AzureML extension could not exchange the cluster identity's token for a registry token "
        "(`ACRSecretError` / `ACRTokenExchangeFailed`): the AcrPull role assignment is missing or not yet effective, the "
        "extension is misconfigured or older than v1.1.25, or the network blocks the token exchange.",
        0.75,
        (Category.AUTH_ERROR,),
        "`az role assignment list --scope $(az acr show -n {acr} --query id -o tsv)` shows whether the identity holds AcrPull.",
    ),
    "unknown": (
        "Image pull failed for {image}",
        "The node could not pull the scoring image (ErrImagePull / ImagePullBackOff), and the evidence does not "
        "contain the registry's answer that says why.",
        0.7,
        (),
        "`kubectl describe pod <pod>` shows the `Failed to pull image` event with the registry's answer (401, 403, not found, timeout).",
    ),
}


def _fix(cause: str, acr: str, repo: str) -> Fix:
    check, tags = _CHECK.format(acr=acr), _TAGS.format(acr=acr, repo=repo)
    verify = ("kubectl get pod -l azuremlappname=<service> -n <namespace>   # no ErrImagePull / ImagePullBackOff", check)
    steps = {
        "unauthorized": (
            f"az aks update {_AKS} --attach-acr {acr}   # grants the kubelet identity AcrPull",
            check,
            "If the registry's admin credentials were regenerated, redeploy the service so its pull secret is rewritten: "
            "Model.deploy(..., overwrite=True) or service.update().",
            tags + "   # rule out a wrong image name",
        ),
        "not_found": (
            tags,
            "Redeploy so AzureML builds and pushes the image again: Model.deploy(..., overwrite=True).",
            f"Check the registry's retention policy: az acr config retention show -r {acr}",
        ),
        "firewall": (
            f"az acr update -n {acr} --public-network-enabled true   # or allow the AKS subnet / egress IP in its network rules",
            "With a private endpoint: link the privatelink.azurecr.io DNS zone to the AKS virtual network.",
        ),
        "network": (
            check,
            f"Allow the nodes to reach {acr}.azurecr.io and {acr}.<region>.data.azurecr.io on 443 (NSG, firewall, NVA).",
        ),
        "platform": ("Build the image for linux/amd64 (the AKS node architecture), or use a node pool of the image's architecture.",),
        "qps": ("Wait for the kubelet's retry; if pulls keep being throttled, raise the kubelet's registryPullQPS or stagger the deployments.",),
        "identity": (
            f"az role assignment create --assignee <cluster-identity> --role AcrPull --scope $(az acr show -n {acr} --query id -o tsv)",
            "az k8s-extension show --name <extension> --cluster-type managedClusters -c <cluster> -g <resource-group>   # version > 1.1.25",
        ),
        "unknown": ("kubectl describe pod <pod> -n <namespace>   # read the Failed to pull image event", check, tags),
    }[cause]
    summary = {
        "unauthorized": f"Attach the workspace registry {acr} to the cluster (AcrPull), or refresh the stale pull secret.",
        "not_found": "Make the image exist: rebuild and push it by redeploying, or correct the image reference.",
        "firewall": f"Let the cluster through the network rules of {acr}, or fix its private DNS.",
        "network": f"Open the network path from the nodes to {acr}.azurecr.io.",
        "platform": "Use an image built for the nodes' OS and architecture.",
        "qps": "Retry; reduce simultaneous pulls on one node.",
        "identity": "Give the cluster identity AcrPull on the registry, or update the AzureML extension.",
        "unknown": "Read the registry's answer in the pod's events, then fix what it names.",
    }[cause]
    return Fix(summary=summary, steps=steps, verify=verify)
