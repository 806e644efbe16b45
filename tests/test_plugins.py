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
