"""The NetworkPolicy evaluation behind AML028, as Kubernetes defines it
(kubernetes.io/docs/concepts/services-networking/network-policies/): a pod no policy of a direction
selects is open in it; a selected pod admits only what some rule allows."""

from __future__ import annotations

import pytest

from aml_doctor.testing import BundleBuilder
from aml_doctor.evidence import store as evidence
from aml_doctor.views import v2views

POD = {"azuremlappname": "credit-ep-blue", "isazuremlapp": "true"}
PROXY = {"ml.azure.com/infra-app": "identity-proxy"}
AZUREML = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "azureml"}}}


def _ev(tmp_path, *policies):
    b = BundleBuilder(service="credit-ep-blue", namespace="ml-inference")
    for name, namespace, spec in policies:
        b.add("networkpolicies", {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec})
    return evidence.load(str(b.write(tmp_path / "b")))


def _egress_blocked(ev):
    return v2views.blocked(ev, src_ns="ml-inference", src_labels=POD, dst_ns="azureml", dst_labels=PROXY, port=9999)


@pytest.mark.parametrize("spec, blocked", [
    ({"podSelector": {}, "policyTypes": ["Egress"]}, True),                                        # deny all egress
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}, False),                        # allow all egress
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [AZUREML], "ports": [{"port": 9999}]}]}, False),
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [AZUREML], "ports": [{"port": 443}]}]}, True),
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [AZUREML], "ports": [{"port": 9000, "endPort": 10000}]}]}, False),
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]}, True),  # own namespace only
    ({"podSelector": {"matchLabels": {"app": "other"}}, "policyTypes": ["Egress"]}, False),         # does not select the pod
    ({"podSelector": {"matchExpressions": [{"key": "isazuremlapp", "operator": "Exists"}]}, "policyTypes": ["Egress"]}, True),
    ({"podSelector": {}, "policyTypes": ["Ingress"]}, False),                                       # ingress only
])
def test_egress_to_the_identity_proxy(tmp_path, spec, blocked):
    assert bool(_egress_blocked(_ev(tmp_path, ("p", "ml-inference", spec)))) is blocked


def test_an_ip_block_is_uncertain_unless_it_is_everything(tmp_path):
    some = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]}]}
    found = _egress_blocked(_ev(tmp_path, ("p", "ml-inference", some)))
    assert found and not found[0].certain
    everything = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}
    assert not _egress_blocked(_ev(tmp_path / "2", ("p", "ml-inference", everything)))


def test_an_ingress_policy_in_azureml_blocks_too(tmp_path):
    spec = {"podSelector": PROXY and {"matchLabels": PROXY}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    found = _egress_blocked(_ev(tmp_path, ("proxy-lockdown", "azureml", spec)))
    assert [(b.direction, b.policies, b.namespace) for b in found] == [("ingress", ("proxy-lockdown",), "azureml")]


def test_quantities_and_sizes():
    assert v2views.quantity("100m") == pytest.approx(0.1)
    assert v2views.quantity("1.5Gi") == 1.5 * 2**30
    assert v2views.quantity("x") is None and v2views.quantity(True) is None
    assert v2views.cpu_text(8.0) == "8" and v2views.cpu_text(0.1) == "100m"
    assert v2views.size_text(14_763_212_288) == "13.7 GiB"
