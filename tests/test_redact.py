"""Secrets in the forms Azure prints them are removed; the evidence around them stays readable."""

import pytest

from aml_doctor.redact import MASK, redact_object, redact_text

KEY = "q8W3mZ0vXr5tLk2Jp7Yc9Hn4Bd6Fg1Sa3Ue8Wi0Oy5Tr2Qe7Lx9Mz4Nc6Vb1Hj3Kd8Pf0Ga5Sd2Rt7Yu9Iw4Eo=="


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"DefaultEndpointsProtocol=https;AccountName=amlws1storage;AccountKey={KEY};EndpointSuffix=core.windows.net", KEY[:40]),
        ("https://acct.blob.core.windows.net/azureml/ImageLogs/x/build.log?sv=2019-07-07&sr=b&sig=Qm9ndXNTaWc%2BAbC%3D&se=2021", "Qm9ndXNTaWc"),
        ("\tAuthorization: Bearer Kp4nJ8sV2xLq7Rw3Zt9Hb6Yc1Fm5Dg0a", "Kp4nJ8sV2xLq7Rw3Zt9Hb6Yc1Fm5Dg0a"),
        ("token=eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJlLW5vdC1yZWFs", "eyJhdWQiOiJodHRwcyJ9"),
        ("InstrumentationKey=0b8f8a3e-5c1d-4a9e-8f2b-6d7c1e2a3b4c;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "0b8f8a3e-5c1d"),
        ('{"primaryKey": "Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1H"}', "Xy7Vb2Nq9Lm4Kp0Rt5Ws8Ze3Ua6Yc1H"),
        ("AZUREML_STORAGE_PASSWORD=Tr0ub4dor", "Tr0ub4dor"),
        (f"the key {KEY} was rotated", KEY[:40]),
    ],
    ids=["connection-string", "sas", "bearer", "jwt", "app-insights", "json-key", "password", "bare-account-key"],
)
def test_secret_forms_are_redacted(text, secret):
    out = redact_text(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize(
    "text",
    [
        'failed to pull image "acr.azurecr.io/azureml/azureml_0123": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
        "failed to fetch anonymous token: unexpected status: 403 Forbidden",
        "Listening at: http://127.0.0.1:31311 (71)",
        "ERROR: Could not find a version that satisfies the requirement dotnetcore2>=2.1.9",
    ],
)
def test_evidence_that_only_mentions_tokens_stays_readable(text):
    assert redact_text(text) == text


def test_objects_keep_the_names_of_secrets_and_lose_their_values():
    pod = {
        "env": [{"name": "AZUREML_STORAGE_KEY", "value": "abc123"}, {"name": "AML_APP_ROOT", "value": "/var/azureml-app"}],
        "volumes": [{"secret": {"secretName": "azureml-storage-secret"}}],
        "password": "hunter22",
    }
    redact_object(pod)
    assert pod["env"][0]["value"] == MASK and pod["env"][1]["value"] == "/var/azureml-app"
    assert pod["volumes"][0]["secret"]["secretName"] == "azureml-storage-secret"
    assert pod["password"] == MASK
