"""Find, load and isolate plugins: entry points, ``--plugin`` modules or paths, ``--rules-dir``.

Each plugin loads in isolation: one that fails to import, or that implements a misspelled hook,
is reported by name with its error and left out, and the run goes on without it.

Plugins are guests (:mod:`aml_doctor.engine.guard`): each import and each hook call runs in a worker
thread with a time budget (``AML_DOCTOR_PLUGIN_TIMEOUT`` seconds, default 10), so a plugin that
hangs at import, calls ``sys.exit()`` or prints is reported and left out. Each rule a plugin
provides is checked (:func:`aml_doctor.engine.rule.rule_problems`); a wrong type is one error naming the
plugin, the rule and the field, and the plugin's other rules still load.

``AML_DOCTOR_DISABLE_PLUGINS=a,b`` blocks plugins by name (``all`` blocks every entry-point plugin,
the built-in rules included). ``AML_DOCTOR_TRACE_PLUGINS=1`` traces hook calls on stderr.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from aml_doctor.engine import guard, hookspecs
from aml_doctor.common.text import error_line
from aml_doctor.engine.runner import env_seconds
from aml_doctor.engine.rule import Rule, rule_label, rule_problems
from aml_doctor.common.termsafe import escape

# Seconds a plugin's import, or one of its hook calls, may take (AML_DOCTOR_PLUGIN_TIMEOUT overrides).
PLUGIN_TIMEOUT = 10.0

GROUP = "aml_doctor"


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # "entry point", "--plugin", "--rules-dir"
    rules: list[str] = field(default_factory=list)


@dataclass
class PluginError:
    plugin: str
    error: str

    def __post_init__(self) -> None:
        # Both come from plugin code or file names: never let them drive the terminal.
        self.plugin, self.error = escape(str(self.plugin)), escape(str(self.error))


@dataclass
class Loaded:
    rules: list[type[Rule]]
    plugins: list[PluginInfo]
    errors: list[PluginError]
    # time.monotonic() by which the whole run must end (from --timeout), or None.
    deadline: float | None = None


def _import_path_or_module(spec: str):
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such plugin file {spec}")
        mod_name = "aml_doctor_local_" + os.path.splitext(os.path.basename(path))[0]
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(mod_name, None)
            raise
        return module
    return importlib.import_module(spec)


def _guest(fn, name: str, deadline: float | None, notes: list[PluginError]):
    """``fn()`` as a guest: (value, None) or (None, one line saying what went wrong)."""
    budget = env_seconds("AML_DOCTOR_PLUGIN_TIMEOUT", PLUGIN_TIMEOUT)
    if deadline is not None:
        budget = min(budget, deadline - time.monotonic())
        if budget <= 0:
            return None, "not loaded: the run's --timeout was reached"
    outcome = guard.call(fn, budget, name=f"plugin-{name}")
    if outcome.stdout_chars:
        notes.append(PluginError(name, f"wrote {outcome.stdout_chars} characters to stdout; captured and left out of the report"))
    if outcome.timed_out:
        return None, f"took longer than {budget:g} s; left out"
    if outcome.error is not None:
        return None, error_line(outcome.error)
    return outcome.value, None


BUILTIN = "builtin_rules"


def _provided(plugin, info: PluginInfo, deadline, errors: list, output: list, trace) -> list | None:
    """The sound rule classes a plugin's ``aml_doctor_rules`` returns; None when it has no such hook."""
    impl = getattr(plugin, "aml_doctor_rules", None)
    if impl is None:
        return None
    provided, failed = _guest(lambda: list(impl() or []), f"{info.name}.aml_doctor_rules", deadline, output)
    if failed:
        errors.append(PluginError(info.name, failed))
        trace(f"{info.name}.aml_doctor_rules() raised {failed}")
        return None
    trace(f"{info.name}.aml_doctor_rules() -> {', '.join(str(rule_label(r)) for r in provided) or 'no rules'}")
    sound = []
    for rule in provided:
        if not (isinstance(rule, type) and issubclass(rule, Rule)):
            errors.append(PluginError(info.name, f"aml_doctor_rules returned {rule!r:.200}, not a Rule subclass"))
            continue
        problems = rule_problems(rule)
        if problems:
            errors.append(PluginError(info.name, f"rule {rule_label(rule)}: {'; '.join(problems)}"))
            continue
        rule.requires, rule.signals, rule.links = tuple(rule.requires), tuple(rule.signals), tuple(rule.links)
        sound.append(rule)
    return sound


def _resolve(provided_by: list[tuple[PluginInfo, list]], errors: list, trace) -> list[type[Rule]]:
    """One rule per id. The built-in rules come first, whatever the entry points' names sort as;
    a team's rule replaces a built-in one only by declaring it (``overrides = "AML004"``)."""
    order = sorted(provided_by, key=lambda pair: pair[0].name != BUILTIN)
    by_id: dict[str, type[Rule]] = {}
    owner: dict[str, str] = {}
    replaced: dict[str, str] = {}  # overridden id -> the plugin that overrode it
    for info, provided in order:
        for rule in provided:
            target = rule.overrides.strip().upper()
            if target:
                if target not in by_id or owner[target] != BUILTIN:
                    errors.append(PluginError(info.name, f"rule {rule.id} overrides {target}, which is not a built-in rule"
                                              + (f" (already overridden by {replaced[target]})" if target in replaced else "")))
                    continue
                if rule.id != target and rule.id in by_id:
                    errors.append(PluginError(info.name, f"rule id {rule.id} is already provided by {owner[rule.id]}"))
                    continue
                del by_id[target]
                replaced[target], owner[target] = info.name, info.name
                trace(f"{info.name}: rule {rule.id} overrides the built-in {target}")
            elif rule.id in by_id or rule.id in replaced:
                holder = owner.get(rule.id) or replaced[rule.id]
                errors.append(PluginError(info.name, f"rule id {rule.id} is already provided by {holder}"
                                          + ("; declare overrides = \"" + rule.id + "\" to replace it" if holder == BUILTIN else "")))
                continue
            by_id[rule.id] = rule
            owner[rule.id] = info.name
            rule.plugin = info.name
            info.rules.append(rule.id)
    return list(by_id.values())


