from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, platform, pytraceback
from aml_doctor.engine.rule import excerpt

# Exact strings (https://github.com/microsoft/azureml-inference-server, https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment): the server's own timeout, gunicorn killing a worker, the client
# or azureml-fe giving up, and azureml-fe's queue.
_SERVER_TIMEOUT = re.compile(r"Scoring timeout after (\d+) ms|Script failed to finish execution within the allocated time: ?([\d.]+) ?ms")
_WORKER_TIMEOUT = re.compile(r"WORKER TIMEOUT \(pid:\s*(\d+)\)|worker timed out, killing gunicorn")
_CLIENT_TIMEOUT = re.compile(r"Client\.Timeout exceeded while awaiting headers")
_HTTP_504 = re.compile(r"\b504\b.{0,40}Gateway Time-?out|Gateway Time-?out.{0,40}\b504\b|^HTTP/[\d.]+ 504\b", re.IGNORECASE | re.MULTILINE)
_HTTP_503 = re.compile(r"\b503\b.{0,40}Service Unavailable|^HTTP/[\d.]+ 503\b", re.IGNORECASE | re.MULTILINE)
# azureml-fe's answer when every replica is busy and the queue wait ran out (seen in client code that
# handles azureml-fe responses).
_OVERLOADED = re.compile(r"Too many requests for service \S+ \(overloaded\)")
_SCORE_URL = re.compile(r"/score\b|/api/v1/service/")
_CONFIGURED_TIMEOUT = re.compile(r"Scoring timeout is found from os\.environ: (\d+) ms|Scoring timeout setting is not found\. Use default timeout: (\d+) ms")
# A user-reported cap for scoring_timeout_ms on AKS (https://github.com/Azure/MachineLearningNotebooks/issues/1624).
MAX_SCORING_TIMEOUT_MS = 300000


