from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views.errorjson import azureml_errors
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextDoc, TextKind

_STEP = re.compile(r"\bStep (\d+)/(\d+) : (.*)$", re.M)
_PIP_NO_VERSION = re.compile(r"Could not find a version that satisfies the requirement (\S+)")
_PIP_NO_DIST = re.compile(r"No matching distribution found for (\S+)")
_CONDA_FAILED = re.compile(r"Solving environment: \S*\s*\S*working\S* failed|ResolvePackageNotFound:|LibMambaUnsatisfiableError")
_CONDA_PACKAGE_LINE = re.compile(r"^\s*-\s+(\S+)\s*$")
_MAMBA_NEEDED_BY = re.compile(r"nothing provides .+ needed by (\S+)")
# Build logs prefix lines with a timestamp: "2024-10-15T00:34:07: " or "2020/01/23 04:40:19 ".
_TIMESTAMP = re.compile(r"^(?:\d{4}-\d\d-\d\dT[\d:.]+Z?:?|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ?")
_RUN_FAILED = re.compile(r"The command '(.+)' returned a non-zero code: (\d+)|returned a non-zero code: (\d+)")
_SIGKILL = re.compile(r"died with <Signals\.SIGKILL: 9>")
# Lines only an image build prints: a SIGKILL among them killed the build, not the service.
_BUILD_CONTEXT = re.compile(
    r"Docker image build failed|Solving environment|Installing pip dependencies|Collecting \S+|Building wheels? for|"
    r"Running setup\.py install|ImageBuildFailure|BuildImage|BuildEnvironment|Image build failed"
)
_REGISTRY_AUTH = re.compile(
    r"container registry authorization failure|unauthorized: authentication required|"
    r"manifest unknown|pull access denied|denied: requested access to the resource is denied"
)
_KUBELET_PULL = re.compile(r"Failed to pull image|ErrImagePull|ImagePullBackOff|Back-off pulling image|failed to pull and unpack image", re.I)
_BUILD_FAILED = re.compile(r"Docker image build failed|Container failed during run|Image build failed")
# The old Image API's answer when the workspace Key Vault's access policy was wiped, as the
# 2019 version of https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment quotes it (MicrosoftDocs/azure-docs@0013172).
_KEY_VAULT = re.compile(r'Create image "[^"]*": An internal server error occurred')
# The v1 SDK's words for a build that failed during Model.deploy: the error code EnvironmentBuildFailed
# ("Failed building the Environment"), and get_logs()' "Error in environment creation, more details may be
# found here: <ImageLogs build.log>" (both in a v1 ACI capstone notebook, ttschuemp/nd00333-capstone).
_OPERATION_BUILD = re.compile(
    r"Image creation polling reached non-successful terminal state|ImageBuildFailure|"
    r"subOperationType\W+Build(?:Image|Environment)|Docker image build failed|container registry authorization failure|"
    r"EnvironmentBuildFailed|Failed building the Environment|Error in environment creation"
)


