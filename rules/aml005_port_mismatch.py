from __future__ import annotations

import re

from aml_doctor import Category, EvidenceItem, Fix, Rule, Severity, Stage
from aml_doctor.views import kube
from aml_doctor.evidence.textdoc import TextKind

_LISTENING = re.compile(r"Listening at: https?://([\d.]+|\[[^\]]+\]|[\w.-]+):(\d+)")
_NGINX = re.compile(r"\bnginx/run\b")
# The v1 image: nginx serves this port and proxies to gunicorn on 127.0.0.1:31311
# (https://liupeirong.github.io/amlKubernetesDeployment, https://liupeirong.github.io/amlDockerImage).
V1_NGINX_PORT = 5001
_LOOPBACK = ("127.", "localhost", "[::1]")


class PortMismatch(Rule):
    id = "AML005"
    name = "port-mismatch"
    category = Category.WRONG_PORT_OR_PROBE_FAILURE
    # Probe failures against the wrong port are this rule's finding, not a probe-timing problem.
    supersedes = ("AML011",)
    severity = Severity.HIGH
    stage = Stage.PROBE
    requires = ("pods|deployments",)
    signals = ("Listening at:", "nginx/run", "probe failed")
    links = ("https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-azure-kubernetes-service",)

    def check(self, ev):
        holder, resource = _template(ev)
        if holder is None:
            return
        container = kube.scoring_container(holder)
        if container is None:
            return
        declared = {p.get("containerPort"): p.get("name") for p in container.get("ports") or [] if p.get("containerPort")}
        by_name = {name: port for port, name in declared.items() if name}
        base = ev.object_locator(resource, holder if resource == "pods" else _deployment(ev))
        wanted: list[tuple[str, int, str]] = []  # (who, port, locator)
        for probe_kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(probe_kind) or {}
            action = probe.get("httpGet") or probe.get("tcpSocket") or {}
            port = _resolve(action.get("port"), by_name)
            if port:
                wanted.append((probe_kind, port, f"{base}/{probe_kind}.port"))
        for svc in ev.objects("services"):
            if (svc.get("metadata") or {}).get("name") != ev.service and (svc.get("spec") or {}).get("selector", {}).get("azuremlappname") != ev.service:
                continue
            for i, sp in enumerate((svc.get("spec") or {}).get("ports") or []):
                port = _resolve(sp.get("targetPort", sp.get("port")), by_name)
                if port:
                    wanted.append((f"Service {svc['metadata']['name']} targetPort", port, ev.object_locator("services", svc, f"spec.ports[{i}].targetPort")))

        served, served_evidence = self._served_ports(ev)
        problems = []
        for who, port, locator in wanted:
            if declared and port not in declared:
                problems.append((who, port, locator, f"the container declares {sorted(declared)}"))
            elif served and port not in served:
                problems.append((who, port, locator, f"the server listens on {sorted(served)}"))
        if not problems:
            return
        probe_failures = [
            e for e in kube.events_for_service(ev) if "probe failed" in e.message.lower() and ("refused" in e.message or "timeout" in e.message.lower())
        ]
        evidence = [EvidenceItem(loc, f"{who}: {port} — {why}") for who, port, loc, why in problems]
        evidence += served_evidence[:1]
        evidence += [EvidenceItem(e.locator, f"{e.reason}: {e.message}") for e in probe_failures[:2]]
        listening = sorted(served) or sorted(declared)
        target = listening[0] if listening else V1_NGINX_PORT
        who_list = ", ".join(f"{who} {port}" for who, port, _, _ in problems)
        yield self.finding(
            title=f"Port mismatch: {who_list} does not reach the server on {', '.join(map(str, listening)) or 'its port'}",
            explanation=(
                "The container port, the probes, the Service's targetPort and the port the server really listens on "
                f"must agree. Here {who_list} point elsewhere, so probes fail (and restart a healthy container) or "
                "requests never reach it."
            ),
            evidence=evidence,
            subject=f"{resource}/{(holder.get('metadata') or {}).get('name', ev.service)}",
            confidence=0.9 if served else 0.75,
            fix=Fix(
                summary=f"Make the server, the container port, the probes and the Service use one port ({target}).",
                steps=(
                    "A custom image must serve what the v1 platform expects: nginx on 5001 in front of the app, or the app itself on 5001.",
                    "Do not edit the Deployment or Service by hand: AzureML overwrites them; fix the image or redeploy.",
                ),
                verify=(
                    "kubectl get endpoints <service> -n <namespace>   # the pod IP with the serving port",
                    "kubectl describe pod <pod>   # no new 'probe failed' events",
                ),
            ),
        )

    def _served_ports(self, ev) -> tuple[set[int], list[EvidenceItem]]:
        served: set[int] = set()
        evidence = []
        docs = ev.container_logs() + ev.docs(TextKind.AZUREML_LOGS)
        for doc in docs:
            for hit in doc.search(_LISTENING):
                host, port = hit.match.group(1), int(hit.match.group(2))
                if not host.startswith(_LOOPBACK):
                    served.add(port)
                    evidence.append(EvidenceItem(hit.locator, hit.line.strip()))
            if doc.first(_NGINX):
                served.add(V1_NGINX_PORT)
        return served, evidence


def _deployment(ev):
    return kube.service_deployment(ev) or {}


def _template(ev) -> tuple[dict | None, str]:
    pods = kube.service_pods(ev)
    if pods:
        return pods[0], "pods"
    deployment = kube.service_deployment(ev)
    if deployment:
        return (deployment.get("spec") or {}).get("template") or {}, "deployments"
    return None, ""


def _resolve(port, by_name: dict) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        return int(port) if port.isdigit() else by_name.get(port)
    return None
