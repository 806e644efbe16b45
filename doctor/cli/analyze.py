"""``aml-doctor analyze BUNDLE`` or ``analyze --text FILE``: diagnose a bundle, or pasted text."""

from __future__ import annotations

import argparse
import os
import sys

from aml_doctor.cli.errors import UsageError
from aml_doctor.cli.options import add_report_options, add_rule_options
from aml_doctor.common.exitcodes import ExitCode

HELP = "diagnose an evidence bundle, or pasted error text"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", nargs="?", help="bundle directory, .tar.gz or .zip")
    p.add_argument("--text", metavar="FILE", action="append", default=[], help="pasted error text or logs ('-' for stdin); repeatable")
    p.add_argument("--service", default="", help="the service's name, when diagnosing pasted text")
    add_report_options(p)
    add_rule_options(p)


def run(args, prog: str) -> int:
    from aml_doctor.cli.output import emit
    from aml_doctor.cli.pipeline import diagnose, load_rules
    from aml_doctor.engine.runner import signals_for
    from aml_doctor.evidence import store
    from aml_doctor.evidence.bundle import BundleError

    if not args.bundle and not args.text:
        raise UsageError("analyze needs a BUNDLE or --text FILE (use --text - to read stdin)")
    if args.bundle and args.text:
        raise UsageError("give either a BUNDLE or --text, not both")
    loaded, rules, config = load_rules(args)
    signals = signals_for(rules)
    try:
        if args.text:
            ev = store.from_texts(read_texts(args.text), service=args.service, signals=signals)
        else:
            ev = store.load(args.bundle, signals=signals)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    if config.is_exempt(ev.service, ev.namespace):
        print(f"aml-doctor: {ev.service or ev.namespace} is exempt by configuration; nothing analysed", file=sys.stderr)
        return ExitCode.OK
    return emit(diagnose(ev, rules, config, loaded), args, config)


def read_texts(paths: list[str]) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of each ``--text`` file, ``-`` being stdin."""
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
