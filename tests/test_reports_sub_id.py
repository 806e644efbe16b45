"""Every format names the failure mode a finding belongs to, the sub-id --ignore takes."""

import json
from pathlib import Path

import pytest

SCENARIO = str(Path(__file__).parent / "scenarios" / "crashloop-init-keyerror")


@pytest.mark.parametrize("fmt", ["text", "md", "html", "junit"])
def test_the_sub_id_is_in_the_report(cli, fmt):
    out = cli("analyze", SCENARIO, "-f", fmt).out
    assert "AML004[init-error]" in out


def test_json_and_sarif_carry_the_mode_beside_the_rule(cli):
    report = json.loads(cli("analyze", SCENARIO, "-f", "json").out)
    root = report["findings"][0]
    assert (root["rule"], root["mode"]) == ("AML004", "init-error")
    sarif = json.loads(cli("analyze", SCENARIO, "-f", "sarif").out)
    first = sarif["runs"][0]["results"][0]
    assert first["ruleId"] == "AML004" and first["properties"]["mode"] == "init-error"


def test_ignoring_the_sub_id_removes_that_finding_and_keeps_the_others(cli):
    every = json.loads(cli("analyze", SCENARIO, "-f", "json").out)["findings"]
    left = json.loads(cli("analyze", SCENARIO, "-f", "json", "--ignore", "AML004[init-error]").out)["findings"]
    assert [f["rule"] for f in left] == [f["rule"] for f in every if (f["rule"], f["mode"]) != ("AML004", "init-error")]
