"""The ``aml-doctor`` command line.

Heavy imports (Jinja2, the Kubernetes and Azure SDKs) happen inside the commands that need them,
so ``aml-doctor --help`` and ``aml-doctor analyze`` start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .exitcodes import ExitCode

FORMATS = ("text", "md", "html", "json", "sarif", "junit")
SEVERITIES = ("info", "low", "medium", "high", "critical", "never")
COMMANDS = ("analyze", "collect", "rules", "explain", "plugins", "new-rule", "help")


class UsageError(Exception):
    """Bad input from the user: one line, exit code 2."""


def _common_rule_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--select", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to run")
    p.add_argument("--ignore", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to skip")
    p.add_argument("--plugin", metavar="MODULE_OR_PATH", action="append", default=[], help="load a rule plugin (repeatable)")
    p.add_argument("--rules-dir", metavar="DIR", action="append", default=[], help="load every .py rule file in DIR")
    p.add_argument("--config", metavar="FILE", help="configuration file (default: .aml-doctor.toml or pyproject.toml [tool.aml-doctor], searched upwards)")


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=FORMATS, default="text", help="report format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--fail-on", choices=SEVERITIES, default=None, help="exit 1 when a finding is at or above this severity (default: medium)")
    p.add_argument("--max-chars", type=int, metavar="N", help="cap the Markdown report at N characters (for trackers' comment limits)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in the text format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aml-doctor",
        description=(
            "Diagnose a failed Azure ML model deployment on Kubernetes: collect the evidence, run the rules, "
            "and report the root cause first."
        ),
        epilog=(
            "Live use:  aml-doctor SERVICE [--namespace NS] [--kubeconfig F] [--context C] ...\n"
            "           aml-doctor SERVICE --watch [--until-healthy] [--timeout S]   (follow a deployment)\n"
            "           aml-doctor --all [-n NS | -w WORKSPACE] [--output-dir DIR]   (or SVC1 SVC2 ...)\n"
            "Exit codes: 0 nothing at or above --fail-on; 1 findings; 2 usage or input error; "
            "3 collection failed; 4 internal error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aml-doctor {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    analyze = sub.add_parser("analyze", help="diagnose an evidence bundle, or pasted error text")
    analyze.add_argument("bundle", nargs="?", help="bundle directory, .tar.gz or .zip")
    analyze.add_argument("--text", metavar="FILE", action="append", default=[], help="pasted error text or logs ('-' for stdin); repeatable")
    analyze.add_argument("--service", default="", help="the service's name, when diagnosing pasted text")
    _report_options(analyze)
    _common_rule_options(analyze)

    rules = sub.add_parser("rules", help="list the rules, by stage, with the plugin each comes from")
    rules.add_argument("--format", "-f", choices=("text", "json"), default="text")
    _common_rule_options(rules)

    explain = sub.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("rule", help="rule id (AML004) or name (pod-not-ready)")
    _common_rule_options(explain)

    sub.add_parser("collect", help="collect a service's evidence into a bundle (see: aml-doctor collect --help)", add_help=False)

    plugins = sub.add_parser("plugins", help="list the loaded plugins, their versions and rules")
    _common_rule_options(plugins)

    new_rule = sub.add_parser("new-rule", help="write a new rule, its docs and its test cases")
    new_rule.add_argument("id", help="rule id, e.g. ACME002")
    new_rule.add_argument("name", help="kebab-case name, e.g. gpu-pool-required")
    new_rule.add_argument("--rules-dir", default="team_rules", help="where the rule and its docs go (default: team_rules)")
    new_rule.add_argument("--cases-dir", default="tests/cases", help="where its YAML cases go (default: tests/cases)")
    new_rule.add_argument("--category", default="other", help="root-cause category (default: other)")
    new_rule.add_argument("--stage", default="init", help="deployment stage: cluster, build, schedule, pull, mount, download, init, probe, run, ...")
    new_rule.add_argument("--summary", default="", help="one line: what the rule finds")
    new_rule.add_argument("--phrase", default="", help="the exact error line the rule matches")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] not in COMMANDS and (not argv[0].startswith("-") or "--all" in argv):
            from .live import main_live  # ``aml-doctor myservice``, ``svc1 svc2`` or ``--all``: live diagnosis

            return int(main_live(argv))
        if argv and argv[0] == "collect":
            from .live import main_live

            return int(main_live(argv[1:], collect_only=True))
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None or args.command == "help":
            parser.print_help()
            return ExitCode.OK if args.command == "help" else ExitCode.USAGE_ERROR
        handler = {
            "analyze": cmd_analyze,
            "rules": cmd_rules,
            "explain": cmd_explain,
            "plugins": cmd_plugins,
            "new-rule": cmd_new_rule,
        }[args.command]
        return int(handler(args))
    except UsageError as exc:
        _error(str(exc))
        return ExitCode.USAGE_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("AML_DOCTOR_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set AML_DOCTOR_DEBUG=1 for the traceback)")
        return ExitCode.INTERNAL_ERROR


def _error(message: str) -> None:
    first = (message.strip().splitlines() or [""])[0]
    print(f"aml-doctor: error: {first}", file=sys.stderr)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# ---------------------------------------------------------------------- shared steps
def load_rules(args):
    """Plugins and the configuration, resolved into the rules to run."""
    from .config import load_config
    from .engine import select_rules
    from .plugins import load_plugins

    config = load_config(getattr(args, "config", None))
    loaded = load_plugins(extra=args.plugin, rules_dirs=config.rules_dirs + args.rules_dir)
    select = _split(args.select) or config.select
    ignore = _split(args.ignore) + config.ignore
    rules = select_rules(loaded.rules, select, ignore)
    for err in loaded.errors:
        print(f"aml-doctor: warning: plugin {err.plugin} not loaded: {err.error}", file=sys.stderr)
    return loaded, rules, config


def _use_color(choice: str, stream) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def _emit(report, args, config) -> int:
    """Render, write to -o or stdout, and turn the findings into the exit code."""
    from aml_doctor import reports

    from .model import Severity

    out_stream = sys.stdout
    color = _use_color(args.color, out_stream) and not args.output and args.format == "text"
    try:
        text = reports.render(report, args.format, color=color, max_chars=args.max_chars)
    except ValueError as exc:  # --max-chars with a format other than md, or too small to say anything
        raise UsageError(str(exc)) from None
    write_output(args.output, text)
    fail_on = args.fail_on or config.fail_on or "medium"
    if fail_on == "never":
        return ExitCode.OK
    threshold = Severity.parse(fail_on)
    if any(threshold <= r.finding.severity for r in report.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def write_output(path: str | None, text: str) -> None:
    if not path:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------- commands
def cmd_analyze(args) -> int:
    from . import evidence as evidence_mod
    from .bundle import BundleError
    from .engine import signals_for

    if not args.bundle and not args.text:
        raise UsageError("analyze needs a BUNDLE or --text FILE (use --text - to read stdin)")
    if args.bundle and args.text:
        raise UsageError("give either a BUNDLE or --text, not both")
    loaded, rules, config = load_rules(args)
    signals = signals_for(rules)
    try:
        if args.text:
            ev = evidence_mod.from_texts(_read_texts(args.text), service=args.service, signals=signals)
        else:
            ev = evidence_mod.load(args.bundle, signals=signals)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    if config.is_exempt(ev.service, ev.namespace):
        print(f"aml-doctor: {ev.service or ev.namespace} is exempt by configuration; nothing analysed", file=sys.stderr)
        return ExitCode.OK
    return _emit(diagnose(ev, rules, config, loaded), args, config)


def diagnose(ev, rules, config, loaded):
    """Run the selected rules with the configured severities and plugin options."""
    from .engine import analyze
    from .model import RuleError

    return analyze(
        ev,
        rules,
        severity_overrides=config.severity,
        options=config.plugin_options,
        plugin_errors=[RuleError("", e.plugin, e.error) for e in loaded.errors],
    )


def _read_texts(paths: list[str]) -> list[tuple[str, bytes]]:
    texts = []
    for path in paths:
        if path == "-":
            texts.append(("stdin.txt", sys.stdin.buffer.read()))
            continue
        try:
            with open(path, "rb") as fh:
                texts.append((os.path.basename(path), fh.read()))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return texts


def cmd_rules(args) -> int:
    import json

    loaded, rules, _ = load_rules(args)
    rows = sorted(rules, key=lambda r: (int(r.stage), r.id))
    if args.format == "json":
        data = [
            {"id": r.id, "name": r.name, "category": r.category.value, "severity": r.severity.value,
             "stage": r.stage.name.lower(), "requires": list(r.requires), "plugin": r.plugin, "summary": r.summary()}
            for r in rows
        ]
        print(json.dumps(data, indent=2))
        return ExitCode.OK
    current = None
    for r in rows:
        if r.stage != current:
            current = r.stage
            print(f"\n{r.stage.label}")
        print(f"  {r.id}  {r.name:<34} {r.category.value:<36} {r.severity.value:<8} [{r.plugin}]")
    print(f"\n{len(rows)} rules from {len(loaded.plugins)} plugin(s)")
    return ExitCode.OK


def cmd_explain(args) -> int:
    loaded, _, _ = load_rules(args)
    wanted = args.rule.strip()
    for r in loaded.rules:
        if r.id == wanted.upper() or r.name == wanted:
            docs = r.docs().rstrip()
            print(docs)
            print(f"\ncategory: {r.category.value}   severity: {r.severity.value}   stage: {r.stage.label}   plugin: {r.plugin}")
            return ExitCode.OK
    raise UsageError(f"no rule {wanted!r}; `aml-doctor rules` lists them")


def cmd_plugins(args) -> int:
    loaded, _, _ = load_rules(args)
    for p in loaded.plugins:
        print(f"{p.name:<24} {p.version or '-':<10} {p.source:<12} {', '.join(p.rules) or '(no rules)'}")
    for e in loaded.errors:
        print(f"{e.plugin:<24} {'-':<10} {'broken':<12} {e.error}")
    return ExitCode.OK


def cmd_new_rule(args) -> int:
    from .scaffold import ScaffoldError, new_rule

    try:
        written = new_rule(
            args.id,
            args.name,
            rules_dir=args.rules_dir,
            cases_dir=args.cases_dir,
            category=args.category,
            stage=args.stage,
            summary=args.summary,
            phrase=args.phrase,
        )
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    print(f"next: aml-doctor rules --rules-dir {args.rules_dir}   and   python -m pytest  (its cases run with aml_doctor.testing)")
    return ExitCode.OK
