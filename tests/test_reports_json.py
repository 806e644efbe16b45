"""JSON: valid against the published schema, findings in rank order, exact text."""

import json
from pathlib import Path

import jsonschema
import pytest
from aml_doctor.findings import EvidenceItem
from aml_doctor.reports import render
from report_factory import (
    BUILD_LOG,
    FAILED_MOUNT,
    make_report,
    mount_failure,
    pod_not_ready,
)

SCHEMA = json.loads((Path(__file__).parents[1] / "reports" / "schema" / "report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["properties"]["schema_version"] == {"const": "1", "description": "Version of this schema."}


@pytest.mark.parametrize(
    "report",
    [make_report(), make_report([pod_not_ready()]), make_report([])],
    ids=["root-cause", "symptoms-only", "nothing-found"],
)
def test_output_validates(report):
    VALIDATOR.validate(json.loads(render(report, "json")))


def test_schema_rejects_what_it_should():
    doc = json.loads(render(make_report(), "json"))
    doc["findings"][0]["severity"] = "severe"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)
    doc = json.loads(render(make_report(), "json"))
    del doc["findings"][0]["explained_by"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)


def test_findings_in_rank_order_with_the_causal_links():
    doc = json.loads(render(make_report(), "json"))
    assert [f["rank"] for f in doc["findings"]] == [1, 2, 3, 4]
    root = doc["findings"][0]
    assert doc["root_cause"] == {"rule": "AML003", "key": root["key"]}
    assert root["explained_by"] is None
    explained = {f["rule"]: f["explained_by"] for f in doc["findings"][1:]}
    assert explained == {"AML001": None, "AML004": root["key"], "AML020": root["key"]}
    assert root["stage"] == {"id": "mount", "order": 50, "label": "volume mount", "symptom": False}
    assert root["evidence"][0]["excerpt"] == FAILED_MOUNT
    assert doc["findings"][1]["evidence"][0]["excerpt"] == BUILD_LOG
    assert root["fix"]["steps"] == ["az ml workspace sync-keys -w ws1 -g rg1", "Model.deploy(..., overwrite=True)"]
    assert root["alternatives"] == ["auth_error"]


def test_summary_and_top_level():
    doc = json.loads(render(make_report(), "json"))
    assert doc["tool"] == {"name": "aml-doctor", "version": "0.1.0"}
    assert doc["verdict"] == "root_cause_found"
    assert doc["summary"]["by_severity"] == {"critical": 0, "high": 1, "medium": 2, "low": 1, "info": 0}
    assert doc["summary"]["symptoms"] == 2
    assert doc["not_checked"] == [
        {"rule": "AML005", "name": "port-mismatch", "reason": "no pod spec in the bundle (kubernetes/pods.json missing)"}
    ]
    assert doc["plugin_errors"][0]["plugin"] == "contoso-aml-rules"
    assert doc["rule_errors"][0]["plugin"] is None


def test_no_root_cause_is_null():
    doc = json.loads(render(make_report([pod_not_ready()]), "json"))
    assert doc["root_cause"] is None and doc["verdict"] == "symptoms_only"


def test_exact_text_survives_quotes_backslashes_and_control_characters():
    excerpt = 'path "C:\\\\temp\\\\" said \\"hi\\"\x1b[31mred\x1b[0m\ttab'
    report = make_report([mount_failure(evidence=(EvidenceItem("x.log:1", excerpt),))])
    doc = json.loads(render(report, "json"))
    assert doc["findings"][0]["evidence"][0]["excerpt"] == excerpt
