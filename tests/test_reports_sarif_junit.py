"""SARIF 2.1.0 and JUnit XML: the shapes their consumers read."""

import json
import re
import xml.etree.ElementTree as ET

import jsonschema
from aml_doctor.findings import EvidenceItem
from aml_doctor.reports import render
from report_factory import hostile_report, make_report, mount_failure, pod_not_ready

# The part of the SARIF 2.1.0 schema (OASIS) that code-scanning tools read: log, run, tool.driver
# with its rules, results with ruleId/level/message/locations, and notifications.
SARIF_SUBSET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "shortDescription": {"$ref": "#/$defs/message"},
                                                "helpUri": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "invocations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["executionSuccessful"],
                            "properties": {
                                "toolExecutionNotifications": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["message"],
                                        "properties": {"level": {"$ref": "#/$defs/level"}, "message": {"$ref": "#/$defs/message"}},
                                    },
                                }
                            },
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": {"$ref": "#/$defs/level"},
                                "message": {"$ref": "#/$defs/message"},
                                "rank": {"type": "number", "minimum": -1, "maximum": 100},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}},
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {"startLine": {"type": "integer", "minimum": 1}},
                                                    },
                                                },
                                            },
                                            "message": {"$ref": "#/$defs/message"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}], "properties": {"text": {"type": "string"}}},
    },
}


# A relative URI reference (RFC 3986): path characters and percent-escapes only.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})+")


def sarif(report):
    doc = json.loads(render(report, "sarif"))
    jsonschema.Draft202012Validator(SARIF_SUBSET).validate(doc)
    for result in doc["runs"][0]["results"]:
        for loc in result["locations"]:
            assert URI_REFERENCE.fullmatch(loc["physicalLocation"]["artifactLocation"]["uri"])
    return doc


def test_sarif_rules_and_results():
    doc = sarif(make_report())
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["AML003", "AML001", "AML004", "AML020"]
    assert rules[0]["helpUri"].startswith("https://learn.microsoft.com/")
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["AML003", "AML001", "AML004", "AML020"]
    assert [r["level"] for r in results] == ["error", "warning", "warning", "note"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    assert results[0]["message"]["text"].startswith("Blob volume cannot be mounted: storage refused the key (errno=403). Fix:")
    # The runner-up the rule names, and what decides, travel with the result.
    assert results[0]["properties"]["alternatives"] == ["auth_error"]
    assert results[0]["properties"]["decide"].startswith("Check the storage account's activity log")
    assert results[1]["properties"]["alternatives"] == [] and results[1]["properties"]["decide"] is None


def test_sarif_locations_from_locators():
    doc = sarif(make_report())
    by_rule = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    line_loc = by_rule["AML020"]["locations"][0]
    assert line_loc["physicalLocation"] == {
        "artifactLocation": {"uri": "azureml/operation.txt", "uriBaseId": "BUNDLE"},
        "region": {"startLine": 3},
    }
    field_loc = by_rule["AML003"]["locations"][0]
    assert field_loc["physicalLocation"] == {"artifactLocation": {"uri": "kubernetes/events.json", "uriBaseId": "BUNDLE"}}
    assert field_loc["message"]["text"] == "scorer-7c9d5b6f8d-x2k9q/FailedMount"


def test_sarif_uri_is_percent_encoded():
    report = make_report([mount_failure(evidence=(EvidenceItem("logs/my pod/c#1.log:9", "x"),))])
    loc = sarif(report)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    # '#' starts the field path in a locator; the space is encoded.
    assert loc["artifactLocation"]["uri"] == "logs/my%20pod/c"


def test_sarif_errors_and_not_checked_are_notifications():
    notes = sarif(make_report())["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    levels = [(n["descriptor"]["id"], n["level"]) for n in notes]
    assert ("AML009", "error") in levels and ("contoso_rules", "error") in levels
    assert ("AML005", "note") in levels


def junit(report):
    return ET.fromstring(render(report, "junit"))


def test_junit_one_testcase_per_finding_skip_and_error():
    root = junit(make_report())
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    errors = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in failures] == [
        "AML003 scorer-7c9d5b6f8d-x2k9q",
        "AML001 azureml/azureml_d5db24e95bda7d8ce518fbfff093cbd3",
        "AML004 scorer-7c9d5b6f8d-x2k9q",
        "AML020 scorer",
    ]
    assert [c.get("name") for c in skipped] == ["AML005 port-mismatch"]
    assert skipped[0].find("skipped").get("message") == "no pod spec in the bundle (kubernetes/pods.json missing)"
    assert [c.get("name") for c in errors] == ["AML009", "contoso_rules"]
    assert errors[0].find("error").get("message") == "KeyError: 'containerStatuses'"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("7", "4", "2", "1")
    assert root.get("tests") == "7"


def test_junit_failure_carries_title_evidence_and_fix():
    failure = junit(make_report()).find("testsuite/testcase/failure")
    assert failure.get("message") == "#1 [high] Blob volume cannot be mounted: storage refused the key (errno=403)"
    assert failure.get("type") == "volume_mount_failure"
    assert "--- kubernetes/events.json#scorer-7c9d5b6f8d-x2k9q/FailedMount" in failure.text
    assert "Fix: Sync the workspace keys" in failure.text
    assert "Could also be: auth_error. What decides: Check the storage account's activity log" in failure.text


def test_junit_holds_hostile_text_and_control_characters():
    report = make_report([mount_failure(evidence=(EvidenceItem("x.log:1", "\x1b[31mred\x00</failure>]]>"),)), pod_not_ready()])
    failure = junit(report).find("testsuite/testcase/failure")
    assert "\\x1b[31mred\\x00</failure>]]>" in failure.text
    junit(hostile_report())  # parses
