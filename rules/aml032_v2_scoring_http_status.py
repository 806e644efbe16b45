"""AML032: a v2 online endpoint's scoring request fails with a status the troubleshooting page explains."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Mode, Rule, Severity, Stage
from aml_doctor.views import v2views
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

# az ml online-endpoint invoke / azure-ai-ml invoke print this on a failed request.
_STATUS = re.compile(r"Response status code does not indicate success: (\d{3})|\bHTTP/[\d.]+ (\d{3})\b|\bstatus(?: code)?[=: ]+(\d{3})\b", re.IGNORECASE)
_SCORING = re.compile(r"online-endpoint invoke|\.invoke\(|/score\b|inference\.ml\.azure\.com|/api/v1/endpoint/", re.IGNORECASE)
_DURATION = re.compile(r"POST /score (\d{3}) ([\d.]+)ms")
DEFAULT_TIMEOUT_MS = 5000  # request_settings.request_timeout_ms default (learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-kubernetes-online)

# Status -> (meaning, fix steps, mode), as the "HTTP status codes" tables of
# how-to-troubleshoot-online-endpoints give them (managed and Kubernetes online endpoints).
_MEANING = {
    401: ("'you don't have permission to do the requested action, such as score, or your token is expired or in the wrong format'",
          ("az ml online-endpoint get-credentials -n <endpoint>   # the key, or: az account get-access-token --resource https://ml.azure.com for aml_token",
           "send it as 'Authorization: Bearer <key or token>'"), "unauthorized"),
    404: ("no deployment takes the traffic: 'the endpoint doesn't have any valid deployment with positive weight' (or the URI is not the endpoint's)",
          ("az ml online-endpoint show -n <endpoint> --query traffic   # every deployment at 0 sends 404",
           "az ml online-endpoint update -n <endpoint> --traffic '<deployment>=100'",
           "az ml online-endpoint show -n <endpoint> --query scoring_uri   # the exact URI to call"), "not-serving"),
    408: ("'the model execution took longer than the timeout supplied in request_timeout_ms under request_settings'",
          ("set request_settings.request_timeout_ms (for example 30000) in deployment.yml and run az ml online-deployment update -f deployment.yml",
           "or make run() faster: load the model in init(), send smaller batches"), "gateway-status"),
    409: ("an operation is already in progress on the endpoint: 'any new operation on that same online endpoint responds with a 409 conflict error'",
          ("az ml online-endpoint show -n <endpoint> --query provisioning_state   # wait for it to leave Updating/Creating",
           "retry the request or the operation once it is Succeeded"), "not-serving"),
    424: ("'model error': the model container answered with a non-200 status ('ms-azureml-model-error-statuscode' and "
          "'ms-azureml-model-error-reason' say which and why)",
          ("az ml online-deployment get-logs -e <endpoint> -n <deployment> -l 200   # what run() raised",
           "curl -i ... the response headers ms-azureml-model-error-statuscode and ms-azureml-model-error-reason",
           "if the probes fail too, give them more time: liveness_probe / readiness_probe initial_delay and timeout in deployment.yml"),
          "run-failed"),
    429: ("'too many pending requests': more than 2 * max_concurrent_requests_per_instance * instance_count requests at once",
          ("raise request_settings.max_concurrent_requests_per_instance or instance_count (or autoscale) in deployment.yml",
           "az ml online-deployment update -f deployment.yml", "or spread the load: fewer concurrent clients, retries with back-off"),
          "gateway-status"),
    500: ("'Azure Machine Learning-provisioned infrastructure is failing'",
          ("kubectl get pods -n azureml   # the extension's pods", "az ml online-deployment get-logs -e <endpoint> -n <deployment> -l 200",
           "open a support request with the request id if the extension is healthy"), "infrastructure"),
    502: ("an 'exception or crash in the run() method' of the scoring script",
          ("az ml online-deployment get-logs -e <endpoint> -n <deployment> -l 200   # the run() traceback",
           "fix run(), then az ml online-deployment update -f deployment.yml"), "run-failed"),
    503: ("'large spikes in requests per second': every instance is busy and the request queue is full",
          ("raise request_settings.max_concurrent_requests_per_instance or scale_settings (min/max instances) in deployment.yml",
           "az ml online-deployment update -f deployment.yml", "or spread the load: fewer concurrent clients, retries with back-off"),
          "gateway-status"),
    504: ("the request outlived request_settings.request_timeout_ms: 'The default timeout setting is 5 seconds'",
          ("set request_settings.request_timeout_ms (for example 30000) in deployment.yml and run az ml online-deployment update -f deployment.yml",
           "or make run() faster: load the model in init(), send smaller batches"), "gateway-status"),
}
# A 429 that names the endpoint's own request-rate limit is a quota, not a busy deployment.
_RATE_LIMITED = re.compile(r"rate[- ]limit", re.IGNORECASE)
_RATE_LIMIT_FIX = (
    "the per-endpoint requests-per-second limit: see how-to-manage-quotas (online endpoints) and request an increase",
    "or spread the load over time, with retries and back-off",
)


class V2ScoringHttpStatus(Rule):
    id = "AML032"
    name = "v2-scoring-http-status"
    category = Category.GATEWAY_TIMEOUT_OR_ROUTER_ERROR
    modes = (
        Mode("gateway-status", Category.GATEWAY_TIMEOUT_OR_ROUTER_ERROR),
        # 502 (run() crashed) and 424 (the model container answered non-200): run() failed the request.
        Mode("run-failed", Category.ENTRY_SCRIPT_RUN_ERROR),
        Mode("unauthorized", Category.AUTH_ERROR),
        # 404 (no deployment takes traffic) and 409 (an operation in progress): neither is the deployment's fault.
        Mode("not-serving", Category.OTHER),
        Mode("infrastructure", Category.CLUSTER_OR_COMPUTE_UNHEALTHY),
        Mode("rate-limited", Category.QUOTA_EXCEEDED),
    )
    severity = Severity.HIGH
    stage = Stage.RUN
    requires = ("text|azureml_logs|container_logs",)
    # Not "POST /score": every access-log line has it, and a signal keeps its lines from a huge log.
    signals = ("Response status code does not indicate success",)
    links = ("https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#http-status-codes",)

    def check(self, ev):
        if not (v2views.is_kubernetes_v2(ev) or v2views.is_managed_v2(ev)):
            return
        for doc in ev.docs(TextKind.PASTED, TextKind.OPERATION):
            if not doc.first(_SCORING):
                continue
            for hit in doc.search(_STATUS):
                status = int(next(g for g in hit.match.groups() if g))
                if status not in _MEANING:
                    continue
                yield self._finding(ev, doc, hit, status)
                return

    def _finding(self, ev, doc, hit, status):
        meaning, steps, mode = _MEANING[status]
        items = [excerpt(doc, hit.line_no, 1, 1)]
        if status == 429 and _RATE_LIMITED.search(doc.text[:200_000]):
            meaning, steps, mode = "'rate-limited': the requests per second reached the managed online endpoint's limits", _RATE_LIMIT_FIX, "rate-limited"
        extra = ""
        if status == 504:
            settings = v2views.deployment_state(ev).get("requestSettings") or {}
            timeout = settings.get("request_timeout_ms") or DEFAULT_TIMEOUT_MS
            slow = [(d, h) for d in ev.docs(TextKind.AZUREML_LOGS, TextKind.CONTAINER_LOG) for h in d.search(_DURATION)
                    if float(h.match.group(2)) > float(timeout)]
            items.append(EvidenceItem("azureml/service.json#requestSettings", f"request_timeout_ms: {timeout}"
                                      + (" (the default)" if timeout == DEFAULT_TIMEOUT_MS else "")))
            if slow:
                d, h = slow[0]
                items.append(excerpt(d, h.line_no))
                extra = (f" The inference server itself finished the request in {float(h.match.group(2)) / 1000:.1f} s, after the "
                         f"{timeout / 1000:g} s the router waits: the answer was ready, but too late.")
        return self.finding(
            title=f"Scoring requests fail with HTTP {status}: {meaning.split(':')[0].strip(chr(39))}",
            explanation=(f"The endpoint answered {status}. For online endpoints Microsoft documents {status} as {meaning}.{extra}"),
            evidence=items,
            fix=Fix(summary=f"Address what {status} means for online endpoints, then invoke again.", steps=steps,
                    verify=("az ml online-endpoint invoke -n <endpoint> -d <deployment> --request-file sample.json",)),
            subject=f"http/{status}",
            mode=mode,
            confidence=0.85 if status == 504 and len(items) > 2 else 0.75,
        )
