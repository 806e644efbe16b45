"""The ``aml-doctor`` command line: one parser, and the dispatch to the command modules.

``aml-doctor SERVICE ...`` is the default command (``service.py``); every other first word names a
command, one module each (``analyze.py``, ``collect_cmd.py``, ...), each with ``HELP``,
``add_arguments(parser)`` and ``run(args, prog)``. Heavy imports (Jinja2, the Kubernetes and Azure
SDKs) happen inside the ``run`` functions, so ``aml-doctor --help`` and ``analyze`` start fast.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Sequence

from aml_doctor.cli import (
    analyze,
    collect_cmd,
    completion,
    explain,
    migrate_check,
    new_rule,
    plugins_cmd,
    rules_cmd,
    service,
    version,
)
from aml_doctor.cli.errors import UsageError, print_error
from aml_doctor.cli.output import OutputError, silence_stdout
from aml_doctor.common.exitcodes import ExitCode

# name -> the module that defines the command (``completion``'s script and ``help`` need the
# whole parser: they run here).
MODULES = {
    "analyze": analyze,
    "collect": collect_cmd,
    "migrate-check": migrate_check,
    "rules": rules_cmd,
    "explain": explain,
    "plugins": plugins_cmd,
    "new-rule": new_rule,
    "version": version,
    "completion": completion,
}
HELP_TEXT = "show this help, or a command's: aml-doctor help analyze"
# name -> one line for the help; every other first word is a service name (``aml-doctor myservice``).
COMMANDS = {**{name: module.HELP for name, module in MODULES.items()}, "help": HELP_TEXT}
LIVE = "live"  # the default command's name in ``parse``'s answer
SERVICE_HELP = "the web service's name, several for a fleet summary"


class Parser(argparse.ArgumentParser):
    """argparse, with its error line in aml-doctor's one-line form and exit code 2.

    ``commands`` holds the parser of each command (the top-level parser's only).
    """

    commands: Mapping[str, argparse.ArgumentParser] = {}

    def error(self, message: str):  # noqa: D102 - argparse's hook
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _parser(prog: str, **kw) -> Parser:
    # allow_abbrev=False: kubectl and az take flags as spelt; a prefix must not silently mean another flag.
    return Parser(prog=prog, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter, **kw)


class CommandParsers(Mapping):
    """Each command's parser, built the first time it is asked for: a run builds only its own."""

    def __init__(self, builders: dict[str, Callable[[], Parser]]):
        self._builders = builders
        self._built: dict[str, Parser] = {}

    def __getitem__(self, name: str) -> Parser:
        if name not in self._built:
            self._built[name] = self._builders[name]()
        return self._built[name]

    def __contains__(self, name) -> bool:
        return name in self._builders

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


class Dispatch(argparse.Action):
    """The top-level parser's one positional (nargs=REMAINDER: the first word and all after it).

    A first word that names a command is parsed by that command's parser, into a namespace of its
    own. Any other words are the default command's: service names and the flags after them,
    parsed by the parser ``tail()`` builds, which knows the same flags and a ``service`` positional.
    """

    def __init__(self, option_strings, dest, commands=None, tail=None, defaults=None, **kw):
        super().__init__(option_strings, dest, nargs=argparse.REMAINDER, **kw)
        self.commands = commands or {}
        self.tail = tail or (lambda: None)
        self.defaults = defaults or {}  # the top-level flags' defaults: a flag before a command is refused

    def __call__(self, parser, namespace, values, option_string=None):
        if values and values[0] in self.commands:
            self._command(parser, namespace, values[0], values[1:])
            return
        # Into the same namespace: argparse sets a default only where the namespace has no value
        # yet, so a flag given before the first service stays unless it is given again after it.
        self.tail().parse_intermixed_args(values, namespace)  # kubectl takes names and flags in any order
        namespace.command = LIVE
        _check_service_names(namespace.service, parser.prog)
        namespace.service = [*namespace.service, *namespace.named]

    def _command(self, parser, namespace, name: str, words: list[str]) -> None:
        if any(getattr(namespace, key, None) != value for key, value in self.defaults.items()):
            raise UsageError(_goes_first(name, parser.prog))
        own = self.commands[name].parse_args(words)  # a namespace of its own: no top-level defaults in it
        for key in list(vars(namespace)):
            delattr(namespace, key)
        for key, value in vars(own).items():
            setattr(namespace, key, value)
        namespace.command = name


def _goes_first(name: str, prog: str) -> str:
    return f"{name!r} is a command and goes first ({prog} {name} ...); for a service named {name}, pass --service {name}"


def _check_service_names(names: list[str], prog: str) -> None:
    """A service name that is a command, or close to one, is refused: it is almost surely a typo."""
    for name in names:
        if name in COMMANDS:
            raise UsageError(_goes_first(name, prog))
        close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.75)
        if close:
            raise UsageError(f"unknown command {name!r}: did you mean `{prog} {close[0]}`? (for a service named {name}, pass --service {name})")


