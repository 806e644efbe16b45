from __future__ import annotations

import os
import re

import yaml

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import kube, startup, targets

# Waiting reasons that belong to earlier stages: their own rules explain them.
_OTHER_STAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "ContainerCreating", "PodInitializing", "InvalidImageName"}
_CRASH_REASONS = {"CrashLoopBackOff", "Error", "RunContainerError", "CreateContainerError", "CreateContainerConfigError"}
_RESTARTS_THAT_MATTER = 3
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_DISTRIBUTIONS = yaml.safe_load(open(os.path.splitext(__file__)[0] + ".distributions.yml", encoding="utf-8"))


class PodNotReady(Rule):
    id = "AML004"
    name = "pod-not-ready"
    category = Category.ENTRY_SCRIPT_INIT_ERROR
    # One symptom, the pod not becoming ready, with a mode per cause its logs show; the symptom
    # finding takes the mode of the cause, or crash-loop when the logs do not say why.
    modes = (
        Mode("init-error", Category.ENTRY_SCRIPT_INIT_ERROR, supersedes=("AML011",)),
        Mode("import-error", Category.ENTRY_SCRIPT_IMPORT_ERROR, supersedes=("AML011",)),
        Mode("dependency-conflict", Category.DEPENDENCY_VERSION_CONFLICT, supersedes=("AML011",)),
        Mode("model-not-found", Category.MODEL_NOT_FOUND, supersedes=("AML011",)),
        Mode("crash-loop", Category.CRASH_LOOP_OTHER),
    )
    severity = Severity.CRITICAL
    stage = Stage.INIT
    requires = ("pods|container_logs|azureml_logs|text",)
    signals = startup.SIGNALS + ("CrashLoopBackOff", "Back-off restarting failed container")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/how-to-inference-server-http",
    )

    def check(self, ev):
        failure = self._startup_failure(ev)
        if failure:
            yield self._cause(failure, targets.guess(ev))
        for state in self._crashing(ev):
            yield self._symptom(state, failure)

    # ------------------------------------------------------------------ the cause, from logs
    def _startup_failure(self, ev) -> startup.StartupFailure | None:
        found = [f for f in (startup.classify(d) for d in kube.scoring_logs(ev)) if f]
        if not found:
            return None
        return max(found, key=lambda f: f.confidence)

    def _cause(self, failure: startup.StartupFailure, platform: str = ""):
        title = {
            Category.ENTRY_SCRIPT_IMPORT_ERROR: "The scoring script cannot be imported",
            Category.DEPENDENCY_VERSION_CONFLICT: "A package version clash stops the scoring server",
            Category.MODEL_NOT_FOUND: "init() cannot find the model files",
        }.get(failure.category, "init() raised an exception")
        return self.finding(
            title=f"{title}: {failure.summary}",
            explanation=self._explain(failure),
            evidence=failure.evidence,
            subject=failure.where or "score.py",
            confidence=failure.confidence,
            category=failure.category,
            fix=_FIXES.get(failure.category, _FIXES[Category.ENTRY_SCRIPT_INIT_ERROR])(failure, platform),
            alternatives=failure.alternatives,
            decide=(
                ""
                if failure.confidence >= 0.6
                else "Read the previous container log: `kubectl logs <pod> --previous`, or `print(service.get_logs())`."
            ),
        )

    def _explain(self, failure) -> str:
        where = f" at {failure.where}" if failure.where else ""
        if failure.category is Category.ENTRY_SCRIPT_IMPORT_ERROR:
            missing = f" `{failure.package}` is not installed in the environment image." if failure.package else ""
            return f"The inference server could not import the entry script{where}.{missing} The server exits with code 3 and the pod restarts."
        if failure.category is Category.DEPENDENCY_VERSION_CONFLICT:
            return (
                f"{failure.summary}. The package is installed, but in a version that clashes with the inference "
                "server or with the library that saved the model."
            )
        if failure.category is Category.MODEL_NOT_FOUND:
            return f"init() looked for the model{where} and it is not there: {failure.summary}."
        return f"The user's init() raised{where}: {failure.summary}. The server exits with code 3 and Kubernetes restarts the container."

    # ------------------------------------------------------------------ the symptom, from pod state
    def _crashing(self, ev) -> list[kube.ContainerState]:
        out = []
        for s in kube.scoring_states(ev):
            if s.waiting_reason in _OTHER_STAGE_REASONS or (s.ready and s.running):
                continue
            if s.waiting_reason in _CRASH_REASONS or s.restart_count >= _RESTARTS_THAT_MATTER or (
                s.terminated_reason and not s.running
            ):
                out.append(s)
        return out

    def _symptom(self, s: kube.ContainerState, failure):
        last = f"last exit code {s.exit_code}" if s.exit_code is not None else "no exit code recorded"
        if s.terminated_reason:
            last += f" ({s.terminated_reason})"
        reason = s.waiting_reason or ("not ready" if not s.ready else "restarting")
        because = f" The logs say why: {failure.summary}." if failure else " The logs in the evidence do not say why."
        return self.finding(
            # Pasted `kubectl describe pod` text may lack the Name: line: no empty name in the title.
            title=f"{f'Pod {s.pod}' if s.pod else 'The scoring pod'} is not ready: {reason}, {s.restart_count} restarts, {last}",
            explanation=f"The scoring container `{s.container}` keeps failing to start.{because}",
            evidence=[EvidenceItem(s.locator, f"waiting: {s.waiting_reason or '-'}; restartCount: {s.restart_count}; {last}")],
            subject=f"pod/{s.pod}",
            confidence=0.9 if failure else 0.5,
            category=failure.category if failure else Category.CRASH_LOOP_OTHER,
            stage=Stage.CONTAINER,
            severity=Severity.HIGH,
            fix=Fix(
                summary="Fix the cause the logs show; the restarts stop by themselves.",
                steps=(f"kubectl logs {s.pod} -c {s.container} --previous",),
                verify=(f"kubectl get pod {s.pod} -w   # READY 1/1, RESTARTS stops growing",),
            ),
            decide="" if failure else f"Read the crash: `kubectl logs {s.pod} -c {s.container} --previous`.",
        )


