"""The words' update of the base rates (knowledge/words.py): which category the evidence's words
point at when no case is close enough to be a neighbour, and what the report says about it."""

from __future__ import annotations

from collections import Counter

from aml_doctor.knowledge import corpus, index, priors
from aml_doctor.knowledge.words import WordModel


def _model() -> WordModel:
    return WordModel(
        ["oom_killed", "oom_killed", "other", "other"],
        [
            Counter({"memory": 1, "killed": 1}),
            Counter({"memory": 2, "signal": 1}),
            Counter({"name": 1, "invalid": 1}),
            Counter({"already": 1, "exists": 1}),
        ],
    )


def test_words_no_case_holds_leave_the_base_rates_as_they_are():
    prior = {"oom_killed": 0.25, "other": 0.75}
    assert _model().update(prior, ["kubelet", "deadline"]) == prior
    assert _model().update(prior, []) == prior


def test_a_word_one_category_holds_raises_that_category():
    prior = {"oom_killed": 0.5, "other": 0.5}
    posterior = _model().update(prior, ["memory"])
    assert posterior["oom_killed"] > posterior["other"]
    assert round(sum(posterior.values()), 9) == 1
    # and the other way round
    posterior = _model().update(prior, ["invalid", "name"])
    assert posterior["other"] > posterior["oom_killed"]


def test_the_base_rates_still_count():
    # One shared word against a base rate of 99 to 1 does not carry the day.
    posterior = _model().update({"oom_killed": 0.01, "other": 0.99}, ["memory"])
    assert posterior["other"] > posterior["oom_killed"]


def test_the_telling_words_are_the_ones_that_raise_the_category():
    assert _model().telling("oom_killed", ["memory", "invalid", "unknownword"]) == ["memory"]
    assert _model().telling("other", ["memory"]) == []
    # "killed" raises oom_killed too, but one case holding a word is chance, not a reason to quote.
    assert _model().telling("oom_killed", ["killed"]) == []


def test_a_thread_left_out_of_the_index_is_left_out_of_the_words():
    cases = corpus.load_cases()
    case = next(c for c in cases if c.id == "azuremlexamples-commit-28351c9-ncd-mlflow-2160-numpy-pin-prose")
    held_out = index.build(cases, exclude_thread=case.thread)
    assert len(held_out.cases) < len(index.build(cases).cases)
    assert all(c.thread != case.thread for c in held_out.cases)
    assert sum(held_out.words.total.values()) == sum(len(doc) for doc in held_out.docs)


def test_a_one_line_prose_report_is_read_by_its_words():
    # A real azureml-examples commit subject (28351c9): no error line and no neighbour close enough,
    # but "mlflow", "failing" and "package" are words of version conflicts in other threads.
    from aml_doctor.engine import measure
    from aml_doctor.engine.diagnosis import Knowledge
    from aml_doctor.engine.plugins import load_plugins

    cases = corpus.load_cases()
    case = next(c for c in cases if c.id == "azuremlexamples-commit-28351c9-ncd-mlflow-2160-numpy-pin-prose")
    knowledge = Knowledge(index.build(cases, exclude_thread=case.thread), priors.build(cases, exclude_thread=case.thread))
    report = measure.diagnose(case, "text", load_plugins().rules, knowledge)
    assert report.known_issues == ()
    first = report.possible_causes[0]
    assert first.category.value == "dependency_version_conflict"
    assert "share the words" in first.why and "mlflow" in first.why