def _add_signatures(pm, infos: list[PluginInfo], rules: list, deadline, errors: list, output: list, trace) -> None:
    """A plugin's ``aml_doctor_signatures``: more signatures for a rule it does not own."""
    from aml_doctor.engine import signatures

    for info in infos:
        impl = getattr(pm.get_plugin(info.name), "aml_doctor_signatures", None)
        if impl is None:
            continue
        given, failed = _guest(lambda: dict(impl() or {}), f"{info.name}.aml_doctor_signatures", deadline, output)
        if failed:
            errors.append(PluginError(info.name, failed))
            continue
        for rid, data in given.items():
            index = next((i for i, r in enumerate(rules) if isinstance(rid, str) and r.id == rid.upper()), None)
            if index is None:
                errors.append(PluginError(info.name, f"signatures for {rid!r}: no loaded rule has that id"))
                continue
            try:
                extra = signatures.parse_for(rules[index], data, f"{info.name}:{rid}")
            except (signatures.SignatureError, OSError) as exc:
                errors.append(PluginError(info.name, error_line(exc)))
                continue
            rules[index] = signatures.extended(rules[index], extra, info.name)
            trace(f"{info.name}: {len(extra)} signature(s) added to {rules[index].id}")


def load_plugins(extra: list[str] = (), rules_dirs: list[str] = (), timeout: float | None = None) -> Loaded:
    """``timeout``: the run's deadline in seconds from now (``--timeout``), or None."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    blocked = {b.strip() for b in os.environ.get("AML_DOCTOR_DISABLE_PLUGINS", "").split(",") if b.strip()}
    trace = _tracer()
    if blocked:
        trace(f"blocked by AML_DOCTOR_DISABLE_PLUGINS: {', '.join(sorted(blocked))}")
    infos: list[PluginInfo] = []
    errors: list[PluginError] = []
    output: list[PluginError] = []  # plugins that printed; reported after their own errors

    def register(obj, name: str, version: str, source: str) -> None:
        try:
            pm.register(obj, name=name)
            # A misspelled hook (``aml_doctor_rule``) is caught here, for this plugin alone.
            pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - a plugin's failure must not end the run
            if pm.is_registered(obj):
                pm.unregister(obj)
            errors.append(PluginError(name, error_line(exc)))
            trace(f"{name}: not registered: {error_line(exc)}")
            return
        infos.append(PluginInfo(name, version, source))
        trace(f"{name} {version} registered from {source} ({getattr(obj, '__file__', obj)})")

    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in blocked or "all" in blocked:
            continue
        module, failed = _guest(ep.load, ep.name, deadline, output)
        if failed:
            errors.append(PluginError(ep.name, failed))
            trace(f"{ep.name}: entry point {ep.value} failed to import: {failed}")
            continue
        dist = getattr(ep, "dist", None)
        register(module, ep.name, dist.version if dist else "", "entry point")

    for spec in _specs(extra, rules_dirs, errors):
        name = os.path.splitext(os.path.basename(spec))[0] if spec.endswith(".py") else spec
        if name in blocked:
            continue
        module, failed = _guest(lambda: _import_path_or_module(spec), name, deadline, output)
        if failed:  # SystemExit and KeyboardInterrupt from a broken plugin included
            errors.append(PluginError(name, failed))
            continue
        register(module, name, getattr(module, "__version__", ""), "--rules-dir" if spec not in extra else "--plugin")

    provided_by: list[tuple[PluginInfo, list]] = []
    for info in infos:
        provided = _provided(pm.get_plugin(info.name), info, deadline, errors, output, trace)
        if provided is not None:
            provided_by.append((info, provided))
    rules = _resolve(provided_by, errors, trace)
    _add_signatures(pm, infos, rules, deadline, errors, output, trace)
    rules.sort(key=lambda r: r.id)
    return Loaded(rules, infos, errors + output, deadline)


def _tracer():
    """``AML_DOCTOR_TRACE_PLUGINS``: say on stderr what was loaded, from where, and what failed."""
    tracing = bool(os.environ.get("AML_DOCTOR_TRACE_PLUGINS"))

    def trace(message: str) -> None:
        if tracing:
            print(f"[aml-doctor plugins] {message}", file=sys.stderr)

    return trace


def _specs(extra, rules_dirs, errors: list[PluginError]) -> list[str]:
    """The --plugin modules or paths, then every ``*.py`` of each --rules-dir."""
    specs = list(extra)
    for directory in rules_dirs:
        if not os.path.isdir(directory):
            errors.append(PluginError(directory, "rules directory does not exist"))
            continue
        specs.extend(
            os.path.join(directory, f) for f in sorted(os.listdir(directory)) if f.endswith(".py") and not f.startswith("_")
        )
    return specs
