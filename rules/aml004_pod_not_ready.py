from __future__ import annotations

import re
from dataclasses import dataclass

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.engine import signatures
from aml_doctor.engine.signatures import with_signatures
from aml_doctor.views import kube, packages, startup, targets

# Waiting reasons that belong to earlier stages: their own rules explain them.
_OTHER_STAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "ContainerCreating", "PodInitializing", "InvalidImageName"}
_CRASH_REASONS = {"CrashLoopBackOff", "Error", "RunContainerError", "CreateContainerError", "CreateContainerConfigError"}
_RESTARTS_THAT_MATTER = 3
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# Signatures (``aml004_pod_not_ready.signatures.yml``) that name the cause more exactly than the
# exception the log shows: read before it. The others are read after it.
_BEFORE_THE_EXCEPTION = (
    "flask2-under-old-server", "jinja2-markup-removed", "transformers-too-old-for-model", "no-init-function", "no-run-function",
    "run-signature",
)
_LAST = ("worker-boot-failed",)
# Signatures about the server's own environment, not the user's script: their title and explanation
# stand alone (no "the scoring script cannot be imported", no exit code 3: the server never started).
_SERVER_ITSELF = ("inference-server-package-missing",)
# Lines quoted around a signature's line (before, after); (1, 1) for the others.
_CONTEXT = {
    "flask2-under-old-server": (3, 1), "jinja2-markup-removed": (3, 1), "worker-boot-failed": (2, 1),
    # The old lookup line is a frame: its KeyError follows a few lines on.
    "transformers-too-old-for-model": (1, 3),
    "v2-user-script-init-failed": (0, 0), "v2-user-script-import-error": (0, 0), "v2-user-script-function-not-found": (0, 0),
}
# What the exception says about the cause: missing model files are model_not_found; a package present
# in the wrong version is a dependency conflict; a package missing altogether is an import error;
# anything else init() raised is the user's init error.
_MODEL_ERRORS = ("ModelNotFoundException",)
# Hugging Face transformers raises OSError "Can't load tokenizer for <model>" (or config, weights)
# when the model's files are not where it looks; the HF deployment page lists it under models with
# incorrect tokenizers (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-models-from-huggingface).
# A file not found whose name is a serialised model (joblib or pickle for scikit-learn, .pt/.pth for
# PyTorch, .h5/.keras for Keras, .onnx, .safetensors) is the model missing where init() looks: the
# category table's "FileNotFoundError under AZUREML_MODEL_DIR", when the paste shows the file alone.
_MODEL_TEXT = re.compile(
    r"Model not found in cache or in root|can contain only 1 file or folder|azureml-models|\b[Mm]odel\b[\w ]{0,24}\bnot found|"
    r"Can't load (?:the )?(?:tokenizer|config|model|feature extractor|processor) for|"
    r"\.(?:joblib|pkl|pickle|pt|pth|h5|keras|onnx|safetensors)\b"
)
# "cannot import name 'X' from 'Y'": Python before 3.7 printed the same error without the module
# ("cannot import name 'joblib'", sklearn.externals' after scikit-learn 0.23 removed it). A name
# missing from a partially initialised module is a circular import in the user's own code instead.
_VERSION_CLASH = re.compile(
    r"cannot import name '(\w+)'(?! from partially)(?: from '([\w.]+)')?|numpy\.core\.multiarray failed to import|"
    r"size changed, may indicate binary incompatibility|module compiled against API version|"
    r"Can't get attribute '\w+' on <module '([\w.]+)'"
)
# Standard-library modules that newer Pythons removed: distutils in 3.12 (PEP 632), the "dead
# batteries" in 3.13 (PEP 594), imp and asynchat/asyncore in 3.12.
REMOVED_STDLIB = frozenset({
    "distutils", "imp", "asynchat", "asyncore", "smtpd", "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt",
    "imghdr", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau",
    "telnetlib", "uu", "xdrlib", "lib2to3",
})


# Submodules their library removed in a release, so that code (or a pickled model) written for the
# older version cannot import them. scikit-learn's own warnings say when: "sklearn.externals.joblib
# is deprecated in 0.21 and will be removed in 0.23", "The sklearn.ensemble.forest module is
# deprecated in version 0.22 and will be removed in version 0.24"; TensorFlow 2.0 removed tf.contrib
# (https://github.com/tensorflow/tensorflow/releases/tag/v2.0.0).
REMOVED_SUBMODULES = ("sklearn.externals", "sklearn.ensemble.forest", "tensorflow.contrib")


