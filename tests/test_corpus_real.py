"""The real-world corpus: every case valid, none from a reserved source, and no failure text in it
ever reported as "no problem found". Accuracy itself is printed by bench/bench_corpus.py, not
asserted: a test may not tune to it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aml_doctor.knowledge import corpus, index, priors
from aml_doctor.engine import measure
from aml_doctor.engine.plugins import load_plugins

CASES = corpus.load_cases()
RULES = load_plugins().rules
RESERVED_TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "reserved_sources.py")


def test_the_corpus_holds_real_cases_of_every_target_and_controls():
    assert len(CASES) >= 150
    assert sum(c.source_kind != "docs" for c in CASES) >= 100
    assert {c.target for c in CASES} >= {"aks_v1", "aci_v1", "k8s_online_v2", "managed_online_v2", "local"}
    assert sum(c.control for c in CASES) >= 5
    assert len({c.id for c in CASES}) == len(CASES)


def test_no_case_comes_from_a_reserved_source():
    assert os.path.exists(RESERVED_TOOL), "shared/tools/reserved_sources.py must sit beside the checkout"
    urls = "\n".join(c.source for c in CASES)
    done = subprocess.run([sys.executable, RESERVED_TOOL], input=urls, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_a_malformed_case_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "bad-case.yml"
    bad.write_text("id: bad-case\nsource: http://x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing source_kind"):
        corpus.load_case(bad)
    trimmed = tmp_path / "trim-case.yml"
    fields = {k: "x" for k in ("cause", "fix")}
    trimmed.write_text(
        "id: trim-case\nsource: https://github.com/o/r/issues/1\nsource_kind: github_issue\ntarget: aks_v1\n"
        "channel: prose\ncategory: other\nconfirmed: true\nestablished_by: reporter_fix\n"
        f"cause: {fields['cause']}\nfix: {fields['fix']}\nevidence: |\n  a\n  <trimmed>\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="'trimmed' does not say where"):
        corpus.load_case(trimmed)


def test_thread_keys_put_a_docs_page_and_its_markdown_source_in_one_thread():
    page = corpus.thread_key("https://learn.microsoft.com/en-us/azure/machine-learning/how-to-troubleshoot-online-endpoints?view=azureml-api-2#error-outofquota")
    source = corpus.thread_key("https://github.com/MicrosoftDocs/azure-ai-docs/blob/0a1b2c/articles/machine-learning/how-to-troubleshoot-online-endpoints.md")
    assert page == source == "docs:how-to-troubleshoot-online-endpoints"
    assert corpus.thread_key("https://github.com/Azure/azure-cli/issues/21387#issuecomment-1") == "azure/azure-cli#21387"
    assert corpus.thread_key("https://github.com/microsoft/MLOpsPython/commit/d8e29ccdfdb3969d7220d27e8cdd62abe8cc4ae0") == "microsoft/mlopspython@d8e29cc"


@pytest.mark.parametrize("form", measure.FORMS)
def test_no_failure_text_in_the_corpus_is_an_all_clear(form):
    outcomes = measure.measure(CASES, RULES, forms=(form,))
    clears = [o.case.id for o in outcomes if o.false_all_clear]
    assert clears == []
    # Unconfirmed cases are not scored, but their text is failure text all the same.
    for case in CASES:
        if not case.scored:
            report = measure.diagnose(case, form, RULES, None)
            assert report.verdict.value != "no_problem_found", case.id


def test_leave_one_thread_out_really_leaves_the_thread_out():
    case = next(c for c in CASES if c.confirmed and not c.control)
    built = index.build(CASES, exclude_thread=case.thread)
    assert all(c.thread != case.thread for c in built.cases)
    assert any(c.thread == case.thread for c in index.build(CASES).cases)
    rates = priors.build(CASES, exclude_thread=case.thread)
    assert sum(sum(c.values()) for c in rates.by_symptom.values()) <= sum(
        sum(c.values()) for c in priors.build(CASES).by_symptom.values()
    )


def test_a_case_matches_itself_in_the_index_but_not_when_its_thread_is_left_out():
    case = next(c for c in CASES if c.id == "azsdkpy-39047-marshmallow-t-import")
    lines = index.case_lines(case)
    assert case.thread in [m.case.thread for m in index.build(CASES).match(lines)]
    assert case.thread not in [m.case.thread for m in index.build(CASES, exclude_thread=case.thread).match(lines)]


def test_the_compiled_knowledge_is_the_corpus_as_it_stands():
    from aml_doctor.knowledge import compiled

    assert compiled.COMPILED.read_text(encoding="utf-8") == compiled.render(CASES), (
        "doctor/knowledge/compiled.json is stale: run python -m aml_doctor.knowledge.compiled"
    )
    index_, priors_ = compiled.load()
    assert {c.id for c in index_.cases} == {c.id for c in CASES if c.confirmed and not c.control}
    assert priors_.by_symptom == priors.build(CASES).by_symptom
    assert priors_.by_target == priors.build(CASES).by_target


@pytest.mark.parametrize(
    "text",
    [
        "I thought so too, but got rpy2 module not found error during deployment with latest code.",
        "ModuleNotFoundError: No module named 'azureml.monitoring'",
        "The first time, it was complaining about not being able to find scipy.",
    ],
)
def test_a_missing_module_told_in_prose_or_pasted_is_a_symptom_with_base_rates(text):
    # The three texts are from corpus cases; the base rates behind the symptom leave each case's
    # thread out when it is measured (bench/bench_corpus.py).
    assert "missing-module" in priors.symptoms_in(text)
    shares = priors.build(CASES).shares({"missing-module"})
    assert max(shares, key=shares.get) == "entry_script_import_error"


def test_a_module_word_alone_is_not_a_missing_module():
    assert "missing-module" not in priors.symptoms_in("Loading module 'score' from /var/azureml-app")


def test_authentication_told_in_prose_is_a_symptom():
    # From a corpus case (MLOpsPython#269), where the reporter tells the problem instead of pasting it.
    assert "auth" in priors.symptoms_in("The issue was with the web service authentication - they weren't sure how to access the authentication key")
    assert "auth" not in priors.symptoms_in("Scaled up replica set recsys-ranker-tr2ks7vqp to 1")


def test_the_leading_cause_s_runner_ups_follow_the_findings_and_are_counted_apart():
    # The Triton log: AML004 finds init()'s ConnectionRefusedError and names crash_loop_other as the
    # runner-up (a server the image should start on localhost); the case's established category.
    case = next(c for c in CASES if c.id == "azmlexfork-gvashishtha-local-triton-stack-latest-init-connection-refused")
    knowledge = measure.knowledge_without(CASES, case.thread)
    o = measure.outcome(case, "text", measure.diagnose(case, "text", RULES, knowledge))
    assert o.leading[:2] == ("entry_script_init_error", "crash_loop_other")
    assert "crash_loop_other" not in o.without_runner_ups
    assert o.top3 and not o.top3_without_runner_ups
    assert measure.runner_up_line([o]) == "top-3 without the leading cause's runner-ups: 0/1 (0.00%); with them: 1"
