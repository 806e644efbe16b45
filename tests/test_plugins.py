"""Plugins load in isolation: a broken one is reported by name and the run goes on."""

import textwrap

from aml_doctor.engine.plugins import load_plugins

GOOD = textwrap.dedent(
    """
    import aml_doctor
    from aml_doctor import Category, Fix, Rule, Severity, Stage

    class TeamRule(Rule):
        id = "TEAM001"
        name = "team-rule"
        requires = ("text",)

        def check(self, ev):
            return []

    @aml_doctor.hookimpl
    def aml_doctor_rules():
        return [TeamRule]
    """
)


def test_builtin_rules_come_through_the_entry_point_group():
    loaded = load_plugins()
    assert not loaded.errors
    assert "builtin_rules" in {p.name for p in loaded.plugins}
    assert all(r.plugin == "builtin_rules" for r in loaded.rules if r.id.startswith("AML"))
    assert {"AML001", "AML002", "AML003", "AML004", "AML005"} <= {r.id for r in loaded.rules}


def test_plugin_by_path_adds_its_rules(tmp_path):
    path = tmp_path / "team_rules_file.py"
    path.write_text(GOOD)
    loaded = load_plugins(extra=[str(path)])
    assert not loaded.errors
    assert "TEAM001" in {r.id for r in loaded.rules}
    assert next(p for p in loaded.plugins if p.name == "team_rules_file").rules == ["TEAM001"]


