"""``aml-doctor SERVICE...`` (the default command): collect a service's evidence live and diagnose
it; with ``--watch`` follow it, with several names or ``--all`` scan many (``live.py``, ``watch.py``,
``fleet.py``); ``ENDPOINT -d DEPLOYMENT`` is a v2 online deployment (``v2live.py``, docs/v2.md)."""

from __future__ import annotations

import argparse

from aml_doctor.cli.options import add_cluster_options, add_report_options, add_rule_options

HELP = "diagnose a service live (the default command: aml-doctor SERVICE ...)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Every flag of ``aml-doctor SERVICE``; the service names themselves are the parser's business."""
    p.add_argument("--service", dest="named", action="append", default=[], metavar="NAME",
                   help="a service's name, even one that is also a command (repeatable)")
    add_cluster_options(p, collect_only=False)
    add_report_options(p)
    add_rule_options(p)
    p.add_argument("--save-bundle", metavar="BUNDLE", help="also write the collected evidence as a bundle")
    p.add_argument("--no-redact", action="store_true", help="keep secrets in the saved bundle (internal use only; reports are always redacted)")
    watch = p.add_argument_group("Watch a deployment as it happens")
    watch.add_argument("--watch", action="store_true", help="follow the deployment; stop when it is healthy or a root cause is clear")
    watch.add_argument("--until-healthy", action="store_true", help="with --watch: stop only when healthy or at --timeout")
    fleet = p.add_argument_group("Many services")
    fleet.add_argument("--all", action="store_true", help="every service in the namespace (-n), the workspace's namespace (-w), or all azureml-* namespaces")
    fleet.add_argument("--output-dir", metavar="DIR", help="write one report per service as DIR/<service>.<ext>, and DIR/index.html")
    fleet.add_argument("--workers", type=int, default=8, help="concurrent reads (default: 8)")


def run(args, prog: str) -> int:
    from aml_doctor.cli.live import main_live
    from aml_doctor.cli.v2live import main as v2_main, wanted as v2_wanted

    return v2_main(args) if v2_wanted(args) else main_live(args)
