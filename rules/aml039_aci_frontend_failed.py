"""AML039: ACI's front-end container azureml-fe-aci does not start, most often for an invalid TLS certificate or key."""

from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt
from aml_doctor.views import aci, kube

# The v1 troubleshooting page, "Container azureml-fe-aci launch fails": AzureML creates a front-end
# container named azureml-fe-aci beside the scoring container of an ACI service; "the most common
# failure for azureml-fe-aci is that the provided SSL certificate or key is invalid"
# (https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment#container-azureml-fe-aci-launch-fails,
# added by MicrosoftDocs/azure-docs#86283 "to address the issue for customers which fail to deploy
# to aci with invalid ssl cert/key").
FRONTEND = "azureml-fe-aci"
# Said of the container on its own line: it crashed, failed to launch or start, terminated, waits in
# CrashLoopBackOff or exited.
_FAILED = (
    r"(?:crash|launch fail|fail(?:s|ed|ing)? to (?:launch|start)|\bterminated\b|CrashLoopBackOff|back-off restarting|"
    r"\bexit(?:ed)? (?:code|with)\b)"
)
_FAILED_LINE = re.compile(rf"{re.escape(FRONTEND)}.*{_FAILED}|{_FAILED}.*{re.escape(FRONTEND)}", re.IGNORECASE)


class AciFrontendFailed(Rule):
    id = "AML039"
    name = "aci-frontend-failed"
    category = Category.OTHER
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("text|azureml_logs|operation",)
    signals = (FRONTEND,)
    links = ("https://learn.microsoft.com/azure/machine-learning/v1/how-to-troubleshoot-deployment#container-azureml-fe-aci-launch-fails",)

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        # The first line that says so is enough: a log naming the container on every line is not read whole.
        hit = next((h for doc in docs for h in doc.search(_FAILED_LINE)), None)
        said = excerpt(hit.doc, hit.line_no) if hit else next(filter(None, map(_failed_in_json, docs)), None)
        if said is None:
            return
        yield self.finding(
            title="The ACI front-end container azureml-fe-aci does not start",
            explanation=(
                "An ACI service runs a front-end container, azureml-fe-aci, beside the scoring container; it receives "
                "the scoring requests and terminates TLS. When it crashes the service never becomes healthy, whatever "
                "the model and score.py do. The v1 troubleshooting page names the most common reason: the SSL "
                "certificate or key given to the deployment is invalid. Its own log says which."
            ),
            evidence=[said],
            subject=f"aci/{FRONTEND}",
            confidence=0.75,
            decide="The azureml-fe-aci log (`az container logs ... --container-name azureml-fe-aci`) names the failure.",
            fix=Fix(
                summary="Read the azureml-fe-aci log, then give the deployment a valid certificate and key (or none).",
                steps=(
                    "az container logs --name <container-group> --resource-group <rg> --container-name azureml-fe-aci",
                    "openssl x509 -in cert.pem -noout -subject -enddate   # a PEM certificate, not expired, for ssl_cname",
                    "openssl x509 -noout -modulus -in cert.pem | openssl md5; openssl rsa -noout -modulus -in key.pem | openssl md5   # the same",
                    "AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cert_pem_file='cert.pem', "
                    "ssl_key_pem_file='key.pem', ssl_cname='<cname>'), then deploy again (or ssl_enabled=False)",
                ),
                verify=(
                    "az container show --name <container-group> --resource-group <rg> --query "
                    "\"containers[?name=='azureml-fe-aci'].instanceView.currentState.state\"   # Running",
                ),
            ),
        )


def _failed_in_json(doc) -> EvidenceItem | None:
    """The azureml-fe-aci container's failing state, when ``doc`` (which names it) is a container group's JSON."""
    if doc.first(re.escape(FRONTEND)) is None:
        return None
    for c in aci.containers(doc):
        if c.name == FRONTEND and (c.state == "Terminated" or "CrashLoopBackOff" in c.detail or (c.restarts or 0) > 0):
            said = f"{FRONTEND}: state {c.state or None}, {c.detail}".rstrip(", ")
            if c.restarts is not None:
                said += f", restartCount {c.restarts}"
            return EvidenceItem(c.locator, said[:400])
    return None
