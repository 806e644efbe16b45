"""The package's entry point: formats, argument checks, and a cheap import."""

import subprocess
import sys

import pytest
from aml_doctor.reports import FORMATS, render
from report_factory import make_report


def test_formats_are_the_six_the_cli_offers():
    assert FORMATS == ("text", "md", "html", "json", "sarif", "junit")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_root_cause(fmt):
    out = render(make_report(), fmt)
    assert "Blob volume cannot be mounted" in out


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown report format 'pdf' \(choose from text, md, html"):
        render(make_report(), "pdf")


def test_size_limit_only_for_markdown():
    with pytest.raises(ValueError, match="only to the md format"):
        render(make_report(), "html", max_chars=1000)


def test_importing_the_package_loads_no_template_or_schema_library():
    # The CLI imports aml_doctor.reports at start; Jinja2 and jsonschema must wait for a render.
    code = (
        "import sys, aml_doctor.reports\n"
        "heavy = [m for m in ('jinja2', 'jsonschema', 'markupsafe') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "none"
