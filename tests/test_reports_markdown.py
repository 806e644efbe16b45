"""Markdown: structure as GitHub would parse it, escaping of log text, and the size cap."""

import re

import pytest
from aml_doctor.reports import render
from aml_doctor.reports.mdtext import md_code, md_escape, md_fence
from aml_doctor.reports.templating import markdown_environment
from markdown_it import MarkdownIt
from report_factory import (
    BACKTICKS,
    BUILD_LOG,
    FAILED_MOUNT,
    IMG,
    SCRIPT,
    TIMED_OUT,
    build_warning,
    deployment_timed_out,
    hostile_report,
    make_report,
    mount_failure,
    pod_not_ready,
)

# GitHub's flavour as markdown-it-py has it; linkify needs an extra package and changes no structure.
MD = MarkdownIt("gfm-like", {"linkify": False})


def headings(tokens):
    return [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def fences(tokens):
    return [t.content for t in tokens if t.type == "fence"]


def test_sections_in_order_root_cause_first():
    tokens = MD.parse(render(make_report(), "md"))
    found = headings(tokens)
    assert found[0] == ("h1", "aml-doctor report: scorer")
    h2 = [text for tag, text in found if tag == "h2"]
    assert h2 == [
        "Root cause: Blob volume cannot be mounted: storage refused the key (errno=403)",
        "Symptoms explained by the root cause (2)",
        "Other findings (1)",
        "Not checked (0 partly checked, 1 not run)",
        "Rule errors (1)",
        "Plugin errors (1)",
        "Collection gaps (1)",
        "Notes",
    ]
    # Symptoms and other findings carry their rank.
    h3 = [text for tag, text in found if tag == "h3"]
    assert h3 == [
        "3. Scoring pod never became ready",
        "4. The deployment operation timed out",
        "2. An older image build failed to solve its conda environment",
    ]


def test_verdict_first_and_root_cause_facts():
    text = render(make_report(), "md")
    first_paragraph = text.split("\n\n")[1]
    assert first_paragraph.startswith("**Verdict: Root cause found.** Blob volume cannot be mounted")
    root = text.split("## Root cause:")[1].split("\n## ")[0]
    for fact in ("`volume_mount_failure`", "**Severity:** HIGH", "**Confidence:** 90%", "**Stage:** volume mount",
                 "**Rule:** `AML003`", "1. az ml workspace sync-keys -w ws1 -g rg1"):
        assert fact in root


def test_evidence_fix_and_verify_are_code_blocks_with_exact_text():
    tokens = MD.parse(render(make_report(), "md"))
    blocks = fences(tokens)
    assert FAILED_MOUNT + "\n" in blocks
    assert TIMED_OUT + "\n" in blocks
    assert BUILD_LOG + "\n" in blocks
    assert "kubectl get pod -l azuremlappname=scorer   # Running; no new FailedMount events\n" in blocks
    # The root cause's evidence comes before any symptom's.
    assert blocks.index(FAILED_MOUNT + "\n") < blocks.index(TIMED_OUT + "\n")


def test_long_evidence_is_folded_in_details_and_short_is_not():
    tokens = MD.parse(render(make_report(), "md"))
    html_blocks = [(i, t.content) for i, t in enumerate(tokens) if t.type == "html_block"]
    opens = [i for i, c in html_blocks if c.startswith("<details>")]
    closes = [i for i, c in html_blocks if c.startswith("</details>")]
    assert len(opens) == len(closes) == 1
    inside = [t for t in tokens[opens[0] : closes[0]] if t.type == "fence"]
    assert [t.content for t in inside] == [BUILD_LOG + "\n"]
    summary = tokens[opens[0]].content
    assert "<summary>Evidence: image/build.log:12 (25 lines)</summary>" in summary


def test_log_text_cannot_inject_markup():
    text = render(hostile_report(), "md")
    tokens = MD.parse(text)
    html = MD.render(text)
    # No tag from a log survives as HTML; the payloads show as text.
    assert "<script>" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The link, the emphasis, the heading and the list item in the explanation stay text.
    assert 'href="https://evil.example' not in html
    assert "<strong>bold</strong>" not in html
    assert not any(t for t in headings(tokens) if "not a heading" in t[1])
    assert "<li>not a list item" not in html
    assert "\\@octocat" in text  # no GitHub @mention
    # The evidence with backtick runs is one fence, kept whole.
    assert f"{SCRIPT}\n{IMG}\n{BACKTICKS}\n" in fences(tokens)


def test_fence_outgrows_any_backtick_run():
    assert md_fence("a\n``````\nb").startswith("```````text\n")
    assert md_fence("plain").startswith("```text\n")
    parsed = fences(MD.parse(md_fence("x\n````\ny")))
    assert parsed == ["x\n````\ny\n"]


def test_inline_code_and_escape():
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert MD.render(md_code("`x`")).strip() == "<p><code>`x`</code></p>"
    assert md_escape("1. *x* <b>\n# y") == "1\\. \\*x\\* &lt;b&gt; \\# y"


def test_template_refuses_a_value_printed_without_escaping():
    template = markdown_environment().from_string("{{ value }}")
    with pytest.raises(TypeError, match="unescaped value"):
        template.render(value="<b>")


def big_report():
    # Many findings with long evidence, as a busy cluster gives.
    extra = [
        pod_not_ready(subject=f"scorer-7c9d5b6f8d-p{i:03d}", evidence=pod_not_ready().evidence * 3) for i in range(6)
    ]
    return make_report([mount_failure(), pod_not_ready(), deployment_timed_out(), build_warning(), *extra])


def test_cap_drops_lowest_ranked_evidence_first_and_says_so():
    report = big_report()
    full = render(report, "md")
    limit = len(full) - 200
    capped = render(report, "md", max_chars=limit)
    assert len(capped) <= limit
    notice = re.search(
        r"^> \*\*Shortened:\*\* to fit ([\d,]+) characters: evidence left out for findings ([\d-]+)\.", capped, re.MULTILINE
    )
    assert notice and notice.group(1) == f"{limit:,}"
    first, _, last = notice.group(2).partition("-")
    cut = list(range(int(first), int(last or first) + 1))
    # The lowest-ranked findings lost their evidence, as few as needed; the root cause kept its own.
    n = len(report.findings)
    assert cut[-1] == n and len(cut) < n - 1
    assert FAILED_MOUNT in capped
    assert capped.count("_Evidence left out to fit the size limit") == len(cut)


def test_cap_is_never_exceeded_and_structure_survives():
    report = big_report()
    full_len = len(render(report, "md"))
    for limit in (full_len, full_len // 2, 4000, 2000, 1200, 600, 200, 60):
        capped = render(report, "md", max_chars=limit)
        assert len(capped) <= limit, limit
        tokens = MD.parse(capped)
        # Every fence that opens also closes: its content never runs into the footer.
        assert all("<sub>aml-doctor" not in c for c in fences(tokens)), limit
        assert capped.count("<details>") == capped.count("</details>"), limit
        if limit < full_len:
            assert "Shortened" in capped or "cut to fit the size limit" in capped, limit


def test_cap_keeps_root_cause_title_and_fix_when_tight():
    report = big_report()
    capped = render(report, "md", max_chars=1500)
    assert "Root cause: Blob volume cannot be mounted" in capped
    assert "Sync the workspace keys" in capped
    assert not re.search(r"^```", capped, re.MULTILINE)


def test_cap_too_small_is_refused():
    with pytest.raises(ValueError, match="max_chars must be at least"):
        render(make_report(), "md", max_chars=5)


def test_symptoms_only_report_has_no_root_cause_section():
    text = render(make_report([pod_not_ready(), build_warning(confidence=0.3, stage=pod_not_ready().stage)]), "md")
    h2 = [h for tag, h in headings(MD.parse(text)) if tag == "h2"]
    assert not any(h.startswith("Root cause") for h in h2)
    assert h2[0] == "Findings (2)"
    assert "**Verdict: Symptoms found, root cause not identified.**" in text
