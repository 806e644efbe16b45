"""No secret reaches any output, and the redaction backstop never breaks an output's syntax."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from aml_doctor.evidence.redact import TOKEN_RE
from aml_doctor.reports import FORMATS, render
from aml_doctor.reports.sanitize import backstop_ansi, backstop_json, backstop_markup
from report_factory import ACCOUNT_KEY, SECRETS, Page, secret_report


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_in_any_format(fmt):
    out = render(secret_report(), fmt)
    for secret in SECRETS:
        # Not whole, and not a recognisable piece either.
        assert not [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in out], fmt
    assert TOKEN_RE.search(out)
    # Every format says what was redacted: counts and rule names, never values.
    if fmt in ("json", "sarif"):
        doc = json.loads(out)
        redaction = doc["redaction"] if fmt == "json" else doc["runs"][0]["properties"]["redaction"]
        assert redaction["total"] > 0 and any(k["kind"] == "account-key" and k["count"] >= 1 for k in redaction["kinds"])
    else:
        assert "Redacted " in out and "by rules" in out


def test_capped_markdown_has_no_secret_either():
    out = render(secret_report(), "md", max_chars=1500)
    assert not any(secret[:16] in out for secret in SECRETS)


def test_outputs_still_parse_after_redaction():
    json.loads(render(secret_report(), "json"))
    json.loads(render(secret_report(), "sarif"))
    ET.fromstring(render(secret_report(), "junit"))
    page = Page(render(secret_report(), "html"))
    assert TOKEN_RE.search(page.all_text().split("AccountKey=", 1)[1])


def test_json_backstop_keeps_escaped_quotes_intact():
    # The backstop sees serialized JSON; AccountKey= right before an escaped quote must not eat its backslash.
    text = json.dumps({"e": 'conn = "AccountKey=" + key; AccountKey=' + ACCOUNT_KEY})
    out = backstop_json(text)
    assert ACCOUNT_KEY not in out
    assert json.loads(out)["e"].startswith('conn = "AccountKey=')


def test_markup_backstop_never_swallows_a_tag():
    html = f"<pre>AccountKey={ACCOUNT_KEY}</pre><p title=\"password=hunter22\">x</p>"
    out = backstop_markup(html)
    assert re.fullmatch(r'<pre>AccountKey=&lt;redacted:[0-9a-f]{4}&gt;</pre><p title="password=&lt;redacted:[0-9a-f]{4}&gt;">x</p>', out)


def test_ansi_backstop_keeps_the_reset_code():
    out = backstop_ansi(f"\x1b[1mAccountKey={ACCOUNT_KEY}\x1b[0m after")
    assert re.fullmatch(r"\x1b\[1mAccountKey=<redacted:[0-9a-f]{4}>\x1b\[0m after", out)


def test_the_json_redaction_summary_follows_the_schema():
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "reports" / "schema" / "report.schema.json").read_text())
    doc = json.loads(render(secret_report(), "json"))
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert set(doc["redaction"]) == {"total", "kinds", "rules", "anonymized"}
    assert doc["redaction"]["total"] == sum(k["count"] for k in doc["redaction"]["kinds"])