def test_broken_import_is_reported_and_others_still_load(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_anywhere\n")
    good = tmp_path / "team_rules_file.py"
    good.write_text(GOOD)
    loaded = load_plugins(extra=[str(broken), str(good)])
    assert [(e.plugin, e.error) for e in loaded.errors] == [("broken", "ModuleNotFoundError: No module named 'no_such_module_anywhere'")]
    assert "TEAM001" in {r.id for r in loaded.rules}


def test_misspelled_hook_is_caught_by_check_pending(tmp_path):
    typo = tmp_path / "typo.py"
    typo.write_text(GOOD.replace("def aml_doctor_rules", "def aml_doctor_rule"))
    loaded = load_plugins(extra=[str(typo)])
    assert len(loaded.errors) == 1 and loaded.errors[0].plugin == "typo"
    assert "unknown hook" in loaded.errors[0].error and "aml_doctor_rule" in loaded.errors[0].error
    assert "TEAM001" not in {r.id for r in loaded.rules}
    assert "AML004" in {r.id for r in loaded.rules}


def test_duplicate_rule_id_is_refused(tmp_path):
    dup = tmp_path / "dup.py"
    dup.write_text(GOOD.replace('"TEAM001"', '"AML004"'))
    loaded = load_plugins(extra=[str(dup)])
    assert any("AML004 is already provided by builtin_rules" in e.error for e in loaded.errors)


def test_disable_plugins_env_blocks_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("AML_DOCTOR_DISABLE_PLUGINS", "builtin_rules")
    loaded = load_plugins()
    assert "builtin_rules" not in {p.name for p in loaded.plugins}
    assert not [r for r in loaded.rules if r.id.startswith("AML")]
    monkeypatch.setenv("AML_DOCTOR_DISABLE_PLUGINS", "all")
    assert load_plugins().rules == []


def test_rules_dir_loads_every_file(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "team_rules_file.py").write_text(GOOD)
    loaded = load_plugins(rules_dirs=[str(tmp_path / "rules")])
    assert next(p for p in loaded.plugins if p.name == "team_rules_file").source == "--rules-dir"


# ---------------------------------------------------------------------- takeover by declaration only
TEAM_AML004 = textwrap.dedent(
    """
    import aml_doctor
    from aml_doctor import Category, Fix, Rule, Severity, Stage

    class TeamPodNotReady(Rule):
        id = "{rid}"
        name = "team-pod-not-ready"
        category = Category.CRASH_LOOP_OTHER
        requires = ("text",)
        {declare}

        def check(self, ev):
            yield self.finding(title="the team's own reading", explanation="x", evidence=[], fix=Fix("y"))

    @aml_doctor.hookimpl
    def aml_doctor_rules():
        return [TeamPodNotReady]
    """
)


def _entry_point_plugin(tmp_path, monkeypatch, ep_name: str, source: str, tag: str = "team") -> None:
    """A plugin installed as a real distribution with an ``aml_doctor`` entry point named ``ep_name``."""
    import importlib

    module = f"{ep_name}_{tag}_rules"
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[aml_doctor]\n{ep_name} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_an_entry_point_that_sorts_first_does_not_take_over_a_builtin_rule(tmp_path, monkeypatch):
    _entry_point_plugin(tmp_path, monkeypatch, "aaa", TEAM_AML004.format(rid="AML004", declare=""))
    loaded = load_plugins()
    assert "aaa" in {p.name for p in loaded.plugins}
    rule = next(r for r in loaded.rules if r.id == "AML004")
    assert rule.plugin == "builtin_rules" and rule.name == "pod-not-ready"
    assert [e.error for e in loaded.errors if e.plugin == "aaa"] == [
        'rule id AML004 is already provided by builtin_rules; declare overrides = "AML004" to replace it'
    ]


def test_a_declared_override_replaces_the_builtin_rule_whatever_the_plugin_is_called(tmp_path, monkeypatch):
    for ep_name in ("aaa", "zzz"):
        _entry_point_plugin(tmp_path, monkeypatch, ep_name,
                            TEAM_AML004.format(rid="TEAM004", declare='overrides = "AML004"'), tag="overriding")
        loaded = load_plugins()
        assert not [e for e in loaded.errors if e.plugin == ep_name], loaded.errors
        ids = {r.id: r for r in loaded.rules}
        assert "AML004" not in ids and ids["TEAM004"].plugin == ep_name
        for path in tmp_path.glob(f"{ep_name}_overriding_rules*"):
            __import__("shutil").rmtree(path) if path.is_dir() else path.unlink()
        __import__("importlib").invalidate_caches()


def test_an_override_of_a_rule_that_is_not_built_in_is_refused(tmp_path):
    path = tmp_path / "team.py"
    path.write_text(TEAM_AML004.format(rid="TEAM004", declare='overrides = "AML999"'))
    loaded = load_plugins(extra=[str(path)])
    assert [e.error for e in loaded.errors] == ["rule TEAM004 overrides AML999, which is not a built-in rule"]
    assert "AML004" in {r.id for r in loaded.rules}


# ---------------------------------------------------------------------- a team's signature for a built-in mode
TEAM_SIGNATURES = textwrap.dedent(
    '''
    import aml_doctor

    @aml_doctor.hookimpl
    def aml_doctor_signatures():
        return {"AML004": [
            {"id": "acme-loader-missing", "mode": "import-error", "any": ["AcmeLoaderNotInstalled"],
             "title": "the ACME model loader is not in the image", "explanation": "The image lacks acme-loader.",
             "fix": {"summary": "Add acme-loader to the environment."}, "source": "https://example.org/acme",
             "example": "AcmeLoaderNotInstalled: acme_loader"},
        ]}
    '''
)


def test_a_plugin_adds_a_signature_to_a_builtin_failure_mode_without_editing_core(tmp_path):
    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze, signals_for

    path = tmp_path / "acme_signatures.py"
    path.write_text(TEAM_SIGNATURES)
    builtin = next(r for r in load_plugins().rules if r.id == "AML004")
    loaded = load_plugins(extra=[str(path)])
    assert not loaded.errors
    rule = next(r for r in loaded.rules if r.id == "AML004")
    assert [s.id for s in rule.signatures][-1] == "acme-loader-missing" and rule.signatures_from == ("acme_signatures",)
    assert "AcmeLoaderNotInstalled" in rule.signals
    text = b"2024-01-01 10:00:00 | root | ERROR | AcmeLoaderNotInstalled: acme_loader\nWorker exiting (pid: 41)\n"
    ev = evidence_mod.from_texts([("get_logs.txt", text)], signals=signals_for(loaded.rules))
    report = analyze(ev, loaded.rules)
    first = report.findings[0].finding
    assert (first.rule_mode, first.category.value) == ("AML004[import-error]", "entry_script_import_error")
    assert "ACME model loader" in first.title
    # The built-in class itself is untouched: a run without the plugin does not see the signature.
    assert "acme-loader-missing" not in {s.id for s in builtin.signatures}
    ev = evidence_mod.from_texts([("get_logs.txt", text)], signals=signals_for([builtin]))
    assert not [r for r in analyze(ev, [builtin]).findings if r.finding.rule == "AML004"]


def test_a_team_signature_for_a_mode_the_rule_lacks_is_refused(tmp_path):
    path = tmp_path / "acme_signatures.py"
    path.write_text(TEAM_SIGNATURES.replace('"mode": "import-error"', '"mode": "no-such-mode"'))
    loaded = load_plugins(extra=[str(path)])
    assert len(loaded.errors) == 1 and "AML004 has no failure mode 'no-such-mode'" in loaded.errors[0].error
