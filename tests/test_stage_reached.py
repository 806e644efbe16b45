"""Without a root cause, the pods still say how far the deployment got: the report records the
least advanced pod's stage (doctor/views/podstage.py, the same reading --watch uses) and the HTML stage
strip marks it."""

from __future__ import annotations

from aml_doctor.evidence import store as evidence_mod
from aml_doctor.engine.runner import analyze
from aml_doctor.findings import Stage
from aml_doctor.engine.plugins import load_plugins
from aml_doctor.reports import render
from aml_doctor.reports.charts import stage_strip
from aml_doctor.testing import BundleBuilder, crashloop_pod

RULES = load_plugins().rules


def _report(tmp_path, pod, select=()):
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", pod)
    ev = evidence_mod.load(str(b.write(tmp_path / "b")))
    rules = [r for r in RULES if not select or r.id in select]
    return analyze(ev, rules)


def test_a_crash_looping_pod_has_reached_init(tmp_path):
    report = _report(tmp_path, crashloop_pod("scorer", "azureml-ws1"))
    assert report.reached is Stage.INIT


def test_with_no_rule_naming_the_cause_the_strip_marks_where_the_pods_stopped(tmp_path):
    # Only a rule that has nothing to say here is selected: no root cause, the pod is still crashing.
    report = _report(tmp_path, crashloop_pod("scorer", "azureml-ws1"), select=("AML005",))
    assert report.root_cause is None and report.reached is Stage.INIT
    strip = stage_strip(report)
    states = {c.key: c.state for c in strip.chips}
    keys = [c.key for c in strip.chips]
    init = next(k for k in keys if states[k] == "suspected")
    assert all(states[k] == "passed" for k in keys[: keys.index(init)])
    assert all(states[k] == "not_reached" for k in keys[keys.index(init) + 1:])
    assert "got as far as" in strip.caption
    assert "got as far as" in render(report, "html")


def test_a_ready_pod_has_reached_run(tmp_path):
    pod = crashloop_pod("scorer", "azureml-ws1")
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert _report(tmp_path, pod).reached is Stage.RUN
