"""v2 URLs carry secrets in their query: the mfeOperationsStatus URL behind a deployment's
AzureAsyncOperationUri is signed (t, c, s, h: Azure/azure-sdk-for-python#33598), and a
STORAGE_MANIFEST_URL may carry a SAS. Both are redacted, and the rest of the URL is kept."""

from aml_doctor.evidence import redact

OPERATION = ("https://management.azure.com/subscriptions/5f9e7a1b-3c2d-4e8f-9a0b-1c2d3e4f5a6b/providers/"
             "Microsoft.MachineLearningServices/locations/eastus/mfeOperationsStatus/od:2b6c41f7-9a3e:4d1e8c?"
             "api-version=2023-04-01-preview&t=638391824219857341&c=MIIHzDCCBrSgAwIBAgITHgAAAAAA3TQ8Yb0b2Q&"
             "s=kH3Zf9XwQ2p7LmN0vR5tY8uB1cD4eF6gH&h=Qx9Lm2Np4Rs6Tu8Vw0Xy")


def test_mfe_operation_status_signature_params_are_redacted():
    out = redact.redact_text(f"AzureAsyncOperationUri: {OPERATION}")
    for secret in ("638391824219857341", "MIIHzDCCBrSgAwIBAgITHgAAAAAA3TQ8Yb0b2Q", "kH3Zf9XwQ2p7LmN0vR5tY8uB1cD4eF6gH", "Qx9Lm2Np4Rs6Tu8Vw0Xy"):
        assert secret not in out
    # What locates the operation stays: the subscription, the region and the operation id.
    assert "locations/eastus/mfeOperationsStatus/od:2b6c41f7-9a3e:4d1e8c?api-version=2023-04-01-preview&t=<redacted:" in out
    assert out.count("<redacted:") == 4


def test_operation_uri_in_a_deployment_json_is_redacted():
    data = redact.redact_object({"properties": {"AzureAsyncOperationUri": OPERATION}})
    assert "MIIHzDCCBrSgAwIBAgITHgAAAAAA3TQ8Yb0b2Q" not in str(data)
    assert "mfeOperationsStatus/od:2b6c41f7-9a3e:4d1e8c" in str(data)


def test_an_unsigned_operation_url_is_left_alone():
    url = OPERATION.split("&t=")[0]
    assert redact.redact_text(url) == url


def test_storage_manifest_url_sas_is_redacted():
    env = {"name": "STORAGE_MANIFEST_URL",
           "value": "https://nemlflowprodstorage.blob.core.windows.net/azureml/model-name_deployname-134205-model-name_model_config_map.json_"
                    "f455169bb7e34736bc0c618741641388?sv=2021-08-06&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D"}
    out = redact.redact_object(env)
    assert "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA" not in str(out)
    assert "model_config_map.json_f455169bb7e34736bc0c618741641388" in out["value"]
