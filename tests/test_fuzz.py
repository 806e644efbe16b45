"""Fuzzing in the repository: Hypothesis strategies for bundles, Kubernetes objects and pasted text.

CI runs a bounded number of examples with a fixed seed (``derandomize``), so a run is the same
every time and takes seconds. A longer, randomised run is one variable away:

    AML_DOCTOR_FUZZ_EXAMPLES=20000 AML_DOCTOR_FUZZ_RANDOM=1 python -m pytest -q tests/test_fuzz.py

The property is the same for every strategy: loading and analysing never raises (a bundle that
cannot be read is a ``BundleError``, the one-line exit 2), and no rule ever errors, because no rule
may see a value of a type it does not expect. Every crash found becomes an ``@example`` below.
"""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aml_doctor.evidence import store as evidence_mod
from aml_doctor.evidence.bundle import BundleError
from aml_doctor.engine.runner import analyze, signals_for
from aml_doctor.engine.plugins import load_plugins
from aml_doctor.testing import crashloop_pod

EXAMPLES = int(os.environ.get("AML_DOCTOR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not os.environ.get("AML_DOCTOR_FUZZ_RANDOM"),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NS = "azureml-ws1"


@lru_cache(maxsize=1)
def _rules():
    loaded = load_plugins()
    return loaded.rules, signals_for(loaded.rules)


def _diagnose(files: dict[str, bytes]):
    rules, signals = _rules()
    try:
        ev = evidence_mod.load(files, signals=signals, label="fuzz")
    except BundleError:
        return None
    report = analyze(ev, rules)
    assert report.rule_errors == (), report.rule_errors
    return report


def _manifest(**extra) -> bytes:
    return json.dumps({"format_version": 1, "service": "scorer", "namespace": NS, "workspace": "ws1", **extra}).encode()


# ---------------------------------------------------------------------- strategies
json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every path into a JSON value, for choosing where to plant a wrong type."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


TEMPLATE_POD = crashloop_pod("scorer", NS)
POD_PATHS = [p for p in _paths(TEMPLATE_POD) if p]


def _plant(obj, path, value):
    obj = copy.deepcopy(obj)
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


@st.composite
def mutated_pods(draw):
    """The crash-looping pod with a few of its fields replaced by arbitrary JSON of any type."""
    pod = TEMPLATE_POD
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(pod) if p]
        path = draw(st.sampled_from(paths))
        pod = _plant(pod, path, draw(json_values))
    return pod


EVENT = {"metadata": {"name": "e1", "namespace": NS}, "involvedObject": {"kind": "Pod", "name": TEMPLATE_POD["metadata"]["name"]},
         "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning", "count": 7}


@st.composite
def mutated_events(draw):
    event = EVENT
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(event) if p]))
        event = _plant(event, path, draw(json_values))
    return event


PHRASES = [
    "Traceback (most recent call last):", "KeyError: 'MODEL_NAME'", "OOMKilled", "CrashLoopBackOff",
    "ImagePullBackOff", "Back-off pulling image", "Error: ErrImagePull", "0/3 nodes are available: 3 Insufficient memory.",
    "ModelNotFoundException", "AuthenticationFailed", "DeploymentTimedOut", "Killed", "FATAL", "error:",
    'File "/var/azureml-app/score.py", line 12, in init', "Liveness probe failed", "\x1b[31m", "\r", "\x00",
    "AccountKey=", "sig=", "token=", "\u202e", "\ufffd",
]
pasted_text = st.lists(st.sampled_from(PHRASES) | st.text(max_size=40), max_size=30).map("\n".join)


@st.composite
def bundles(draw):
    """A bundle of some of the files a collector writes, each valid, mutated or garbage."""
    files = {"manifest.json": _manifest()}
    if draw(st.booleans()):
        items = draw(st.lists(mutated_pods() | st.just(TEMPLATE_POD), max_size=3))
        files["kubernetes/pods.json"] = json.dumps({"kind": "List", "items": items}).encode()
    if draw(st.booleans()):
        items = draw(st.lists(mutated_events() | json_values, max_size=3))
        files["kubernetes/events.json"] = json.dumps({"kind": "List", "items": items}).encode()
    if draw(st.booleans()):
        files["azureml/service.json"] = json.dumps(draw(json_values)).encode()
    if draw(st.booleans()):
        files["storage/index.json"] = json.dumps(draw(st.dictionaries(st.text(max_size=30), json_values, max_size=3))).encode()
    for name in draw(st.lists(st.sampled_from(["kubernetes/nodes.json", "kubernetes/configmaps.json",
                                               "kubernetes/deployments.json", "kubernetes/services.json"]), max_size=2, unique=True)):
        files[name] = json.dumps(draw(json_values)).encode()
    if draw(st.booleans()):
        pod = TEMPLATE_POD["metadata"]["name"]
        files[f"logs/{pod}/scorer.log"] = draw(pasted_text).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        files["azureml/logs.txt"] = draw(st.binary(max_size=200)) + draw(pasted_text).encode()
    if draw(st.booleans()):
        files["kubernetes/pods.yaml"] = draw(st.text(max_size=200)).encode()
    return files


