"""Configuration from ``.aml-doctor.toml`` or ``pyproject.toml`` ``[tool.aml-doctor]``.

Found the way ruff and pytest find theirs: the closest file upwards from the working directory
wins, ``.aml-doctor.toml`` before ``pyproject.toml`` in the same directory (a ``pyproject.toml``
without a ``[tool.aml-doctor]`` table is passed over). Command-line flags override it.

    [tool.aml-doctor]
    select = ["AML0"]                 # ids, id prefixes or names
    ignore = ["AML005"]
    fail-on = "high"                  # info, low, medium, high, critical, never
    rules-dir = ["team_rules"]        # relative to the config file
    exempt-services = ["legacy-scorer"]
    exempt-namespaces = ["azureml-sandbox"]

    redact = ["ACME-[0-9A-F]{32}"]    # more secret shapes: a regex, its first group (or all) redacted

    [tool.aml-doctor.severity]        # per-rule severity overrides
    AML005 = "low"

    [tool.aml-doctor.plugins.acme]    # options handed to the plugin named "acme"
    mirror = "https://pypi.acme.internal/simple"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from aml_doctor.cli.errors import UsageError
from aml_doctor.cli.options import SEVERITIES
from aml_doctor.findings import Severity

_KEYS = {"select", "ignore", "fail-on", "rules-dir", "exempt-services", "exempt-namespaces", "severity", "plugins", "redact"}


class ConfigError(Exception):
    pass


@dataclass
class Config:
    path: str = ""
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str = ""
    rules_dirs: list[str] = field(default_factory=list)
    exempt_services: list[str] = field(default_factory=list)
    exempt_namespaces: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    plugin_options: dict[str, dict] = field(default_factory=dict)
    redact: list[str] = field(default_factory=list)  # extra secret patterns (regular expressions)

    def is_exempt(self, service: str, namespace: str) -> bool:
        return bool(service and service in self.exempt_services) or bool(namespace and namespace in self.exempt_namespaces)


def find_config(start: str | None = None) -> tuple[str, dict] | None:
    directory = os.path.abspath(start or os.getcwd())
    while True:
        for name in (".aml-doctor.toml", "pyproject.toml"):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                data = _read(path)
                table = _own_table(data) if name == ".aml-doctor.toml" else data.get("tool", {}).get("aml-doctor")
                if table is not None:
                    return path, table
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _own_table(data: dict) -> dict:
    """``.aml-doctor.toml`` holds the keys at its top level, as ruff.toml does; a block copied from
    a pyproject.toml (``[tool.aml-doctor]`` and its sub-tables) means the same and is read too."""
    tool = data.get("tool")
    if isinstance(tool, dict) and set(data) == {"tool"} and set(tool) == {"aml-doctor"}:
        return tool["aml-doctor"]
    return data


def _read(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _strings(path: str, key: str, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: '{key}' must be a list of strings")
    return value


def load_config(explicit: str | None = None) -> Config:
    """``--config FILE``, else the closest configuration upwards; a bad one is a :class:`UsageError`."""
    try:
        if explicit:
            if not os.path.isfile(explicit):
                raise ConfigError(f"{explicit}: no such configuration file")
            data = _read(explicit)
            table = data.get("tool", {}).get("aml-doctor", data) if explicit.endswith("pyproject.toml") else _own_table(data)
            found = (explicit, table)
        else:
            found = find_config()
        return parse_config(*found) if found else Config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def parse_config(path: str, table: dict) -> Config:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.aml-doctor] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}' (known: {', '.join(sorted(_KEYS))})")
    cfg = Config(path=path)
    cfg.select = _strings(path, "select", table.get("select", []))
    cfg.ignore = _strings(path, "ignore", table.get("ignore", []))
    base = os.path.dirname(path)
    cfg.rules_dirs = [os.path.join(base, d) for d in _strings(path, "rules-dir", table.get("rules-dir", []))]
    cfg.exempt_services = _strings(path, "exempt-services", table.get("exempt-services", []))
    cfg.exempt_namespaces = _strings(path, "exempt-namespaces", table.get("exempt-namespaces", []))
    fail_on = table.get("fail-on", "")
    if fail_on and fail_on not in SEVERITIES:
        raise ConfigError(f"{path}: 'fail-on' must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    cfg.fail_on = fail_on
    severity = table.get("severity", {})
    if not isinstance(severity, dict):
        raise ConfigError(f"{path}: 'severity' must be a table of rule id = severity")
    for rule, value in severity.items():
        try:
            cfg.severity[rule.upper()] = Severity.parse(str(value))
        except ValueError as exc:
            raise ConfigError(f"{path}: 'severity.{rule}': {exc}") from None
    plugins = table.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, dict) for v in plugins.values()):
        raise ConfigError(f"{path}: 'plugins' must hold one table per plugin: [tool.aml-doctor.plugins.<name>]")
    cfg.plugin_options = plugins
    cfg.redact = _strings(path, "redact", table.get("redact", []))
    from aml_doctor.evidence.redact import PatternError, compile_user_patterns

    try:
        compile_user_patterns(cfg.redact)
    except PatternError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return cfg