# init() refused by a server it connects to: one in the same container (Triton in a custom image)
# that the image's startup did not start before the scoring worker, or another service. The first
# is the image's entrypoint, not score.py: gvashishtha/azureml-examples' Triton notebook failed so
# when inferencing_stack_version='latest' replaced the image's startup (its next commit, "shows
# issue with inference stack version").
_REFUSED = re.compile(r"ConnectionRefusedError|\[Errno 111\]|Connection refused", re.IGNORECASE)
_REFUSED_DECIDE = (
    "Which server init() connects to: on localhost, a server the image itself should start (Triton, a sidecar "
    "process), so check that the image's startup runs it before the scoring worker (`docker run` the image and "
    "read its first log lines; do not override the image's entrypoint or inferencing stack); elsewhere, that "
    "service's address and the network between them."
)


@dataclass(frozen=True)
class StartupFailure:
    category: Category
    summary: str  # one line: "KeyError: 'MODEL_NAME' in init() at score.py line 17"
    where: str  # "/var/azureml-app/score.py line 17", or ""
    evidence: tuple[EvidenceItem, ...]
    confidence: float
    package: str = ""  # the module/package to install or re-pin, when known
    alternatives: tuple[Category, ...] = ()
    signature: signatures.Signature | None = None
    decide: str = ""


