from __future__ import annotations

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor import kube, startup

# Waiting reasons that belong to earlier stages: their own rules explain them.
_OTHER_STAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "ContainerCreating", "PodInitializing", "InvalidImageName"}
_CRASH_REASONS = {"CrashLoopBackOff", "Error", "RunContainerError", "CreateContainerError", "CreateContainerConfigError"}
_RESTARTS_THAT_MATTER = 3


class PodNotReady(Rule):
    id = "AML004"
    name = "pod-not-ready"
    category = Category.ENTRY_SCRIPT_INIT_ERROR
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
            yield self._cause(failure)
        for state in self._crashing(ev):
            yield self._symptom(state, failure)

    # ------------------------------------------------------------------ the cause, from logs
    def _startup_failure(self, ev) -> startup.StartupFailure | None:
        found = [f for f in (startup.classify(d) for d in kube.scoring_logs(ev)) if f]
        if not found:
            return None
        return max(found, key=lambda f: f.confidence)

    def _cause(self, failure: startup.StartupFailure):
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
            fix=_FIXES.get(failure.category, _FIXES[Category.ENTRY_SCRIPT_INIT_ERROR])(failure),
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
            title=f"Pod {s.pod} is not ready: {reason}, {s.restart_count} restarts, {last}",
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


def _fix_import(failure):
    pkg = failure.package or "<package>"
    return Fix(
        summary=f"Add `{pkg}` to the environment the service is deployed with.",
        steps=(
            f"In the conda YAML, under pip: add `- {pkg}` (pinned to the version you trained with).",
            "Or: env.python.conda_dependencies.add_pip_package('" + pkg + "') and redeploy with Model.deploy(..., overwrite=True).",
            "Reproduce locally first: pip install azureml-inference-server-http && azmlinfsrv --entry_script score.py",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


def _fix_init(failure):
    where = failure.where or "score.py"
    return Fix(
        summary=f"Fix the error raised in init() at {where}.",
        steps=(
            "Reproduce locally: pip install azureml-inference-server-http && azmlinfsrv --entry_script score.py",
            "Read configuration with defaults (os.getenv('X', default)) and check the files init() opens exist.",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


def _fix_model(failure):
    return Fix(
        summary="Load the model from AZUREML_MODEL_DIR, with the name and version the service was deployed with.",
        steps=(
            "model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'model.pkl')   # in init()",
            "Check the registered model's files: Model(ws, name='<model>', version=<n>).get_model_path() / az ml model show",
        ),
        verify=("After redeploying: service.get_logs() shows `Users's init has completed successfully`.",),
    )


def _fix_conflict(failure):
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
