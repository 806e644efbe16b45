"""Find, load and isolate plugins: entry points, ``--plugin`` modules or paths, ``--rules-dir``.

Each plugin loads in isolation: one that fails to import, or that implements a misspelled hook,
is reported by name with its error and left out, and the run goes on without it.

``AML_DOCTOR_DISABLE_PLUGINS=a,b`` blocks plugins by name (``all`` blocks every entry-point plugin,
the built-in rules included). ``AML_DOCTOR_TRACE_PLUGINS=1`` traces hook calls on stderr.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import hookspecs
from .engine import one_line
from .rule import Rule

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


@dataclass
class Loaded:
    rules: list[type[Rule]]
    plugins: list[PluginInfo]
    errors: list[PluginError]
    manager: pluggy.PluginManager


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


def load_plugins(extra: list[str] = (), rules_dirs: list[str] = ()) -> Loaded:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    blocked = {b.strip() for b in os.environ.get("AML_DOCTOR_DISABLE_PLUGINS", "").split(",") if b.strip()}
    tracing = bool(os.environ.get("AML_DOCTOR_TRACE_PLUGINS"))

    def trace(message: str) -> None:
        if tracing:
            print(f"[aml-doctor plugins] {message}", file=sys.stderr)

    if blocked:
        trace(f"blocked by AML_DOCTOR_DISABLE_PLUGINS: {', '.join(sorted(blocked))}")
    infos: list[PluginInfo] = []
    errors: list[PluginError] = []

    def register(obj, name: str, version: str, source: str) -> None:
        try:
            pm.register(obj, name=name)
            # A misspelled hook (``aml_doctor_rule``) is caught here, for this plugin alone.
            pm.check_pending()
        except Exception as exc:  # noqa: BLE001 - a plugin's failure must not end the run
            if pm.is_registered(obj):
                pm.unregister(obj)
            errors.append(PluginError(name, one_line(exc)))
            trace(f"{name}: not registered: {one_line(exc)}")
            return
        infos.append(PluginInfo(name, version, source))
        trace(f"{name} {version} registered from {source} ({getattr(obj, '__file__', obj)})")

    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in blocked or "all" in blocked:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001
            errors.append(PluginError(ep.name, one_line(exc)))
            trace(f"{ep.name}: entry point {ep.value} failed to import: {one_line(exc)}")
            continue
        dist = getattr(ep, "dist", None)
        register(module, ep.name, dist.version if dist else "", "entry point")

    specs = list(extra)
    for directory in rules_dirs:
        if not os.path.isdir(directory):
            errors.append(PluginError(directory, "rules directory does not exist"))
            continue
        specs.extend(
            os.path.join(directory, f) for f in sorted(os.listdir(directory)) if f.endswith(".py") and not f.startswith("_")
        )
    for spec in specs:
        name = os.path.splitext(os.path.basename(spec))[0] if spec.endswith(".py") else spec
        if name in blocked:
            continue
        try:
            module = _import_path_or_module(spec)
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a broken plugin included
            errors.append(PluginError(name, one_line(exc)))
            continue
        register(module, name, getattr(module, "__version__", ""), "--rules-dir" if spec not in extra else "--plugin")

    rules: list[type[Rule]] = []
    seen: dict[str, str] = {}
    for info in infos:
        plugin = pm.get_plugin(info.name)
        impl = getattr(plugin, "aml_doctor_rules", None)
        if impl is None:
            continue
        try:
            provided = list(impl() or [])
        except Exception as exc:  # noqa: BLE001
            errors.append(PluginError(info.name, one_line(exc)))
            trace(f"{info.name}.aml_doctor_rules() raised {one_line(exc)}")
            continue
        trace(f"{info.name}.aml_doctor_rules() -> {', '.join(getattr(r, 'id', repr(r)) for r in provided) or 'no rules'}")
        for rule in provided:
            if not (isinstance(rule, type) and issubclass(rule, Rule)):
                errors.append(PluginError(info.name, f"aml_doctor_rules returned {rule!r}, not a Rule subclass"))
                continue
            if rule.id in seen:
                errors.append(PluginError(info.name, f"rule id {rule.id} is already provided by {seen[rule.id]}"))
                continue
            seen[rule.id] = info.name
            rule.plugin = info.name
            info.rules.append(rule.id)
            rules.append(rule)
    rules.sort(key=lambda r: r.id)
    return Loaded(rules, infos, errors, pm)