# ---------------------------------------------------------------------- properties
@FUZZ
@given(pod=mutated_pods())
@example(pod=_plant(TEMPLATE_POD, ("status", "containerStatuses", 0, "restartCount"), "7"))
@example(pod=_plant(TEMPLATE_POD, ("spec", "containers"), {"name": "scorer"}))
@example(pod=_plant(TEMPLATE_POD, ("metadata", "name"), None))
@example(pod=_plant(TEMPLATE_POD, ("metadata",), []))
def test_no_rule_errors_on_any_pod(pod):
    _diagnose({"manifest.json": _manifest(), "kubernetes/pods.json": json.dumps({"kind": "List", "items": [pod]}).encode()})


@FUZZ
@given(files=bundles())
def test_no_crash_and_no_rule_errors_on_any_bundle(files):
    _diagnose(files)


@FUZZ
@given(text=pasted_text)
def test_no_rule_errors_on_any_pasted_text(text):
    rules, signals = _rules()
    report = analyze(evidence_mod.from_texts([("pasted.txt", text.encode("utf-8", "surrogatepass"))], signals=signals), rules)
    assert report.rule_errors == ()


# ------------------------------------------------------------------------------ text search
# TextDoc.search runs a pattern only on the lines its literals are on (aml_doctor.evidence.prefilter).
# The property: it finds exactly what a plain finditer over the whole text finds, for every
# pattern aml-doctor's own modules compile, on real evidence and on generated text.


def _module_patterns():
    import re
    import sys

    import aml_doctor.views.errorlines  # noqa: F401 - loaded with the rules anyway

    _rules()
    found = {}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("aml_doctor.") or module is None:
            continue
        for value in vars(module).values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                for inner in item if isinstance(item, tuple) else (item,):
                    if isinstance(inner, re.Pattern) and isinstance(inner.pattern, str):
                        found[(inner.pattern, inner.flags)] = inner
    return list(found.values())


def _plain(regex, text):
    return [(m.start(), m.end(), m.group()) for m in regex.finditer(text)]


def _searched(regex, text):
    from aml_doctor.evidence.textdoc import TextDoc, TextKind

    doc = TextDoc.from_text("logs/p/c.log", TextKind.CONTAINER_LOG, text)
    doc.seal()
    return [(h.match.start(), h.match.end(), h.match.group()) for h in doc.search(regex)]


def _scenario_texts():
    from pathlib import Path

    root = Path(__file__).parent / "scenarios"
    return [p.read_text(errors="replace") for p in sorted(root.glob("*/**/*")) if p.suffix in (".log", ".txt")]


def test_search_finds_what_a_plain_search_finds_on_every_scenario_text():
    patterns = _module_patterns()
    assert len(patterns) > 100  # the rules' and views' own
    text = "\n".join(_scenario_texts())
    filtered = 0
    from aml_doctor.evidence import prefilter

    for regex in patterns:
        plan = prefilter.plan_for(regex)
        filtered += bool(plan.literals or plan.branches)
        assert _searched(regex, text) == _plain(regex, text), regex.pattern
    assert filtered > len(patterns) // 2  # most patterns do run on candidate lines only


_WORDS = st.sampled_from([
    "Traceback (most recent call last):", "KeyError: 'MODEL_NAME'", "ERROR", "error", "Error:", "failed", "FATAL",
    "OOMKilled", "Back-off", "HTTP/1.1 504 Gateway Time-out", "status code 429", "(ResourceNotFound) x", "  (Code) ",
    '"code": "BadArgument"', "Listening at: http://127.0.0.1:31311 (10)", "WORKER TIMEOUT (pid:41)", "409 Conflict",
    "\u0130", "\u0131", "\u017f", "\u212a", "ſtatus", "\tKILLED", "exit code 3", "Jwt is expired", "İnvalid",
    "POST /score HTTP/1.0\" 200", "INFO", "|", ">", "]", " ", "  ", "x", "0", "504", "\r",
])
_TEXTS = st.lists(st.lists(_WORDS, max_size=8).map(" ".join), min_size=1, max_size=60).map(
    lambda lines: "\n".join(lines) + "\n" + "padding line\n" * 40)


@FUZZ
@given(text=_TEXTS)
def test_search_finds_what_a_plain_search_finds_on_any_text(text):
    for regex in _module_patterns():
        assert _searched(regex, text) == _plain(regex, text), regex.pattern
