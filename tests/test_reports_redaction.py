"""No secret reaches any output, and the redaction backstop never breaks an output's syntax."""

import json
import xml.etree.ElementTree as ET

import pytest
from aml_doctor.reports import FORMATS, render
from aml_doctor.reports.sanitize import backstop_ansi, backstop_json, backstop_markup
from report_factory import ACCOUNT_KEY, SECRETS, Page, secret_report


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_in_any_format(fmt):
    out = render(secret_report(), fmt)
    for secret in SECRETS:
        # Not whole, and not a recognisable piece either.
        assert secret[:16] not in out, (fmt, secret[:16])
    assert "[REDACTED]" in out


def test_capped_markdown_has_no_secret_either():
    out = render(secret_report(), "md", max_chars=1500)
    assert not any(secret[:16] in out for secret in SECRETS)


def test_outputs_still_parse_after_redaction():
    json.loads(render(secret_report(), "json"))
    json.loads(render(secret_report(), "sarif"))
    ET.fromstring(render(secret_report(), "junit"))
    page = Page(render(secret_report(), "html"))
    assert "AccountKey=[REDACTED]" in page.all_text()


def test_json_backstop_keeps_escaped_quotes_intact():
    # The backstop sees serialized JSON; AccountKey= right before an escaped quote must not eat its backslash.
    text = json.dumps({"e": 'conn = "AccountKey=" + key; AccountKey=' + ACCOUNT_KEY})
    out = backstop_json(text)
    assert ACCOUNT_KEY not in out
    assert json.loads(out)["e"].startswith('conn = "AccountKey=')


def test_markup_backstop_never_swallows_a_tag():
    html = f"<pre>AccountKey={ACCOUNT_KEY}</pre><p title=\"password=hunter22\">x</p>"
    out = backstop_markup(html)
    assert out == '<pre>AccountKey=[REDACTED]</pre><p title="password=[REDACTED]">x</p>'


def test_ansi_backstop_keeps_the_reset_code():
    out = backstop_ansi(f"\x1b[1mAccountKey={ACCOUNT_KEY}\x1b[0m after")
    assert out == "\x1b[1mAccountKey=[REDACTED]\x1b[0m after"
