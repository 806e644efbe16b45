"""Reports built straight from the model's dataclasses, for the renderer tests.

The evidence strings are ones real systems print (Kubernetes events, the blobfuse flexvolume
driver, AzureML's deployment errors, a real ACR image build log), so the renderers are exercised
on the text they will meet.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from aml_doctor.findings import (
    Category,
    CollectionGap,
    EvidenceItem,
    Finding,
    Fix,
    NotChecked,
    Report,
    RuleError,
    Severity,
    Stage,
)
from aml_doctor.engine.ranking import rank, verdict

SERVICE = "scorer"
NAMESPACE = "azureml-ws1"
POD = "scorer-7c9d5b6f8d-x2k9q"

FAILED_MOUNT = (
    'MountVolume.SetUp failed for volume "scorer0a1b2c-pvc" : mount command failed, status: Failure, '
    'reason: Failed to mount device /dev/ at /var/lib/kubelet/pods/2f0c/volumes/azure~blobfuse/scorer0a1b2c-pvc, '
    "accountname:amlws1storage9f2c, error log:Exit status 255 ... Unable to start blobfuse, errno=403"
)

TIMED_OUT = (
    '{\n  "code": "DeploymentTimedOut",\n  "statusCode": 504,\n  "message": "Timed out waiting for AKS deployment '
    'to complete. pollTimeout : 00:20:00 serviceName: scorer serviceId: scorer"\n}'
)

# The tail of a real ACR image build log (MicrosoftLearning/DP100#3), long enough to be folded.
BUILD_LOG = "\n".join(
    [
        "WARNING: pip is being invoked by an old script wrapper. This will fail in a future version of pip.",
        "Please see https://github.com/pypa/pip/issues/5599 for advice on fixing the underlying issue.",
        "To avoid this problem you can invoke Python with '-m pip' instead of running pip directly.",
    ]
    + [f"Collecting package-{i}==1.0.{i}" for i in range(20)]
    + [
        (
            "ERROR: Could not find a version that satisfies the requirement dotnetcore2>=2.1.9 (from "
            "azureml-dataprep[fuse,pandas]<1.2.0a,>=1.1.35a->azureml-train-automl==1.0.83.*->-r "
            "/azureml-environment-setup/condaenv.2ab_3h75.requirements.txt (line 1)) (from versions: none)"
        ),
        "CondaValueError: pip returned an error",
    ]
)


def mount_failure(**changes) -> Finding:
    base = Finding(
        rule="AML003",
        name="volume-mount-failed",
        category=Category.VOLUME_MOUNT_FAILURE,
        severity=Severity.HIGH,
        stage=Stage.MOUNT,
        confidence=0.9,
        title="Blob volume cannot be mounted: storage refused the key (errno=403)",
        explanation=(
            "blobfuse got 403 from the workspace storage account. Most often the account keys were rotated "
            "and the cluster still holds the old key."
        ),
        subject=POD,
        evidence=(EvidenceItem(f"kubernetes/events.json#{POD}/FailedMount", FAILED_MOUNT),),
        fix=Fix(
            summary="Sync the workspace keys, then redeploy so the volume secret gets the new key.",
            steps=("az ml workspace sync-keys -w ws1 -g rg1", "Model.deploy(..., overwrite=True)"),
            verify=("kubectl get pod -l azuremlappname=scorer   # Running; no new FailedMount events",),
        ),
        links=("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-deployment",),
        alternatives=(Category.AUTH_ERROR,),
        decide="Check the storage account's activity log for `Regenerate Storage Account Keys`.",
    )
    return dataclasses.replace(base, **changes)


def pod_not_ready(**changes) -> Finding:
    base = Finding(
        rule="AML004",
        name="pod-not-ready",
        category=Category.CRASH_LOOP_OTHER,
        severity=Severity.MEDIUM,
        stage=Stage.CONTAINER,
        confidence=0.8,
        title="Scoring pod never became ready",
        explanation="The pod stays in ContainerCreating: its container never started.",
        subject=POD,
        evidence=(
            EvidenceItem(
                f"kubernetes/pods.json#{POD}/status.containerStatuses[0].state",
                '{"waiting": {"reason": "ContainerCreating"}}',
            ),
        ),
        fix=Fix(summary="Fix the cause the root-cause finding names; the pod follows."),
    )
    return dataclasses.replace(base, **changes)


def deployment_timed_out(**changes) -> Finding:
    base = Finding(
        rule="AML020",
        name="deployment-timed-out",
        category=Category.OTHER,
        severity=Severity.LOW,
        stage=Stage.OPERATION,
        confidence=0.95,
        title="The deployment operation timed out",
        explanation="AzureML stopped waiting for the deployment after 20 minutes.",
        subject=SERVICE,
        evidence=(EvidenceItem("azureml/operation.txt:3", TIMED_OUT),),
        fix=Fix(summary="See the root cause."),
    )
    return dataclasses.replace(base, **changes)


def build_warning(**changes) -> Finding:
    """A weak finding at an earlier stage: ranks after the confident root cause, explained by nothing."""
    base = Finding(
        rule="AML001",
        name="image-build-failed",
        category=Category.IMAGE_BUILD_FAILURE,
        severity=Severity.MEDIUM,
        stage=Stage.BUILD,
        confidence=0.4,
        title="An older image build failed to solve its conda environment",
        explanation="A build log in the bundle ends in a pip resolution error; the running image may predate it.",
        subject="azureml/azureml_d5db24e95bda7d8ce518fbfff093cbd3",
        evidence=(EvidenceItem("image/build.log:12", BUILD_LOG),),
        fix=Fix(
            summary="Remove or pin the package pip cannot find.",
            steps=("Drop dotnetcore2 from the environment, or pin azureml-train-automl to a current release",),
            verify=("az ml environment show -n <env> --query imageBuildStatus",),
        ),
    )
    return dataclasses.replace(base, **changes)


def make_report(findings: list[Finding] | None = None, **changes) -> Report:
    found = [mount_failure(), pod_not_ready(), deployment_timed_out(), build_warning()] if findings is None else findings
    ranked = rank(found)
    base = Report(
        service=SERVICE,
        namespace=NAMESPACE,
        workspace="ws1",
        source="bundles/scorer-2026-11-20",
        collected_at="2026-11-20T09:14:02Z",
        collector="aml-doctor 0.1.0",
        tool_version="0.1.0",
        verdict=verdict(ranked),
        findings=ranked,
        not_checked=(NotChecked("AML005", "port-mismatch", "no pod spec in the bundle (kubernetes/pods.json missing)"),),
        rule_errors=(
            RuleError(
                "AML009",
                "",
                'Traceback (most recent call last):\n  File "rules/aml009.py", line 40, in check\n'
                "KeyError: 'containerStatuses'",
            ),
        ),
        plugin_errors=(RuleError("contoso_rules", "contoso-aml-rules", "ImportError: No module named 'contoso'"),),
        collection_gaps=(CollectionGap("logs/previous", "previous container logs: pod has no previous instance"),),
        notes=("logs/scorer-7c9d5b6f8d-x2k9q/scorer.log: middle 1,204,332 lines skipped (kept head, tail and signal hits)",),
        rules_run=9,
    )
    return dataclasses.replace(base, **changes)


def with_evidence(finding: Finding, *items: EvidenceItem) -> Finding:
    return dataclasses.replace(finding, evidence=finding.evidence + tuple(items))


# Payloads a log line might carry; a renderer must show them as text.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MD_LINK = "[click me](https://evil.example/x) **bold** # not a heading @octocat"
BACKTICKS = "```\nfenced? no\n```` and `inline`"


def hostile_report() -> Report:
    """Injection payloads in titles, explanations and evidence, where a log would put them."""
    root = mount_failure(
        title=f"Mount failed {SCRIPT}",
        explanation=f"The driver said: {IMG}\n- not a list item\n{MD_LINK}",
        evidence=(
            EvidenceItem("logs/scorer/scorer.log:7", f"{SCRIPT}\n{IMG}\n{BACKTICKS}"),
            EvidenceItem(f"kubernetes/events.json#{POD}/<b>x</b>", FAILED_MOUNT),
        ),
    )
    return make_report([root, pod_not_ready(title=f"Pod {IMG}"), deployment_timed_out()])


# Secrets in the shapes Azure prints them; none may reach any output.
ACCOUNT_KEY = "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ=="
CONNECTION_STRING = (
    f"DefaultEndpointsProtocol=https;AccountName=amlws1storage9f2c;AccountKey={ACCOUNT_KEY};"
    "EndpointSuffix=core.windows.net"
)
SAS_SIG = "fXk4Ws2ZBnLd0vN9%2FYqA7c8Jm3QpPz5tR6uE1oKaHg%3D"
SAS_URL = (
    "https://amlws1storage9f2c.blob.core.windows.net/azureml/LocalUpload/init_config.json"
    f"?sv=2019-02-02&sr=b&sig={SAS_SIG}&se=2026-11-21T09%3A14%3A02Z&sp=r"
)
BEARER = "Qm9keUF1dGhUb2tlbjEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9w"
JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    "eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyIsIm9pZCI6IjEyMyJ9."
    "c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtYW5kLWhlcmU"
)
SECRETS = (ACCOUNT_KEY, SAS_SIG, BEARER, JWT)


def secret_report() -> Report:
    leaky = (
        f'conn = "{CONNECTION_STRING}"\n'
        f"GET {SAS_URL} -> 403\n"
        f"Authorization: Bearer {BEARER}\n"
        f"token={JWT}\n"
        # A connection string built in code: the key follows a quote, which JSON escapes.
        'conn = "AccountName=x;AccountKey=" + key'
    )
    root = mount_failure(
        explanation=f"The init container used {SAS_URL} and {CONNECTION_STRING}; header Bearer {BEARER}",
        evidence=(EvidenceItem("logs/scorer/amlappinit.log:12", leaky),),
        title=f"Mount failed for AccountKey={ACCOUNT_KEY}",
    )
    return make_report(
        [root, pod_not_ready()],
        notes=(f"token {JWT} seen in the operation log",),
        rule_errors=(RuleError("AML009", "", f"ValueError: bad SAS {SAS_URL}"),),
    )


# --- reading rendered HTML back, as a browser's parser would: elements, attributes, text ---
class Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.elements if "id" in attrs]

    def all_text(self) -> str:
        return "".join(self.text)
