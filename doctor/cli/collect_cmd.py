"""``aml-doctor collect SERVICE -o BUNDLE``: a service's evidence as a bundle, for a ticket or for later."""

from __future__ import annotations

import argparse

from aml_doctor.cli.options import add_cluster_options

HELP = "collect a service's evidence into a bundle, for a ticket or for later"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", help="the web service's name (or the v2 online endpoint's, with -d)")
    add_cluster_options(p, collect_only=True)
    p.add_argument("-o", "--output-file", "--file", dest="output_file", required=True, metavar="BUNDLE",
                   help="bundle to write: a directory, .tar.gz or .zip (collect writes a bundle, never a report)")
    p.add_argument("--no-redact", action="store_true", help="keep secrets in the bundle (internal use only)")
    p.add_argument("--anonymize", action="store_true",
                   help="also replace subscription and tenant ids, resource and account names and IPs in the bundle")


def run(args, prog: str) -> int:
    from aml_doctor.cli.config import load_config
    from aml_doctor.cli.live import main_live
    from aml_doctor.cli.v2live import main as v2_main, requested as v2_requested
    from aml_doctor.evidence import redact

    redact.configure(patterns=load_config(None).redact)  # the configuration's redact patterns
    return v2_main(args, collect_only=True) if v2_requested(args) else main_live(args, collect_only=True)