def _distribution(module: str) -> str:
    """The PyPI distribution that provides ``module``: the longest dotted prefix in the map beside
    this rule, else the import name itself."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        found = _DISTRIBUTIONS.get(".".join(parts[:n]))
        if found:
            return found
    return parts[0]


def _redeploy(platform: str) -> str:
    if targets.is_v2(platform):
        return "Update the environment's conda file and redeploy: az ml online-deployment update -e <endpoint> -n <deployment> -f deployment.yml"
    return "Or: env.python.conda_dependencies.add_pip_package('<package>') and redeploy with Model.deploy(..., overwrite=True)."


def _verify(platform: str) -> str:
    if targets.is_v2(platform):
        return "After redeploying: az ml online-deployment get-logs -e <endpoint> -n <deployment> shows init() completed."
    return "After redeploying: service.get_logs() shows `Users's init has completed successfully`."


def _fix_import(failure, platform=""):
    named = _MISSING_MODULE.search(failure.summary)
    module = named.group(1) if named else failure.package
    pkg = _distribution(module) if module else "<package>"
    provides = f" (it provides the module `{module}`)" if module and pkg != module.split(".")[0] else ""
    return Fix(
        summary=f"Add `{pkg}` to the environment the service is deployed with{provides}.",
        steps=(
            f"In the conda YAML, under pip: add `- {pkg}` (pinned to the version you trained with).",
            _redeploy(platform).replace("<package>", pkg),
            "Reproduce locally first: pip install azureml-inference-server-http && azmlinfsrv --entry_script score.py",
        ),
        verify=(_verify(platform),),
    )


def _fix_init(failure, platform=""):
    where = failure.where or "score.py"
    return Fix(
        summary=f"Fix the error raised in init() at {where}.",
        steps=(
            "Reproduce locally: pip install azureml-inference-server-http && azmlinfsrv --entry_script score.py",
            "Read configuration with defaults (os.getenv('X', default)) and check the files init() opens exist.",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


def _fix_model(failure, platform=""):
    return Fix(
        summary="Load the model from AZUREML_MODEL_DIR, with the name and version the service was deployed with.",
        steps=(
            "model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'model.pkl')   # in init()",
            "Check the registered model's files: Model(ws, name='<model>', version=<n>).get_model_path() / az ml model show",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


def _fix_conflict(failure, platform=""):
    if failure.package in startup.REMOVED_STDLIB:
        return Fix(
            summary=f"Use a Python the inference server supports: `{failure.package}` was removed from newer Pythons.",
            steps=(
                "Pin python=3.11 (or lower) in the environment's conda file,",
                f"or upgrade the package that imports `{failure.package}` to a release that no longer needs it.",
            ),
            verify=(_verify(platform),),
        )
    if failure.package in ("flask", "jinja2"):
        return Fix(
            summary="Do not pin Flask or jinja2 yourself; use an inference server that supports them.",
            steps=(
                "Use azureml-defaults>=1.44 (inference server >= 0.7.0), which supports Flask 2,",
                "or pin azureml-defaults==1.43 / azureml-inference-server-http~=0.4.13 and remove your Flask/jinja2 pins.",
            ),
            verify=("After redeploying: the log banner shows the new server version and init completes.",),
        )
    pkg = failure.package or "<package>"
    return Fix(
        summary=f"Pin `{pkg}` to the version the model was trained and saved with.",
        steps=(
            f"Find the training version: pip show {pkg} in the training environment (or the run's conda env).",
            f"Pin it in the deployment environment: `- {pkg}==<that version>`.",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


_FIXES = {
    Category.ENTRY_SCRIPT_IMPORT_ERROR: _fix_import,
    Category.ENTRY_SCRIPT_INIT_ERROR: _fix_init,
    Category.MODEL_NOT_FOUND: _fix_model,
    Category.DEPENDENCY_VERSION_CONFLICT: _fix_conflict,
}