@with_signatures(__file__, fallback=False)
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
    def _startup_failure(self, ev) -> StartupFailure | None:
        found = [f for f in (self.classify(d) for d in kube.scoring_logs(ev)) if f]
        if not found:
            return None
        return max(found, key=lambda f: f.confidence)

    def classify(self, doc) -> StartupFailure | None:
        """The cause this log shows, the most specific first; None if it shows none."""
        sigs = type(self).signatures
        first = [s for s in sigs if s.id in _BEFORE_THE_EXCEPTION]
        last = [s for s in sigs if s.id in _LAST]
        middle = [s for s in sigs if s not in first and s not in last]
        log = startup.read(doc)
        # A known error text inside a traceback raised on the user's machine (a script run by hand
        # on a compute instance, DeepSpeed-MII#184) is not the scoring server's start.
        client = log.client_lines
        found = self._signed(doc, first, client)
        if found:
            return found
        if log.raised:
            r = log.raised
            category, package = _category_for(r.exc_type, r.message, r.body)
            refused = category is Category.ENTRY_SCRIPT_INIT_ERROR and bool(_REFUSED.search(f"{r.exc_type}: {r.message}"))
            return StartupFailure(category, r.summary, r.where, r.evidence, r.confidence, package,
                                  alternatives=(Category.CRASH_LOOP_OTHER,) if refused else (),
                                  decide=_REFUSED_DECIDE if refused else "")
        found = self._signed(doc, middle, client)
        if found:
            return found
        if log.marker:
            return StartupFailure(Category.ENTRY_SCRIPT_INIT_ERROR, log.marker.line.strip(), "",
                                  (startup.excerpt(doc, log.marker.line_no, 0, 3),), 0.6)
        found = self._signed(doc, last, client)
        if found and found.signature.id == "worker-boot-failed":
            # Without the traceback, an init failure and an import failure cannot be told apart.
            return StartupFailure(found.category, found.summary, "", found.evidence, found.confidence,
                                  alternatives=(Category.ENTRY_SCRIPT_IMPORT_ERROR, Category.CRASH_LOOP_OTHER), signature=found.signature)
        return found

    def _signed(self, doc, sigs, client: frozenset[int]) -> StartupFailure | None:
        modes = self.categories()
        for sig in sigs:
            hit = signatures.last_hit_in(doc, sig, skip=client)
            if hit:
                category = modes.get(sig.mode or sig.id, self.category)
                return StartupFailure(category, sig.title, "", (startup.excerpt(doc, hit.line_no, *_CONTEXT.get(sig.id, (1, 1))),), sig.confidence, signature=sig)
        return None

    def _cause(self, failure: StartupFailure, platform: str = ""):
        server_itself = failure.signature is not None and failure.signature.id in _SERVER_ITSELF
        title = {
            Category.ENTRY_SCRIPT_IMPORT_ERROR: "The scoring script cannot be imported",
            Category.DEPENDENCY_VERSION_CONFLICT: "A package version clash stops the scoring server",
            Category.MODEL_NOT_FOUND: "init() cannot find the model files",
        }.get(failure.category, "init() raised an exception")
        return self.finding(
            title=failure.summary[:1].upper() + failure.summary[1:] if server_itself else f"{title}: {failure.summary}",
            explanation=failure.signature.explanation if server_itself else self._explain(failure),
            evidence=failure.evidence,
            subject="environment" if server_itself else failure.where or "score.py",
            confidence=failure.confidence,
            category=failure.category,
            mode=(failure.signature.mode or failure.signature.id) if failure.signature else "",
            fix=(
                failure.signature.fix(platform) if failure.signature
                else _FIXES.get(failure.category, _FIXES[Category.ENTRY_SCRIPT_INIT_ERROR])(failure, platform)
            ),
            alternatives=failure.alternatives,
            decide=failure.decide or (
                ""
                if failure.confidence >= 0.6
                else "Read the previous container log: `kubectl logs <pod> --previous`, or `print(service.get_logs())`."
            ),
        )

    def _explain(self, failure) -> str:
        said = self._explain_category(failure)
        if failure.signature and failure.signature.explanation not in said:
            said += " " + failure.signature.explanation
        return said

    def _explain_category(self, failure) -> str:
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
    pkg = packages.distribution(module) if module else "<package>"
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
    if failure.package in REMOVED_STDLIB:
        return Fix(
            summary=f"Use a Python the inference server supports: `{failure.package}` was removed from newer Pythons.",
            steps=(
                "Pin python=3.11 (or lower) in the environment's conda file,",
                f"or upgrade the package that imports `{failure.package}` to a release that no longer needs it.",
            ),
            verify=(_verify(platform),),
        )
    missing = packages.library_name_missing(failure.summary)
    if missing and missing.module == "collections":
        return Fix(
            summary=f"Python 3.10 removed `collections.{missing.name}`: import it from `collections.abc`, or pin python=3.9.",
            steps=("Change `collections.{0}` to `collections.abc.{0}` in the code that uses it,".format(missing.name),
                   "or upgrade the package that uses it, or pin python=3.9 in the environment's conda file."),
            verify=(_verify(platform),),
        )
    if missing:
        dist = missing.distribution
        return Fix(
            summary=f"`{missing.module}.{missing.name}` is not in the installed {dist}: pin `{dist}` to a release that has it, or use its current API.",
            steps=(
                f"Pin the {dist} the code was written for in the environment's conda file (`- {dist}==<that version>`),",
                f"or change the code to {dist}'s current name for `{missing.name}` (the library's release notes say which).",
            ),
            verify=(_verify(platform),),
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


def _category_for(exc_type: str, message: str, body: str) -> tuple[Category, str]:
    """The cause an exception names, and the package to install or re-pin."""
    short = exc_type.rsplit(".", 1)[-1]
    text = f"{message}\n{body}"
    if short in _MODEL_ERRORS or (short in ("FileNotFoundError", "OSError") and _MODEL_TEXT.search(message)):
        return Category.MODEL_NOT_FOUND, ""
    clash = _VERSION_CLASH.search(text)
    if clash:
        return Category.DEPENDENCY_VERSION_CONFLICT, clash.group(2) or clash.group(3) or ""
    missing = packages.library_name_missing(text) if short == "AttributeError" else None
    if missing:
        return Category.DEPENDENCY_VERSION_CONFLICT, missing.distribution
    if short in ("ModuleNotFoundError", "ImportError"):
        missing = _MISSING_MODULE.search(message)
        module = missing.group(1) if missing else ""
        if module.split(".")[0] in REMOVED_STDLIB:
            # The module was part of Python and a newer Python removed it: the environment's Python
            # is too new for the package that imports it (PEP 594, PEP 632).
            return Category.DEPENDENCY_VERSION_CONFLICT, module.split(".")[0]
        # A private submodule of an installed package (sklearn.ensemble._forest) missing while a model
        # is unpickled means the model was saved by another version of that library; so does a
        # submodule that a release of its library removed.
        removed = module.startswith(REMOVED_SUBMODULES)
        if removed or (module and "." in module and any(part.startswith("_") for part in module.split(".")[1:])):
            return Category.DEPENDENCY_VERSION_CONFLICT, module.split(".")[0]
        return Category.ENTRY_SCRIPT_IMPORT_ERROR, module.split(".")[0]
    return Category.ENTRY_SCRIPT_INIT_ERROR, ""
