"""The ``aml-doctor`` command line.

Heavy imports (Jinja2, the Kubernetes and Azure SDKs) happen inside the commands that need them,
so ``aml-doctor --help`` and ``aml-doctor analyze`` start fast.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from typing import Sequence

from aml_doctor.common.exitcodes import ExitCode

FORMATS = ("text", "md", "html", "json", "sarif", "junit")
SEVERITIES = ("info", "low", "medium", "high", "critical", "never")
# name -> one line for the help; every other first word is a service name (``aml-doctor myservice``).
COMMANDS = {
    "analyze": "diagnose an evidence bundle, or pasted error text",
    "collect": "collect a service's evidence into a bundle, for a ticket or for later",
    "migrate-check": "check a cluster that runs v1 services for what a v2 (AzureML extension) install would hit",
    "rules": "list the rules, by stage, with the plugin each comes from",
    "explain": "print a rule's documentation",
    "plugins": "list the loaded plugins, their versions and rules",
    "new-rule": "write a new rule, its docs and its test cases",
    "version": "print the version of aml-doctor and of the SDKs it found",
    "completion": "print a shell completion script: bash, zsh or fish",
    "help": "show this help, or a command's: aml-doctor help analyze",
}
SHELLS = ("bash", "zsh", "fish")


class UsageError(Exception):
    """Bad input from the user: one line, exit code 2."""


def _common_rule_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Rules")
    g.add_argument("--select", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to run")
    g.add_argument("--ignore", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to skip")
    g.add_argument("--plugin", metavar="MODULE_OR_PATH", action="append", default=[], help="load a rule plugin (repeatable)")
    g.add_argument("--rules-dir", metavar="DIR", action="append", default=[], help="load every .py rule file in DIR")
    g.add_argument("--config", metavar="FILE", help="configuration file (default: .aml-doctor.toml or pyproject.toml [tool.aml-doctor], searched upwards)")


def _format_name(value: str) -> str:
    """``-o json``: kubectl's, az's, popeye's and k8sgpt's -o is the output format. A path given
    to it (``-o report.html``, the old meaning) is refused with the flag that takes a path."""
    if value in FORMATS:
        return value
    if "." in value or os.sep in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} looks like a file name: -o/--output takes the format ({'|'.join(FORMATS)}); "
            f"write to a file with --output-file {value}")
    raise argparse.ArgumentTypeError(f"invalid format {value!r} (choose from {', '.join(FORMATS)})")


def _output_path(value: str) -> str:
    """``--output-file json`` is almost surely ``-o json`` misremembered; ``./json`` is a file."""
    if value in FORMATS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is a format name: for the format use -o {value}; for a file of that name, --output-file ./{value}")
    return value


def _report_options(p: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    g = p.add_argument_group("Report")
    g.add_argument("-o", "--output", "-f", "--format", dest="format", type=_format_name, default="text", metavar="FORMAT",
                   help=f"report format: {'|'.join(formats)} (default: text); --format and -f are aliases")
    g.add_argument("--output-file", "--file", dest="output_file", type=_output_path, metavar="FILE",
                   help="write the report to FILE instead of stdout")
    g.add_argument("--fail-on", choices=SEVERITIES, default=None,
                   help="exit 1 when a finding is at or above this severity (default: medium, or the config's fail-on)")
    g.add_argument("--exit-zero", action="store_true",
                   help="exit 0 whatever the findings, for report-only CI runs (same as --fail-on never)")
    g.add_argument("--max-chars", type=int, metavar="N", help="cap the Markdown report at N characters (for trackers' comment limits)")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in the text format (NO_COLOR is honoured)")
    g.add_argument("--anonymize", action="store_true",
                   help="also replace subscription and tenant ids, resource and account names and IPs, consistently")


def _live_options(p: argparse.ArgumentParser, collect_only: bool) -> None:
    """kubectl's, az ml's and az storage's flags, for ``aml-doctor SERVICE`` and ``collect``."""
    k8s = p.add_argument_group("Kubernetes (kubectl's flags)")
    k8s.add_argument("-n", "--namespace", help="the service's namespace (default: the context's namespace, else azureml-<workspace>, else searched)")
    k8s.add_argument("-A", "--all-namespaces", action="store_true",
                     help="look in every azureml-* namespace, ignoring the context's namespace"
                          + ("" if collect_only else " (with --all: scan them all)"))
    k8s.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config; in a pod, the in-cluster config)")
    k8s.add_argument("--context", help="kubeconfig context (default: the current context)")
    k8s.add_argument("--log-lines", type=int, default=2000, help="last lines of each container log (default: 2000)")
    aml = p.add_argument_group("Azure ML workspace (az ml's flags)")
    aml.add_argument("-w", "--workspace-name", help="workspace name")
    aml.add_argument("-g", "--resource-group", help="resource group")
    aml.add_argument("--subscription", help="subscription id")
    aml.add_argument("--workspace-config", metavar="CONFIG_JSON", help="the workspace's config.json (default: searched from here)")
    st = p.add_argument_group("Workspace storage (az storage's flags; also from AZURE_STORAGE_* env vars)")
    st.add_argument("--connection-string", default=os.environ.get("AZURE_STORAGE_CONNECTION_STRING"), help="storage connection string")
    st.add_argument("--account-name", default=os.environ.get("AZURE_STORAGE_ACCOUNT"), help="storage account name")
    st.add_argument("--account-key", default=os.environ.get("AZURE_STORAGE_KEY"), help="storage account key")
    st.add_argument("--sas-token", default=os.environ.get("AZURE_STORAGE_SAS_TOKEN"), help="SAS token")
    st.add_argument("--blob-endpoint", help="blob service URL (default: https://<account>.blob.core.windows.net)")
    run = p.add_argument_group("Run")
    run.add_argument("--timeout", type=float, default=None,
                     help="deadline for the whole run, seconds (default: 120; with --watch 1200, AzureML's own poll timeout)")
    run.add_argument("--request-timeout", type=float, default=20.0, help="timeout of each request, seconds (default: 20)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    from aml_doctor.cli.v2live import add_arguments as add_v2_arguments  # -d/--deployment, -e/--endpoint-name: docs/v2.md

    add_v2_arguments(p)
    if collect_only:
        p.add_argument("-o", "--output-file", "--file", dest="output_file", required=True, metavar="BUNDLE",
                       help="bundle to write: a directory, .tar.gz or .zip (collect writes a bundle, never a report)")
        p.add_argument("--no-redact", action="store_true", help="keep secrets in the bundle (internal use only)")
        p.add_argument("--anonymize", action="store_true",
                       help="also replace subscription and tenant ids, resource and account names and IPs in the bundle")
        return
    run.add_argument("--check-access", action="store_true",
                     help="only check what the current identity may read, and what that leaves unchecked")
    _report_options(p)
    _common_rule_options(p)
    p.add_argument("--save-bundle", metavar="BUNDLE", help="also write the collected evidence as a bundle")
    p.add_argument("--no-redact", action="store_true", help="keep secrets in the saved bundle (internal use only; reports are always redacted)")
    watch = p.add_argument_group("Watch a deployment as it happens")
    watch.add_argument("--watch", action="store_true", help="follow the deployment; stop when it is healthy or a root cause is clear")
    watch.add_argument("--until-healthy", action="store_true", help="with --watch: stop only when healthy or at --timeout")
    fleet = p.add_argument_group("Many services")
    fleet.add_argument("--all", action="store_true", help="every service in the namespace (-n), the workspace's namespace (-w), or all azureml-* namespaces")
    fleet.add_argument("--output-dir", metavar="DIR", help="write one report per service as DIR/<service>.<ext>, and DIR/index.html")
    fleet.add_argument("--workers", type=int, default=8, help="concurrent reads (default: 8)")


class _Parser(argparse.ArgumentParser):
    """argparse, with its error line in aml-doctor's one-line form and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _parser(prog: str, **kw) -> argparse.ArgumentParser:
    # allow_abbrev=False: kubectl and az take flags as spelt; a prefix must not silently mean another flag.
    return _Parser(prog=prog, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter, **kw)


def build_parser(prog: str = "aml-doctor") -> argparse.ArgumentParser:
    """The top-level parser: ``aml-doctor SERVICE...`` with the live flags, the commands in its help."""
    commands = "\n".join(f"  {name:<11} {text}" for name, text in COMMANDS.items())
    p = _parser(
        prog,
        usage=f"{prog} SERVICE [SERVICE ...] [options]\n       {prog} --all [-n NS | -w WS | -A] [options]\n       {prog} COMMAND ...",
        description=(
            "Diagnose a failed Azure ML model deployment on Kubernetes: collect the evidence, run the rules, "
            "and report the root cause first.\n\ncommands:\n" + commands
            + "\n\nA service named like a command: --service NAME."
        ),
        epilog=(
            f"Examples:\n  {prog} myservice -w myworkspace -g my-rg\n  {prog} myservice -n azureml-myws -o md --output-file report.md\n"
            f"  {prog} myservice -n azureml-myws --watch\n  {prog} --all -A --output-dir reports/\n"
            f"  {prog} analyze bundle.tar.gz -o html --output-file report.html\n\n"
            "Exit codes: 0 nothing at or above --fail-on; 1 findings; 2 usage, input or setup error; "
            "3 collection failed; 4 internal error; 5 unrecognised (errors no rule explains); "
            "6 the report could not be written; 130 interrupted."
        ),
    )
    p.add_argument("--version", action="version", version=f"aml-doctor {_version()}")
    p.add_argument("service", nargs="*", metavar="SERVICE", help="the web service's name; several for a fleet summary")
    p.add_argument("--service", dest="named", action="append", default=[], metavar="NAME",
                   help="a service's name, even one that is also a command (repeatable)")
    _live_options(p, collect_only=False)
    return p


def build_command_parser(command: str, prog: str = "aml-doctor") -> argparse.ArgumentParser:
    """The parser of one command (``analyze``, ``collect``, ...)."""
    p = _parser(f"{prog} {command}", description=COMMANDS[command])
    if command == "analyze":
        p.add_argument("bundle", nargs="?", help="bundle directory, .tar.gz or .zip")
        p.add_argument("--text", metavar="FILE", action="append", default=[], help="pasted error text or logs ('-' for stdin); repeatable")
        p.add_argument("--service", default="", help="the service's name, when diagnosing pasted text")
        _report_options(p)
        _common_rule_options(p)
    elif command == "collect":
        p.add_argument("service", help="the web service's name (or the v2 online endpoint's, with -d)")
        _live_options(p, collect_only=True)
    elif command == "migrate-check":
        from aml_doctor.cli.v2migrate import add_arguments as add_migrate_arguments

        add_migrate_arguments(p)
        _report_options(p)
        _common_rule_options(p)
    elif command == "rules":
        p.add_argument("-o", "--output", "-f", "--format", dest="format", choices=("text", "json"), default="text", metavar="FORMAT",
                       help="text|json (default: text)")
        _common_rule_options(p)
    elif command in ("explain", "plugins"):
        if command == "explain":
            p.add_argument("rule", help="rule id (AML004) or name (pod-not-ready)")
        _common_rule_options(p)
    elif command == "new-rule":
        p.add_argument("id", help="rule id, e.g. ACME002")
        p.add_argument("name", help="kebab-case name, e.g. gpu-pool-required")
        p.add_argument("--rules-dir", default="team_rules", help="where the rule and its docs go (default: team_rules)")
        p.add_argument("--cases-dir", default="tests/cases", help="where its YAML cases go (default: tests/cases)")
        p.add_argument("--category", default="other", help="root-cause category (default: other)")
        p.add_argument("--stage", default="init", help="deployment stage: cluster, build, schedule, pull, mount, download, init, probe, run, ...")
        p.add_argument("--summary", default="", help="one line: what the rule finds")
        p.add_argument("--phrase", default="", help="the exact error line the rule matches")
    elif command == "version":
        p.add_argument("-o", "--output", dest="format", choices=("text", "json"), default="text", metavar="FORMAT", help="text|json (default: text)")
    elif command == "completion":
        p.add_argument("shell", choices=SHELLS, help="bash: source <(aml-doctor completion bash); zsh and fish likewise")
    elif command == "help":
        p.add_argument("topic", nargs="?", choices=tuple(c for c in COMMANDS if c != "help"), metavar="COMMAND")
    return p


def parse(argv: Sequence[str], prog: str = "aml-doctor") -> tuple[str, argparse.Namespace]:
    """``(command, args)``; ``command`` is ``"live"`` for ``aml-doctor SERVICE...`` and ``--all``.
    Raises :class:`UsageError` for anything argparse or the checks below refuse."""
    argv = list(argv)
    if argv and argv[0] in COMMANDS:
        return argv[0], build_command_parser(argv[0], prog).parse_args(argv[1:])
    args = build_parser(prog).parse_args(argv)
    for name in args.service:
        if name in COMMANDS:
            raise UsageError(f"{name!r} is a command and goes first ({prog} {name} ...); for a service named {name}, pass --service {name}")
        close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.75)
        if close:
            raise UsageError(f"unknown command {name!r}: did you mean `{prog} {close[0]}`? (for a service named {name}, pass --service {name})")
    args.service = [*args.service, *args.named]
    return "live", args


def _version() -> str:
    from aml_doctor import __version__

    return __version__


def main(argv: Sequence[str] | None = None, prog: str = "aml-doctor") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv:
            build_parser(prog).print_help()
            return ExitCode.USAGE_ERROR
        command, args = parse(argv, prog)
        _configure_redaction(args)
        try:
            code = int(_HANDLERS[command](args, prog))
        finally:
            _configure_redaction(None)  # --anonymize and configured patterns end with the run
        # --exit-zero: a report-only run (ruff's and flake8's flag); setup and input errors still fail.
        if getattr(args, "exit_zero", False) and code == ExitCode.FINDINGS:
            return ExitCode.OK
        return code
    except UsageError as exc:
        _error(str(exc))
        return ExitCode.USAGE_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except OutputError as exc:
        _error(str(exc))
        return ExitCode.OUTPUT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        _error("cannot write the report: the reader of standard output went away (broken pipe)")
        return ExitCode.OUTPUT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("AML_DOCTOR_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set AML_DOCTOR_DEBUG=1 for the traceback)")
        return ExitCode.INTERNAL_ERROR


def kubectl_plugin() -> int:
    """``kubectl aml-doctor ...``: kubectl runs ``kubectl-aml_doctor`` with the words after its name."""
    return main(sys.argv[1:], prog="kubectl aml-doctor")


def _live(args, prog: str) -> int:
    from aml_doctor.cli.live import main_live  # ``aml-doctor myservice``, ``svc1 svc2`` or ``--all``: live diagnosis
    from aml_doctor.cli.v2live import main as v2_main, wanted as v2_wanted  # ``aml-doctor ENDPOINT -d DEPLOYMENT``: docs/v2.md

    return v2_main(args) if v2_wanted(args) else main_live(args)


def _collect(args, prog: str) -> int:
    from aml_doctor.evidence import redact
    from aml_doctor.cli.config import load_config
    from aml_doctor.cli.live import main_live

    redact.configure(patterns=load_config(None).redact)  # the configuration's redact patterns
    from aml_doctor.cli.v2live import main as v2_main, requested as v2_requested

    return v2_main(args, collect_only=True) if v2_requested(args) else main_live(args, collect_only=True)


def _configure_redaction(args) -> None:
    """Each run gets its own token salt; --anonymize applies to everything it writes."""
    from aml_doctor.evidence import redact

    redact.reset()
    redact.configure(anonymize=bool(getattr(args, "anonymize", False)))


def _help(args, prog: str) -> int:
    parser = build_command_parser(args.topic, prog) if args.topic else build_parser(prog)
    parser.print_help()
    return ExitCode.OK


def cmd_version(args, prog: str = "aml-doctor") -> int:
    """The version, and which optional SDKs this environment has (what a bug report needs)."""
    import json
    import platform
    from importlib import metadata

    found = {}
    for dist in ("kubernetes", "azure-storage-blob", "azure-identity", "azureml-core", "azure-ai-ml", "rich"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    if args.format == "json":
        print(json.dumps({"aml_doctor": _version(), "python": platform.python_version(), "packages": found}, indent=2))
        return ExitCode.OK
    print(f"aml-doctor {_version()}")
    print(f"python {platform.python_version()}")
    for dist, version in found.items():
        print(f"{dist} {version or 'not installed'}")
    return ExitCode.OK


def cmd_completion(args, prog: str = "aml-doctor") -> int:
    from aml_doctor.cli.completion import script

    sys.stdout.write(script(args.shell))
    return ExitCode.OK


def _error(message: str) -> None:
    from aml_doctor.evidence.redact import redact_text
    from aml_doctor.common.termsafe import escape

    # The message may quote a file name, cluster data or an SDK's answer: secrets are redacted and
    # what could drive the terminal is escaped, as in every report.
    first = (message.strip().splitlines() or [""])[0]
    print(f"aml-doctor: error: {escape(redact_text(first))}", file=sys.stderr)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# ---------------------------------------------------------------------- shared steps
def load_rules(args):
    """Plugins and the configuration, resolved into the rules to run."""
    from aml_doctor.cli.config import load_config
    from aml_doctor.engine.runner import select_rules
    from aml_doctor.engine.plugins import load_plugins

    config = load_config(getattr(args, "config", None))
    from aml_doctor.evidence import redact

    redact.configure(patterns=config.redact)
    loaded = load_plugins(extra=args.plugin, rules_dirs=config.rules_dirs + args.rules_dir, timeout=getattr(args, "timeout", None))
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

    from aml_doctor.findings import Severity

    out_stream = sys.stdout
    color = _use_color(args.color, out_stream) and not args.output_file and args.format == "text"
    try:
        text = reports.render(report, args.format, color=color, max_chars=args.max_chars)
    except ValueError as exc:  # --max-chars with a format other than md, or too small to say anything
        raise UsageError(str(exc)) from None
    write_output(args.output_file, text)
    fail_on = args.fail_on or config.fail_on or "medium"
    if fail_on == "never":
        return ExitCode.OK
    threshold = Severity.parse(fail_on)
    if any(threshold <= r.finding.severity for r in report.findings):
        return ExitCode.FINDINGS
    if report.verdict.value == "unrecognised":
        return ExitCode.UNRECOGNISED
    return ExitCode.OK


class OutputError(Exception):
    """The report could not be written (ENOSPC, EPIPE, EIO): one line, exit code 6."""


def _silence_stdout() -> None:
    # After a failed write, the interpreter's own flush at exit would fail again and print a
    # traceback ("Exception ignored ... BrokenPipeError"): point fd 1 at the null device first.
    # https://docs.python.org/3/library/signal.html#note-on-sigpipe
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _not_regular(mode: int) -> str:
    import stat

    for test, label in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return label
    return "" if stat.S_ISREG(mode) else "not a regular file"


def write_output(path: str | None, text: str) -> None:
    import errno

    if not path:
        try:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        except OSError as exc:  # ENOSPC on a full disk, EPIPE when the reader went away
            _silence_stdout()
            raise OutputError(f"cannot write the report to standard output: {exc.strerror or exc}") from None
        return
    # -o replaces only a regular file: never a device (as root, replacing /dev/null would destroy
    # it), a FIFO, or a symlink (the link itself would be replaced, its target left as it was).
    try:
        kind = _not_regular(os.lstat(path).st_mode)
    except FileNotFoundError:
        kind = ""
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if kind:
        raise UsageError(f"refusing to write {path}: it is {kind}; the report goes only to a regular file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------- commands
def cmd_analyze(args, prog: str = "aml-doctor") -> int:
    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.evidence.bundle import BundleError
    from aml_doctor.engine.runner import signals_for

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
    import dataclasses

    from aml_doctor.engine.runner import analyze
    from aml_doctor.findings import RuleError

    report = analyze(
        ev,
        rules,
        severity_overrides=config.severity,
        options=config.plugin_options,
        plugin_errors=[RuleError("", e.plugin, e.error) for e in loaded.errors],
        deadline=getattr(loaded, "deadline", None),
    )
    # What redaction replaced while the evidence was read; reports show it, never the values.
    summary = getattr(ev, "redaction", None)
    if summary is not None:
        report = dataclasses.replace(report, redaction=summary)
    not_run = {n.rule for n in report.not_checked if not n.reason.startswith("partly checked")}
    return dataclasses.replace(report, rules_ran=tuple(r.id for r in rules if r.id not in not_run),
                               events=timeline_events(ev))


MAX_TIMELINE_EVENTS = 200


def timeline_events(ev) -> tuple:
    """The evidence's Kubernetes events, oldest first (the last MAX_TIMELINE_EVENTS), for the time line."""
    from aml_doctor.findings import TimelineEvent

    out = []
    for e in ev.objects("events"):
        involved = e.get("involvedObject") or {}
        when = e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or \
            ((e.get("metadata") or {}).get("creationTimestamp")) or ""
        try:
            count = int(e.get("count") or 1)
        except (TypeError, ValueError):
            count = 1
        out.append(TimelineEvent(str(when), str(e.get("type") or ""), str(e.get("reason") or ""),
                                 f"{involved.get('kind', '')}/{involved.get('name', '')}".strip("/"),
                                 " ".join(str(e.get("message") or "").split()), count))
    out.sort(key=lambda t: t.time)
    return tuple(out[-MAX_TIMELINE_EVENTS:])


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
    if not any(data.strip() for _, data in texts):
        # An empty paste holds no evidence either way: diagnosing it would be a guess.
        raise UsageError("the pasted text is empty: paste the error, the get_logs() output or kubectl's output")
    return texts


def cmd_rules(args, prog: str = "aml-doctor") -> int:
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


def cmd_explain(args, prog: str = "aml-doctor") -> int:
    loaded, _, _ = load_rules(args)
    wanted = args.rule.strip()
    for r in loaded.rules:
        if r.id == wanted.upper() or r.name == wanted:
            docs = r.docs().rstrip()
            print(docs)
            print(f"\ncategory: {r.category.value}   severity: {r.severity.value}   stage: {r.stage.label}   plugin: {r.plugin}")
            return ExitCode.OK
    raise UsageError(f"no rule {wanted!r}; `aml-doctor rules` lists them")


def cmd_plugins(args, prog: str = "aml-doctor") -> int:
    loaded, _, _ = load_rules(args)
    for p in loaded.plugins:
        print(f"{p.name:<24} {p.version or '-':<10} {p.source:<12} {', '.join(p.rules) or '(no rules)'}")
    for e in loaded.errors:
        print(f"{e.plugin:<24} {'-':<10} {'broken':<12} {e.error}")
    return ExitCode.OK


def cmd_new_rule(args, prog: str = "aml-doctor") -> int:
    from aml_doctor.cli.scaffold import ScaffoldError, new_rule

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


def _migrate_check(args, prog: str) -> int:
    from aml_doctor.cli.v2migrate import main  # a v1 cluster's conflicts with the v2 extension: docs/v2.md

    return main(args, prog)


_HANDLERS = {
    "live": _live,
    "collect": _collect,
    "migrate-check": _migrate_check,
    "analyze": cmd_analyze,
    "rules": cmd_rules,
    "explain": cmd_explain,
    "plugins": cmd_plugins,
    "new-rule": cmd_new_rule,
    "version": cmd_version,
    "completion": cmd_completion,
    "help": _help,
}
