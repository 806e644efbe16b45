"""HTML: one self-contained page, root cause first, every excerpt with its locator, log text inert."""

import re

import jinja2
import pytest
from aml_doctor.reports import render
from aml_doctor.reports.templating import html_environment
from report_factory import (
    BUILD_LOG,
    FAILED_MOUNT,
    IMG,
    SCRIPT,
    Page,
    hostile_report,
    make_report,
    pod_not_ready,
)

URL_ATTRIBUTES = ("src", "href", "action", "formaction", "srcset", "poster", "data", "background", "ping")


def test_sections_in_causal_order():
    page = Page(render(make_report(), "html"))
    ids = page.ids()
    order = ["root-cause", "finding-1", "symptoms", "finding-3", "finding-4", "other-findings", "finding-2",
             "not-checked", "rule-errors", "plugin-errors", "collection-gaps", "notes"]
    assert [i for i in ids if i in order] == order


def test_every_excerpt_shown_with_its_locator():
    report = make_report()
    html = render(report, "html")
    page = Page(html)
    text = page.all_text()
    for ranked in report.findings:
        for item in ranked.finding.evidence:
            assert item.locator in text
            assert item.excerpt in text
    # Excerpts are in <pre> blocks, right after a caption naming their locator.
    captions = re.findall(r"<figcaption><code>([^<]*)</code>", html)
    assert "kubernetes/events.json#scorer-7c9d5b6f8d-x2k9q/FailedMount" in captions
    assert "image/build.log:12" in captions
    assert FAILED_MOUNT.replace('"', "&#34;") in html
    assert BUILD_LOG.splitlines()[-1] in text


def test_not_checked_and_errors_are_listed():
    text = Page(render(make_report(), "html")).all_text()
    assert "AML005" in text and "no pod spec in the bundle (kubernetes/pods.json missing)" in text
    assert "KeyError: 'containerStatuses'" in text
    assert "ImportError: No module named 'contoso'" in text
    assert "previous container logs: pod has no previous instance" in text


def test_log_text_is_escaped_never_markup():
    html = render(hostile_report(), "html")
    page = Page(html)
    assert not page.tags() & {"script", "img", "b"}
    text = page.all_text()
    assert SCRIPT in text and IMG in text
    assert "<b>x</b>" in text  # a locator with markup is shown literally too


def test_self_contained_no_urls_no_script():
    html = render(make_report(), "html")
    page = Page(html)
    assert "script" not in page.tags() and "link" not in page.tags()
    links = []
    for tag, attrs in page.elements:
        for name in URL_ATTRIBUTES:
            if name in attrs and not attrs[name].startswith("#"):
                # Only a rule's "Read more" https link, as an <a> that sends no referrer; nothing is loaded.
                assert (tag, name) == ("a", "href") and attrs[name].startswith("https://"), (tag, name, attrs[name])
                assert attrs.get("rel") == "noopener noreferrer"
                links.append(attrs[name])
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css
    assert "@media print" in css
    # Links from rules are links.
    assert "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-deployment" in links
    csp = [a["content"] for t, a in page.elements if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_severity_badges_and_symptom_marks():
    page = Page(render(make_report(), "html"))
    badges = [a["class"] for t, a in page.elements if t == "span" and "badge" in a.get("class", "")]
    assert badges[:2] == ["badge sev-high", "badge sev-medium"]
    assert badges.count("badge symptom") == 2


def test_environment_autoescapes_and_is_strict():
    env = html_environment()
    assert env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_symptoms_only_page():
    page = Page(render(make_report([pod_not_ready()]), "html"))
    assert "root-cause" not in page.ids()
    assert "Symptoms found, root cause not identified" in page.all_text()