def _top(prog: str) -> Parser:
    commands = "\n".join(f"  {name:<13} {text}" for name, text in COMMANDS.items())
    return _parser(
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


def build_parser(prog: str = "aml-doctor") -> Parser:
    """The one parser: ``aml-doctor SERVICE... [options]`` and ``aml-doctor COMMAND ...``."""
    p = _top(prog)
    p.add_argument("--version", action="version", version=f"aml-doctor {version.version()}")
    service.add_arguments(p)
    commands = CommandParsers({name: _command_builder(prog, name) for name in COMMANDS})
    defaults = vars(p.parse_args([]))  # before the positional is added: the flags' defaults alone
    p.add_argument("words", action=Dispatch, commands=commands, tail=lambda: _tail(prog), defaults=defaults, metavar="SERVICE",
                   help=SERVICE_HELP + "; or a COMMAND (above) and its arguments")
    p.commands = commands
    return p


def _tail(prog: str) -> Parser:
    """The default command's parser for the words from the first service name on."""
    tail = _top(prog)
    tail.add_argument("--version", action="version", version=f"aml-doctor {version.version()}")
    tail.add_argument("service", nargs="*", metavar="SERVICE", help=SERVICE_HELP)
    service.add_arguments(tail)
    return tail


def _command_builder(prog: str, name: str) -> Callable[[], Parser]:
    def build() -> Parser:
        p = _parser(f"{prog} {name}", description=COMMANDS[name])
        if name == "help":
            p.add_argument("topic", nargs="?", choices=tuple(MODULES), metavar="COMMAND")
        else:
            MODULES[name].add_arguments(p)
        return p

    return build


def parse(argv: Sequence[str], prog: str = "aml-doctor") -> tuple[str, argparse.Namespace]:
    """``(command, args)``; ``command`` is ``"live"`` for ``aml-doctor SERVICE...`` and ``--all``.
    Raises :class:`UsageError` for anything the parser refuses."""
    args = build_parser(prog).parse_args(list(argv))
    command = args.command
    del args.command
    if hasattr(args, "words"):
        del args.words
    return command, args


def _help(args, prog: str) -> int:
    parser = build_parser(prog)
    (parser.commands[args.topic] if args.topic else parser).print_help()
    return ExitCode.OK


def _completion(args, prog: str) -> int:
    sys.stdout.write(completion.script(args.shell, build_parser()))
    return ExitCode.OK


def _configure_redaction(args) -> None:
    """Each run gets its own token salt; --anonymize applies to everything it writes."""
    from aml_doctor.evidence import redact

    redact.reset()
    redact.configure(anonymize=bool(getattr(args, "anonymize", False)))


def run(command: str, args: argparse.Namespace, prog: str) -> int:
    """Run a parsed command; its exit code."""
    handler = {"help": _help, "completion": _completion, LIVE: service.run}.get(command) or MODULES[command].run
    _configure_redaction(args)
    try:
        code = int(handler(args, prog))
    finally:
        _configure_redaction(None)  # --anonymize and configured patterns end with the run
    # --exit-zero: a report-only run (ruff's and flake8's flag); setup and input errors still fail.
    if getattr(args, "exit_zero", False) and code == ExitCode.FINDINGS:
        return ExitCode.OK
    return code


def main(argv: Sequence[str] | None = None, prog: str = "aml-doctor") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv:
            build_parser(prog).print_help()
            return ExitCode.USAGE_ERROR
        return run(*parse(argv, prog), prog)
    except UsageError as exc:
        print_error(str(exc))
        return ExitCode.USAGE_ERROR
    except KeyboardInterrupt:
        print_error("interrupted")
        return ExitCode.INTERRUPTED
    except OutputError as exc:
        print_error(str(exc))
        return ExitCode.OUTPUT_ERROR
    except BrokenPipeError:
        silence_stdout()
        print_error("cannot write the report: the reader of standard output went away (broken pipe)")
        return ExitCode.OUTPUT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("AML_DOCTOR_DEBUG"):
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (set AML_DOCTOR_DEBUG=1 for the traceback)")
        return ExitCode.INTERNAL_ERROR


def kubectl_plugin() -> int:
    """``kubectl aml-doctor ...``: kubectl runs ``kubectl-aml_doctor`` with the words after its name."""
    return main(sys.argv[1:], prog="kubectl aml-doctor")
