from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import kube, packages, platform, pytraceback
from aml_doctor.engine.rule import excerpt

# The inference server's answer when run() raises (https://github.com/microsoft/azureml-inference-server), and the azureml-fe 502.
_HTTP_500_BODY = re.compile(r"An unexpected error occurred in scoring script")
_RUN_FAILED_HEADER = re.compile(r"x-ms-run-function-failed")
_REPLICA_CLOSED = re.compile(r"Replica closed connection before replying")
_COWBOY_502 = re.compile(r"\b502\b.*Bad Gateway|Bad Gateway.*\b502\b|^\s*server:\s*Cowboy\s*$", re.IGNORECASE | re.MULTILINE)
# A timeout raises through the same code path; AML014 owns it.
_TIMEOUT = re.compile(r"Scoring timeout after|Script failed to finish execution within the allocated time|TimeoutException|UserScriptTimeout")
_SERVER_WRAPPERS = ("RunFunctionException", "UserScriptException")
_REPRODUCE = (
    "Reproduce with the request body from the log: azmlinfsrv --entry_script score.py, then "
    "curl -X POST localhost:5001/score -H 'Content-Type: application/json' -d @request.json"
)


@with_signatures(__file__)
class ScoringRunError(Rule):
    id = "AML013"
    name = "scoring-run-error"
    category = Category.ENTRY_SCRIPT_RUN_ERROR
    severity = Severity.HIGH
    stage = Stage.RUN
    requires = ("container_logs|azureml_logs|text",)
    # run() failing because a library lacks a name the code uses (numpy 1.24's np.float, pandas'
    # is_datetimelike) is a version clash in the image, not a bug in the request or in run().
    modes = (
        Mode("run-error", Category.ENTRY_SCRIPT_RUN_ERROR),
        Mode("dependency-conflict", Category.DEPENDENCY_VERSION_CONFLICT),
    )
    # Said here, not left to comments: the cases this rule stays silent on because another rule reports them.
    defers = {"AML014": "a request that timed out, which raises through the same code path"}
    signals = (
        "Encountered Exception",
        "An unexpected error occurred in scoring script",
        "x-ms-run-function-failed",
        "Replica closed connection before replying",
        "RunFunctionException",
        "UserScriptException",
    )
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/how-to-inference-server-http",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        failed = [(doc, self._run_tracebacks(doc)) for doc in docs]
        reported = set()
        for doc, tbs in failed:
            # The user's half of a chained run() failure: the server's own wrapper carries no line of score.py.
            user = [tb for tb in tbs if tb.user_frame is not None]
            for tb in user:
                frame = tb.user_frame
                key = (frame.file, frame.line, tb.exc_type)
                if key in reported:
                    continue
                reported.add(key)
                yield self._traceback_finding(doc, tb, sum(t.user_frame == frame for t in user))
        if reported:
            return
        # A request that failed between the server's call into run() and the user's code: run()'s
        # input schema decorator (inference_schema) rejecting the body, or json.dumps of what run()
        # returned. No line of score.py is in the traceback, but it is run()'s request that failed.
        server_side = next(((doc, tb) for doc, tbs in failed for tb in tbs if tb.frames), None)
        if server_side:
            yield self._server_side_finding(*server_side)
            return
        response = platform.lines(docs, _HTTP_500_BODY) + platform.lines(docs, _RUN_FAILED_HEADER)
        if response and not platform.lines(docs, _TIMEOUT):
            yield self._response_finding(response)
            return
        closed = platform.lines(docs, _REPLICA_CLOSED)
        if closed:
            yield self._replica_closed_finding(ev, closed, platform.lines(docs, _COWBOY_502))

    # ------------------------------------------------------------------ a library without a name
    def _traceback_clash(self, doc, tb):
        """``_version_clash`` for a request traceback."""
        return self._version_clash(f"{tb.short_type}: {tb.exc_message}", [EvidenceItem(doc.locator(tb.first_line), tb.excerpt())])

    def _version_clash(self, text: str, evidence):
        """The finding for run() failing on a library module that lacks a name, or None."""
        missing = packages.library_name_missing(text)
        if not missing:
            return None
        module, name, dist = missing.module, missing.name, missing.distribution
        return self.finding(
            title=f"run() fails on a package version clash: module '{module}' has no attribute '{name}'",
            explanation=(
                f"init() completed, and run() failed on requests because `{module}.{name}` does not exist in the "
                f"{dist} installed in the image: the code (or the library that calls it) was written for another "
                f"release of {dist}, one that still had (or already had) `{name}`."
            ),
            evidence=evidence,
            subject="run()",
            confidence=0.85,
            category=Category.DEPENDENCY_VERSION_CONFLICT,
            fix=Fix(
                summary=f"Pin `{dist}` to the release the code was written for, or move the code to {dist}'s current API.",
                steps=(
                    f"pip show {dist}   # in the training environment: the version the code and model work with",
                    f"Pin it in the deployment environment's conda file (`- {dist}==<that version>`) and redeploy.",
                ),
                verify=("Send the same request again: HTTP 200, no `Encountered Exception` in the scoring log.",),
            ),
        )

    # ------------------------------------------------------------------ a traceback through run()
    def _run_tracebacks(self, doc):
        """Request tracebacks through run() that are neither the server's wrapper nor a timeout."""
        return [
            tb
            for tb in platform.request_tracebacks(doc)
            if tb.short_type not in _SERVER_WRAPPERS
            and not _TIMEOUT.search(tb.excerpt(400))
            and _calls_run(tb)
        ]

    def _server_side_finding(self, doc, tb):
        clash = self._traceback_clash(doc, tb)
        if clash:
            return clash
        last = tb.frames[-1]
        where = f"{last.file.rsplit('/', 1)[-1]} line {last.line}"
        message = f"{tb.short_type}: {tb.exc_message}".rstrip(": ")
        serialising = any(f.func in ("wrap_response", "dumps", "encode", "iterencode") for f in tb.frames)
        return self.finding(
            title=f"run() fails on requests: {message}, raised in {where}",
            explanation=(
                f"init() completed, and a scoring request failed with {message}, raised at {last.file} line {last.line}. "
                + (
                    "The server could not serialise what run() returned into JSON: run() returned an object "
                    "(bytes, a numpy array, a DataFrame) that json.dumps cannot write."
                    if serialising
                    else "The traceback goes from the server's call into run() to library code without a line of "
                    "score.py: run()'s input handling (its input schema decorator, or the model's own checks) "
                    "rejected the request body."
                )
            ),
            evidence=[EvidenceItem(doc.locator(tb.first_line), tb.excerpt())],
            subject="run()",
            confidence=0.8,
            fix=Fix(
                summary=(
                    "Return JSON-serialisable values from run(): .tolist() for arrays, .decode() for bytes, a dict or list."
                    if serialising
                    else "Send the body run() expects: the columns, their number and order, and the keys of the input schema."
                ),
                steps=(
                    _REPRODUCE,
                    "Compare the body with the input sample the service was deployed with (its swagger.json shows the schema).",
                ),
                verify=("Send the same request again: HTTP 200, no `Encountered Exception` in service.get_logs().",),
            ),
        )

    def _traceback_finding(self, doc, tb, count: int):
        clash = self._traceback_clash(doc, tb)
        if clash:
            return clash
        frame = tb.user_frame
        short_file = frame.file.rsplit("/", 1)[-1]
        where = f"{short_file} line {frame.line}"
        func = f" in {frame.func}()" if frame.func != "run" else ""
        times = f" ({count} requests)" if count > 1 else ""
        evidence = [EvidenceItem(doc.locator(tb.first_line), tb.excerpt())]
        status = doc.first(r'"(?:POST|GET) /score HTTP/[\d.]+" 50\d|\b(?:POST|GET) /score 50\d\b')
        if status:
            evidence.append(excerpt(doc, status.line_no))
        message = f"{tb.short_type}: {tb.exc_message}".rstrip(": ")
        return self.finding(
            title=f"run() raises {message} at {where}{times}",
            explanation=(
                f"init() completed, and then run() failed on a scoring request: {message}, raised at {frame.file} "
                f"line {frame.line}{func} (`{frame.code}`). The server answers such a request with HTTP 500 "
                "(`An unexpected error occurred in scoring script`); the container stays up."
            ),
            evidence=evidence,
            subject=f"{frame.file}:{frame.line}",
            confidence=0.92,
            fix=Fix(
                summary=f"Fix {where}: {message} is raised for the requests the service receives.",
                steps=(
                    _REPRODUCE,
                    "Validate the input in run() and return a clear 400-style message instead of raising "
                    "(for example: check the expected keys and the number of features).",
                    "Redeploy: service.update(inference_config=...) or Model.deploy(..., overwrite=True).",
                ),
                verify=(
                    "Send the same request again: HTTP 200, no `Encountered Exception` in service.get_logs().",
                ),
            ),
        )

    # ------------------------------------------------------------------ only the client's view
    def _response_finding(self, hits):
        evidence = [excerpt(h.doc, h.line_no) for h in hits[:2]]
        clash = self._version_clash("\n".join(e.excerpt for e in evidence), evidence)
        if clash:
            return clash
        return self.finding(
            title="Scoring requests fail with HTTP 500: run() raised an exception",
            explanation=(
                "The inference server answers `An unexpected error occurred in scoring script` and sets "
                "`x-ms-run-function-failed: True` only when the user's run() raised. The traceback is in the "
                "container log, which the evidence does not include."
            ),
            evidence=evidence,
            subject="run()",
            confidence=0.8,
            fix=Fix(
                summary="Read the traceback in the scoring container's log and fix run().",
                steps=(
                    "print(service.get_logs())   # or: kubectl logs <pod> -n azureml-<workspace>",
                    "Look for `Encountered Exception: Traceback` and the score.py line it names.",
                ),
                verify=("Send the same request again: HTTP 200.",),
            ),
            decide="The log names the failing line: `print(service.get_logs())` and look for `Encountered Exception`.",
        )

    # ------------------------------------------------------------------ azureml-fe 502
    def _replica_closed_finding(self, ev, closed, gateway):
        restarts = platform.scoring_restarts(ev)
        evidence = [excerpt(h.doc, h.line_no) for h in (closed[:1] + gateway[:1])]
        evidence += [
            EvidenceItem(s.locator, f"restartCount: {s.restart_count}; last termination: {s.terminated_reason or '-'} (exit code {s.exit_code})")
            for s in restarts[:2]
        ]
        if restarts:
            killed = ", ".join(sorted({s.terminated_reason or s.waiting_reason for s in restarts if s.terminated_reason or s.waiting_reason})) or "restarted"
            return self.finding(
                title=f"HTTP 502 from azureml-fe: the scoring container died mid-request ({killed})",
                explanation=(
                    "azureml-fe answered 502 `Replica closed connection before replying`: the replica dropped the "
                    f"connection. The scoring container restarted ({killed}), so the 502 is most likely the crash "
                    "itself (an out-of-memory kill or a crash in the server), and the finding that explains the "
                    "restart is the cause; a run() exception that kills the worker is the other possibility."
                ),
                evidence=evidence,
                subject="azureml-fe/502",
                confidence=0.45,
                alternatives=(Category.OOM_KILLED, Category.CRASH_LOOP_OTHER),
                decide=(
                    "Compare the time of the 502 with the last termination: `kubectl describe pod <pod>` "
                    "(Last State: OOMKilled / exit code 137 means memory) and `kubectl logs <pod> --previous`."
                ),
                fix=Fix(
                    summary="Fix what kills the container; the 502s stop with it.",
                    steps=(
                        "kubectl describe pod <pod> -n azureml-<workspace>   # Last State, Exit Code, Reason",
                        "kubectl logs <pod> -n azureml-<workspace> --previous",
                    ),
                    verify=("kubectl get pod <pod> -w   # RESTARTS stops growing while requests succeed",),
                ),
            )
        return self.finding(
            title="HTTP 502 from azureml-fe: the replica closed the connection before replying",
            explanation=(
                "azureml-fe answered 502 `Replica closed connection before replying`. Microsoft's troubleshooting "
                "guide reads a 502 as run() throwing or crashing; a pod replaced during service.update() gives the "
                "same answer. No restart of the scoring container is in the evidence."
            ),
            evidence=evidence,
            subject="azureml-fe/502",
            confidence=0.6,
            alternatives=(Category.GATEWAY_TIMEOUT_OR_ROUTER_ERROR,),
            decide=(
                "Read the scoring log around the time of the 502 (`print(service.get_logs())`): an `Encountered "
                "Exception` traceback means run(); nothing there, with an update in progress, means the pod was replaced."
            ),
            fix=Fix(
                summary="Find the request in the scoring log and fix what run() does with it.",
                steps=(
                    "print(service.get_logs())   # look for the traceback at the time of the 502",
                    "Wrap run() in try/except while debugging and return the error text (Microsoft's suggestion).",
                ),
                verify=("Send the same request again: HTTP 200.",),
            ),
        )


def _calls_run(tb) -> bool:
    """The traceback passes through a user function named run, or through the server's request path."""
    return any(f.func == "run" for f in tb.frames) or pytraceback.through_scoring_route(tb)