@with_signatures(__file__)
class ScoringTimeoutOrOverload(Rule):
    id = "AML014"
    name = "scoring-timeout-or-overload"
    category = Category.GATEWAY_TIMEOUT_OR_ROUTER_ERROR
    severity = Severity.HIGH
    stage = Stage.RUN
    requires = ("container_logs|azureml_logs|text",)
    signals = (
        "Scoring timeout after",
        "Script failed to finish execution within the allocated time",
        "WORKER TIMEOUT",
        "worker timed out, killing gunicorn",
        "Client.Timeout exceeded while awaiting headers",
        "Gateway Timeout",
        "Service Unavailable",
        "(overloaded)",
        "Scoring timeout is found",
        "Scoring timeout setting is not found",
    )
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment",
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        configured = platform.lines(docs, _CONFIGURED_TIMEOUT)
        worker = platform.lines(docs, _WORKER_TIMEOUT)
        server = platform.lines(docs, _SERVER_TIMEOUT)
        if worker:
            yield self._worker_timeout(worker, configured)
        if server or platform.lines(docs, _CLIENT_TIMEOUT) or self._scoring_lines(docs, _HTTP_504):
            yield self._request_timeout(ev, docs, server, configured)
        overloaded = platform.lines(docs, _OVERLOADED) or self._scoring_lines(docs, _HTTP_503)
        if overloaded:
            yield self._overload(overloaded)

    def _scoring_lines(self, docs, pattern):
        # A status code alone says nothing about scoring; the same document must name the scoring URL.
        return [h for h in platform.lines(docs, pattern) if _SCORE_URL.search(h.doc.text)]

    # ------------------------------------------------------------------ gunicorn killed the worker
    def _worker_timeout(self, hits, configured):
        doc = hits[0].doc
        completed = doc.first(pytraceback.INIT_COMPLETED)
        during_init = completed is None or completed.line_no > hits[0].line_no
        evidence = [excerpt(doc, hits[0].line_no, 1, 2)]
        if during_init:
            return self.finding(
                title="gunicorn killed the scoring worker before init() finished (WORKER TIMEOUT)",
                explanation=(
                    "gunicorn's worker timeout (WORKER_TIMEOUT, 300 s by default) ran out while init() was still "
                    "running: the log never says `Users's init has completed successfully` before the kill. "
                    "gunicorn kills the worker, the server exits with code 3 and the pod restarts, so init() never "
                    "finishes. Loading a large model (or downloading it in init()) is the usual reason."
                ),
                evidence=evidence,
                subject="gunicorn/worker-timeout",
                stage=Stage.INIT,
                confidence=0.75,
                alternatives=(Category.ENTRY_SCRIPT_INIT_ERROR, Category.OOM_KILLED),
                decide=(
                    "Time init() locally (`azmlinfsrv --entry_script score.py`): if it takes longer than the worker "
                    "timeout it is slow, not broken; a `Killed` or exit code 137 nearby means memory instead."
                ),
                fix=Fix(
                    summary="Make init() finish within the worker timeout, or raise the timeout.",
                    steps=(
                        "Load the model once from AZUREML_MODEL_DIR; do not download or convert it in init().",
                        "Raise the gunicorn worker timeout: environment variable WORKER_TIMEOUT=600 in the inference "
                        "environment (env.environment_variables['WORKER_TIMEOUT'] = '600').",
                        "Give the container more CPU so loading is faster: cpu_cores in AksWebservice.deploy_configuration.",
                    ),
                    verify=("service.get_logs() shows `Users's init has completed successfully` with no WORKER TIMEOUT.",),
                ),
            )
        return self.finding(
            title="gunicorn killed the scoring worker in the middle of a request (WORKER TIMEOUT)",
            explanation=(
                "A request kept the worker busy longer than gunicorn's worker timeout (WORKER_TIMEOUT, 300 s by "
                "default), so gunicorn killed it; the client sees a timeout or a 502. run() is too slow for the "
                "request, or hangs (an infinite loop or a call that never returns)."
            ),
            evidence=evidence + [excerpt(h.doc, h.line_no) for h in configured[:1]],
            subject="gunicorn/worker-timeout",
            confidence=0.85,
            alternatives=(Category.ENTRY_SCRIPT_RUN_ERROR,),
            decide="Time run() locally with the same request body: a hang is a bug in run(), a slow answer needs a longer timeout.",
            fix=_fix_timeout(),
        )

    # ------------------------------------------------------------------ the request timed out
    def _request_timeout(self, ev, docs, server, configured):
        hits = server + platform.lines(docs, _CLIENT_TIMEOUT) + self._scoring_lines(docs, _HTTP_504)
        evidence = [excerpt(h.doc, h.line_no) for h in hits[:2]] + [excerpt(h.doc, h.line_no) for h in configured[:1]]
        restarts = platform.scoring_restarts(ev)
        limit = ""
        if server:
            m = server[0].match
            limit = f" of {m.group(1) or m.group(2)} ms"
        if restarts:
            evidence += [EvidenceItem(s.locator, f"restartCount: {s.restart_count}; last termination: {s.terminated_reason or '-'}") for s in restarts[:1]]
        return self.finding(
            title=f"Scoring requests time out: run() does not answer within the scoring timeout{limit}",
            explanation=(
                "The request did not complete in time"
                + (" (the inference server stopped run() and answered `Scoring timeout after`)" if server else
                   " (azureml-fe or the client gave up waiting for headers: HTTP 504)")
                + ". The v1 default scoring_timeout_ms is 60000 ms; a run() that takes longer for a request, or hangs, "
                "times out there. "
                + ("The scoring container also restarted, which cuts requests off too." if restarts else "")
            ).strip(),
            evidence=evidence,
            subject="scoring-timeout",
            confidence=0.6 if restarts else (0.9 if server else 0.75),
            alternatives=(Category.OOM_KILLED, Category.ENTRY_SCRIPT_RUN_ERROR) if restarts else (),
            decide=(
                "Check whether the restarts line up with the timeouts: `kubectl describe pod <pod>` (Last State)."
                if restarts else ""
            ),
            fix=_fix_timeout(),
        )

    # ------------------------------------------------------------------ the queue is full
    def _overload(self, hits):
        return self.finding(
            title="azureml-fe rejects requests with 503: every replica is busy and the queue wait ran out",
            explanation=(
                "azureml-fe queues a request while every replica is busy and answers 503 once it waited "
                "max_request_wait_time (maxQueueWaitMs, 500 ms by default). Spikes in requests per second, too few "
                "replicas, or run() taking long for each request fill the queue."
            ),
            evidence=[excerpt(h.doc, h.line_no) for h in hits[:2]],
            subject="azureml-fe/503",
            confidence=0.8,
            fix=Fix(
                summary="Add capacity: more replicas, earlier autoscaling, more concurrent requests per replica.",
                steps=(
                    "service.update(autoscale_min_replicas=2, autoscale_max_replicas=10, autoscale_target_utilization=50)",
                    "replicas = ceil(target requests/s * seconds per request / target utilization / replica_max_concurrent_requests)",
                    "If clients can wait, raise max_request_wait_time (ms) in AksWebservice.deploy_configuration.",
                    "azureml-fe does not add nodes: enable the AKS cluster autoscaler if replicas stay Pending.",
                ),
                verify=("Replay the load: no 503 answers; kubectl get pods -l azuremlappname=<service> shows the replicas Running.",),
            ),
        )


def _fix_timeout() -> Fix:
    return Fix(
        summary=f"Make run() faster, or raise scoring_timeout_ms (AKS accepts at most {MAX_SCORING_TIMEOUT_MS}).",
        steps=(
            "service.update(scoring_timeout_ms=120000)   # or scoring_timeout_ms in AksWebservice.deploy_configuration",
            f"Values above {MAX_SCORING_TIMEOUT_MS} ms are reported to fail the update; beyond that, make run() faster.",
            "Move work that does not depend on the request (loading, warm-up) from run() into init().",
            "Send smaller batches per request; add replicas so requests do not queue behind slow ones.",
        ),
        verify=("Time a request: curl -w '%{time_total}\\n' -X POST <scoring_uri> ... answers 200 within the timeout.",),
    )