@with_signatures(__file__)
class ImageBuildFailed(Rule):
    id = "AML001"
    name = "image-build-failed"
    category = Category.IMAGE_BUILD_FAILURE
    severity = Severity.CRITICAL
    stage = Stage.BUILD
    requires = ("build_log|text|azureml_service",)
    # A build that failed is why the service answered InternalServerError, when it did.
    explains = ("AML038",)
    # A SIGKILL among a build's lines killed the build: AML008's bare-SIGKILL reading does not apply.
    supersedes = ("AML008[process-sigkill]",)
    signals = (
        "Could not find a version that satisfies the requirement",
        "No matching distribution found",
        "Solving environment",
        "ResolvePackageNotFound",
        "LibMambaUnsatisfiableError",
        "nothing provides",
        "returned a non-zero code",
        "SIGKILL",
        "container registry authorization failure",
        "unauthorized: authentication required",
        "manifest unknown",
        "pull access denied",
        "Docker image build failed",
        "Container failed during run",
        "Step ",
        "An internal server error occurred",
    )
    links = ("https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",)

    def check(self, ev):
        found = False
        # A pasted build log reads like a fetched one; other pasted text simply matches nothing here.
        for doc in ev.docs(TextKind.BUILD_LOG, TextKind.PASTED):
            finding = self._from_build_log(doc)
            if finding:
                found = True
                yield finding
        if not found:
            finding = self._from_error_text(ev)
            if finding:
                yield finding

    # ------------------------------------------------------------------ build log
    def _from_build_log(self, doc: TextDoc):
        failing_step = None
        for hit in doc.search(_STEP):
            failing_step = hit  # the last step the build reached is the one that failed
        # The causes in the order the build log is read: the most specific first.
        for reader in (self._pip_missing, self._conda_unsolvable, self._build_killed, self._registry_denied, self._step_failed):
            finding = reader(doc, failing_step)
            if finding:
                return finding
        return None

    def _pip_missing(self, doc: TextDoc, failing_step):
        """Pip found no version of a pinned package."""
        step_text = _step_text(failing_step)
        pip = doc.first(_PIP_NO_VERSION) or doc.first(_PIP_NO_DIST)
        if pip:
            package = pip.match.group(1)
            return self.finding(
                title=f"Image build failed: pip cannot find {package}",
                explanation=(
                    f"The environment image did not build: pip could not install `{package}` in {step_text} "
                    "(`Could not find a version that satisfies the requirement`). No index the build can reach "
                    "has a version that matches the pin for this Python version and platform."
                ),
                evidence=self._evidence(doc, pip.line_no, failing_step),
                subject=doc.path,
                confidence=0.97,
                fix=Fix(
                    summary=f"Change or remove the pin for {_bare(package)} in the environment's pip dependencies.",
                    steps=(
                        f"pip index versions {_bare(package)}   # list what the index really offers",
                        f"Edit the conda YAML: pin `{_bare(package)}` to a listed version (or drop the package), then redeploy.",
                        "Test the environment locally first: `conda env create -f myenv.yml`.",
                    ),
                    verify=("Redeploy and read the new build log under ImageLogs/: it must end in a successful push.",),
                ),
            )
        return None

    def _conda_unsolvable(self, doc: TextDoc, failing_step):
        """Conda could not solve the environment."""
        step_text = _step_text(failing_step)
        conda = doc.first(_CONDA_FAILED)
        if conda:
            packages = self._conda_packages(doc)
            anchor = doc.first(r"LibMambaUnsatisfiableError|ResolvePackageNotFound:") or conda
            named = ", ".join(packages) if packages else "a pinned package"
            return self.finding(
                title=f"Image build failed: conda cannot resolve {named}",
                explanation=(
                    f"conda could not solve the environment in {step_text}: {named} cannot be satisfied "
                    "from the configured channels together with the other pins (ResolvePackageNotFound / "
                    "`Solving environment: failed`)."
                ),
                evidence=self._evidence(doc, anchor.line_no, failing_step, after=min(len(packages), 8)),
                subject=doc.path,
                confidence=0.95,
                fix=Fix(
                    summary=f"Relax or correct the pins of {named} in the conda YAML.",
                    steps=(
                        "Remove the exact build/version pin or pick a version available for the environment's Python.",
                        "Reproduce locally: `conda env create -f myenv.yml` (or `conda create --dry-run ...`).",
                    ),
                    verify=("Redeploy and check the new build log: `Solving environment: done`.",),
                ),
            )
        return None

    def _build_killed(self, doc: TextDoc, failing_step):
        """A build step died with SIGKILL. The same line alone, outside a build, is the v1
        troubleshooting page's "Deployment failure" (the deployment's VM lacks memory): AML008's."""
        sigkill = doc.first(_SIGKILL)
        if sigkill and (doc.kind is TextKind.BUILD_LOG or failing_step is not None or doc.first(_BUILD_CONTEXT)):
            return self.finding(
                title="Image build killed by SIGKILL (out of memory during the build)",
                explanation="A build step died with SIGKILL: the build machine ran out of memory.",
                evidence=self._evidence(doc, sigkill.line_no, failing_step),
                subject=doc.path,
                confidence=0.9,
                fix=Fix(
                    summary="Build on a machine with more memory, or slim the environment.",
                    steps=("Use a compute/VM SKU with more memory for the image build, or split large installs.",),
                    verify=("Redeploy and check the build log ends successfully.",),
                ),
            )
        return None

    def _registry_denied(self, doc: TextDoc, failing_step):
        """The registry refused the build."""
        step_text = _step_text(failing_step)
        # The kubelet prints the same registry answers when it pulls the built image onto a node:
        # those lines are a pull failure (AML006), never a build failure.
        registry = next((h for h in doc.search(_REGISTRY_AUTH) if not _KUBELET_PULL.search(h.line)), None)
        if registry:
            base = failing_step and failing_step.match.group(3).startswith("FROM")
            where = "pulling the base image" if base else "talking to the container registry"
            return self.finding(
                title=f"Image build failed {where}: registry denied access",
                explanation=(
                    f"The build failed while {where} ({step_text}). The registry refused the credentials or the image "
                    "reference does not exist. When the workspace's ACR keys were rotated, the workspace still uses the old ones."
                ),
                evidence=self._evidence(doc, registry.line_no, failing_step),
                subject=doc.path,
                confidence=0.85,
                fix=Fix(
                    summary="Sync the workspace keys, and check the base image reference and the ACR's network rules.",
                    steps=(
                        "az ml workspace sync-keys -w <workspace> -g <resource-group>",
                        "Check that the FROM image exists: az acr repository show-tags -n <acr> --repository <repo>",
                        "For a VNet-bound ACR, make sure the build can reach it (image build compute in the VNet).",
                    ),
                    verify=("Redeploy and check the build log passes Step 1.",),
                ),
                decide="The line before the error tells a wrong image name (`manifest unknown`) from an auth failure (`unauthorized`).",
            )
        return None

    def _step_failed(self, doc: TextDoc, failing_step):
        """A build step failed, whatever the command."""
        step_text = _step_text(failing_step)
        run_failed = doc.last(_RUN_FAILED)
        generic = doc.first(_BUILD_FAILED)
        if run_failed or generic:
            hit = run_failed or generic
            command = run_failed.match.group(1) if run_failed and run_failed.match.group(1) else ""
            return self.finding(
                title=f"Image build failed in {step_text}",
                explanation=(
                    f"A build step failed{': `' + _short(command) + '`' if command else ''}. The lines above it in the "
                    "build log say which command failed and why."
                ),
                evidence=self._evidence(doc, hit.line_no, failing_step, before=6),
                subject=doc.path,
                confidence=0.8,
                fix=Fix(
                    summary="Fix the failing step (see the build log lines above the error).",
                    steps=("Reproduce the Dockerfile step locally: `docker build` with the same base image.",),
                    verify=("Redeploy and check the new build log under ImageLogs/.",),
                ),
            )
        return None

    def _conda_packages(self, doc: TextDoc) -> list[str]:
        """The packages conda names under ResolvePackageNotFound, or libmamba's "needed by" packages."""
        mamba = doc.first(r"LibMambaUnsatisfiableError")
        if mamba:
            needed = []
            for _, line in doc.window(mamba.line_no, 0, 30):
                m = _MAMBA_NEEDED_BY.search(line)
                if m:
                    name = re.sub(r"-\d[\w.]*-[\w]+$", "", m.group(1))  # pytorch-cuda-12.1-ha16c6d3_5
                    if name not in needed:
                        needed.append(name)
            if needed:
                return needed
        resolve = doc.first(r"ResolvePackageNotFound:")
        packages: list[str] = []
        if resolve:
            for _, line in doc.window(resolve.line_no, 0, 20)[1:]:
                m = _CONDA_PACKAGE_LINE.match(_TIMESTAMP.sub("", line))
                if m:
                    packages.append(m.group(1))
                elif packages or line.strip():
                    break
        return packages

    def _evidence(self, doc, line_no, failing_step, before=1, after=1):
        items = []
        if failing_step and failing_step.line_no < line_no - before:
            items.append(excerpt(doc, failing_step.line_no))
        items.append(excerpt(doc, line_no, before, after))
        return items

    # ------------------------------------------------------------------ no build log
    def _from_error_text(self, ev):
        for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED):
            hit = doc.first(_KEY_VAULT)
            if hit:
                return self._key_vault(excerpt(doc, hit.line_no, 0, 2))
        for err in azureml_errors(ev):
            if err.code == "ImageBuildFailure" or _OPERATION_BUILD.search(err.all_text()):
                return self._without_log(EvidenceItem(err.locator, f"{err.code}: {_short(err.message, 300)}"), ev)
        # get_logs() of a service whose image never built says so too ("Error in environment creation").
        for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED, TextKind.AZUREML_LOGS):
            hit = doc.first(_OPERATION_BUILD)
            if hit:
                return self._without_log(excerpt(doc, hit.line_no, 0, 2), ev)
        return None

    def _key_vault(self, item: EvidenceItem):
        return self.finding(
            title="Image creation failed with an internal server error: check the workspace Key Vault's access policy",
            explanation=(
                "Creating the image answered `An internal server error occurred`. A known cause is the workspace's "
                "Key Vault losing the workspace's access policy, for example after its ARM template was deployed "
                "again; a passing service fault gives the same answer."
            ),
            evidence=[item],
            subject="image",
            confidence=0.45,
            alternatives=(Category.OTHER,),
            decide="The Key Vault's access policies: the workspace's identity must be listed; if it is, retry later.",
            fix=Fix(
                summary="Restore the workspace's access policy on its Key Vault, and do not redeploy the workspace's ARM template over it.",
                steps=(
                    "az keyvault show -n <workspace key vault> --query properties.accessPolicies",
                    "Give the workspace's managed identity get/list/set/delete on secrets, or recreate the policy from the workspace's template.",
                ),
                verify=("Create the image or deploy again: the build starts and writes ImageLogs/<id>/build.log.",),
            ),
        )

    def _without_log(self, item: EvidenceItem, ev=None):
        named = _named_build_log(ev) if ev is not None else None
        if named:
            account, container, path, where = named
            return self.finding(
                title=f"Image build failed; its build log is {container}/{path} in storage account {account}",
                explanation=(
                    "AzureML reports that the environment image did not build, and the error names the build log. "
                    "Its last lines name the failing step and package."
                ),
                evidence=[item] if where.excerpt in item.excerpt else [item, where],
                subject="image",
                confidence=0.8,
                fix=Fix(
                    summary="Read the build log the error names, fix the environment, then redeploy.",
                    steps=(
                        f"az storage blob download --account-name {account} -c {container} -n '{path}' -f build.log --auth-mode login",
                        "tail -50 build.log   # the failing RUN step, and the pip or conda error above it",
                        f"aml-doctor analyze --text build.log   # diagnose the build log itself",
                    ),
                    verify=("Redeploy after fixing the environment; the build log must end in a successful push.",),
                ),
            )
        return self.finding(
            title="Image build failed (build log not in the evidence)",
            explanation=(
                "AzureML reports that the environment image did not build, but the build log itself is not in "
                "the evidence, so the failing step and package are unknown."
            ),
            evidence=[item],
            subject="image",
            confidence=0.75,
            fix=Fix(
                summary="Read the build log to find the failing step.",
                steps=(
                    "Open the operation log URL printed after `More information can be found here:`, or the blob "
                    "azureml/ImageLogs/<image-id>/build.log in the workspace storage account.",
                    "aml-doctor collect <service> --account-name <account> -o bundle.tar.gz   # fetches it",
                ),
                verify=("Redeploy after fixing the environment; the build log must end in a successful push.",),
            ),
            decide="The build log under ImageLogs/ names the failing step.",
        )


# The two ways v2 errors name the build log (how-to-troubleshoot-online-endpoints, "ImageBuildFailure";
# MicrosoftDocs/azure-docs#91296 added the second): the account, the container, and the blob path.
_BUILD_LOG_NAMED = (
    re.compile(r"the build log under the storage account '(?P<account>[^'\s]+)' in the container '(?P<container>[^'\s]+)' at the path '(?P<path>[^'\s]+)'"),
    re.compile(r'The build log is available in the workspace blob store \\?"(?P<account>[^"\\\s]+)\\?" under the path \\?"/?(?P<container>[^/"\\]+)/(?P<path>[^"\\\s]+)\\?"'),
)


def _named_build_log(ev):
    """(account, container, path, evidence) of the build log an error names, or None."""
    for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED, TextKind.AZUREML_LOGS):
        for pattern in _BUILD_LOG_NAMED:
            hit = doc.first(pattern)
            if hit:
                m = hit.match
                return m["account"], m["container"], m["path"], excerpt(doc, hit.line_no, 0, 0)
    return None


def _bare(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0]


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step_text(failing_step) -> str:
    return f"Step {failing_step.match.group(1)}/{failing_step.match.group(2)}" if failing_step else "the build"
