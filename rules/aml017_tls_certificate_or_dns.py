from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import errorjson, kube, platform
from aml_doctor.engine.rule import excerpt

# The extension's health check for a bad TLS secret (https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md).
_INVALID_SSL = re.compile(r"\bE40007\b|INVALID_SSL_SETTING")
# What a user or a script writes when configuring TLS on a v1 cluster (S7): parameter names and plain words.
# The CrashLoopBackOff help text mentions a custom certificate too; platform.outside_help_text drops it.
_SSL_CONFIGURED = re.compile(
    r"SslConfiguration|ssl_cert_pem_file|ssl_key_pem_file|ssl_cname|--ssl-cname|--ssl-cert-file|--ssl-key-file|"
    r"leaf_domain_label|SSL certificate|custom certificates?|custom DNS",
    re.IGNORECASE,
)


class TlsCertificateOrDns(Rule):
    id = "AML017"
    name = "tls-certificate-or-dns"
    category = Category.CLUSTER_OR_COMPUTE_UNHEALTHY
    severity = Severity.HIGH
    stage = Stage.CLUSTER
    requires = ("text|azureml_service|configmaps|operation",)
    signals = ("E40007", "INVALID_SSL_SETTING", "SslConfiguration", "ssl_cname", "SSL certificate", "custom certificate", "custom DNS")
    links = (
        "https://learn.microsoft.com/azure/machine-learning/how-to-secure-web-service",
        "https://github.com/Azure/AML-Kubernetes/blob/master/docs/troubleshooting.md",
    )

    def check(self, ev):
        docs = kube.scoring_logs(ev)
        invalid = [EvidenceItem(h.locator, h.line.strip()) for h in platform.lines(docs, _INVALID_SSL)]
        invalid += self._healthcheck_configmaps(ev)
        if invalid:
            yield self._invalid_setting(invalid)
            return
        configured = platform.outside_help_text(platform.lines(docs, _SSL_CONFIGURED))
        timed_out = [c for c in platform.coded_errors(ev, ("DeploymentTimedOut",))]
        state = errorjson.service_state(ev)
        if configured and timed_out and state and state[0].lower() == "unhealthy":
            yield self._suggestive(configured, timed_out[0], state)

    def _healthcheck_configmaps(self, ev):
        out = []
        for cm in ev.objects("configmaps"):
            for key, value in ((cm.get("data") or {}).items()):
                if isinstance(value, str):
                    m = _INVALID_SSL.search(value)
                    if m:
                        start = value.rfind("\n", 0, m.start()) + 1
                        end = value.find("\n", m.end())
                        out.append(EvidenceItem(ev.object_locator("configmaps", cm, f"data.{key}"), value[start : end if end != -1 else None].strip()))
        return out

    def _invalid_setting(self, evidence):
        return self.finding(
            title="The TLS certificate or key given to azureml-fe is invalid (E40007 INVALID_SSL_SETTING)",
            explanation=(
                "The AzureML extension's health check rejected the TLS settings: the certificate and key in the "
                "secret azureml-fe serves with are unreadable, do not belong together, or are missing. azureml-fe "
                "cannot serve HTTPS, so the scoring endpoint is down for every deployment on the cluster."
            ),
            evidence=evidence[:3],
            subject="azureml-fe/tls",
            confidence=0.85,
            fix=_fix(),
        )

    def _suggestive(self, configured, timed_out, state):
        return self.finding(
            title="The deployment timed out Unhealthy after TLS was configured: check the certificate and the DNS record",
            explanation=(
                "AzureML gave up waiting (DeploymentTimedOut) with the service left Unhealthy, and the evidence says a "
                "custom certificate or DNS name was set up. A certificate whose name does not match ssl_cname, a key "
                "that does not belong to it, or a DNS record that does not point at the scoring IP leave the endpoint "
                "unreachable in exactly this way. The same timeout has many other causes, so this is a lead, not a finding."
            ),
            evidence=[
                excerpt(configured[0].doc, configured[0].line_no),
                EvidenceItem(timed_out.locator, f"{timed_out.code}: {timed_out.message}"[:400]),
                EvidenceItem(state[1], f"current service state: {state[0]}"),
            ],
            subject="azureml-fe/tls",
            confidence=0.35,
            alternatives=(Category.CRASH_LOOP_OTHER, Category.WRONG_PORT_OR_PROBE_FAILURE),
            decide=(
                "Check the DNS record points to the scoring IP (`nslookup <ssl_cname>` against "
                "`kubectl get svc azureml-fe -n default` EXTERNAL-IP), read the certificate "
                "(`openssl x509 -in cert.pem -noout -text`: subject/SAN and expiry), and compare the modulus md5 "
                "of cert and key; if all three are right, look at the scoring pods instead (`kubectl describe pod`)."
            ),
            fix=_fix(),
        )


def _fix() -> Fix:
    return Fix(
        summary="Give azureml-fe a matching certificate and key for the name clients use, and point DNS at the scoring IP.",
        steps=(
            "openssl x509 -in cert.pem -noout -text   # subject/SAN must cover ssl_cname; Not After in the future",
            "openssl rsa -in key.pem -noout -check   # RSA key ok",
            "openssl x509 -noout -modulus -in cert.pem | openssl md5; openssl rsa -noout -modulus -in key.pem | openssl md5   # must match",
            "Point the DNS record for ssl_cname at the EXTERNAL-IP of `kubectl get svc azureml-fe -n default`.",
            "v1: aks_target.update(AksUpdateConfiguration(ssl_configuration=SslConfiguration(status='Enabled', "
            "cert=open('cert.pem').read(), key=open('key.pem').read(), cname='<name>')))",
        ),
        verify=(
            "curl -v https://<ssl_cname>/api/v1/service/<service>/score   # the TLS handshake completes with your certificate",
        ),
    )
