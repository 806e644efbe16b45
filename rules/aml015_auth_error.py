from __future__ import annotations

import re

from aml_doctor.engine.signatures import with_signatures
from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube, platform
from aml_doctor.engine.rule import excerpt

# `401 Unauthorized` (HTTP status line, curl) and `401 Client Error: Unauthorized` (python requests).
_HTTP_401 = re.compile(r"\b401\b[^\n]{0,20}Unauthorized")
_SCORE_URL = re.compile(r"/score\b|/api/v1/service/")
# A 401 from the registry during an image pull is an image-pull failure (AML006), not scoring auth.
_REGISTRY = re.compile(r"azurecr\.io|oauth token|pull(?:ing)? image|ErrImagePull|ImagePullBackOff|failed to authorize", re.IGNORECASE)
_REFRESH_BY = re.compile(r"\brefresh_by\b")


@with_signatures(__file__)
class AuthError(Rule):
    id = "AML015"
    name = "auth-error"
    category = Category.AUTH_ERROR
    severity = Severity.HIGH
    stage = Stage.RUN
    requires = ("text|azureml_logs|container_logs",)
    # Said here, not left to comments: the cases this rule stays silent on because another rule reports them.
    defers = {"AML006": "a 401 from the container registry while pulling the image"}
    signals = ("401", "Unauthorized", "refresh_by")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service",
        "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        hits = [
            h
            for h in platform.lines(docs, _HTTP_401)
            if _SCORE_URL.search(h.doc.text) and not _REGISTRY.search(h.doc.text)
        ]
        if not hits:
            return
        evidence = [excerpt(h.doc, h.line_no) for h in hits[:2]]
        refresh = platform.lines(docs, _REFRESH_BY)
        evidence += [excerpt(h.doc, h.line_no) for h in refresh[:1]]
        service = ev.service_json or {}
        modes = [k for k in ("authEnabled", "tokenAuthEnabled") if service.get(k) is True]
        if modes:
            evidence.append(EvidenceItem(f"azureml/service.json#{modes[0]}", f"{modes[0]}: true"))
        token = bool(refresh) or "tokenAuthEnabled" in modes
        kind = "token" if token else "key"
        yield self.finding(
            title=f"Scoring requests are rejected with 401 Unauthorized: the {kind} is missing, wrong or expired",
            explanation=(
                "The scoring endpoint answered 401 Unauthorized. A v1 AKS service checks a key by default "
                "(`Authorization: Bearer <key>`), or an Azure ML token that must be refreshed after its `refresh_by` "
                "time when token auth is on. That azureml-fe answers exactly 401 for a missing or wrong key is "
                "inferred, not documented, so this names the likely reason rather than proving it."
                + (" A token with a refresh_by time is in the evidence: an expired token gives this answer." if refresh else "")
            ),
            evidence=evidence,
            subject="scoring-auth",
            confidence=0.7 if (refresh or modes) else 0.6,
            decide=(
                "Compare what the client sends with what the service expects: `service.auth_enabled`, "
                "`service.token_auth_enabled`, then call once with `service.get_keys()[0]` (key) or a fresh "
                "`service.get_token()` (token); 200 with the fresh credential confirms it."
            ),
            fix=Fix(
                summary=f"Send a valid {kind} in the Authorization header.",
                steps=(
                    "Key auth: key = service.get_keys()[0]; headers = {'Authorization': f'Bearer {key}'}",
                    "Token auth: token, refresh_by = service.get_token(); get a new token before refresh_by passes.",
                    "After a delete-and-recreate deployment the keys are new: update the clients' stored key.",
                    "Rotate a leaked key with service.regen_key('Primary') and hand the new one to clients.",
                ),
                verify=("curl -i -X POST <scoring_uri> -H 'Authorization: Bearer <key>' -H 'Content-Type: application/json' -d @request.json   # not 401",),
            ),
        )
