"""``aml-doctor version``: the version, and which optional SDKs this environment has (what a bug report needs)."""

from __future__ import annotations

import argparse
import json

from aml_doctor.common.exitcodes import ExitCode

HELP = "print the version of aml-doctor and of the SDKs it found"
SDKS = ("kubernetes", "azure-storage-blob", "azure-identity", "azureml-core", "azure-ai-ml", "rich")


def version() -> str:
    from aml_doctor import __version__

    return __version__


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", dest="format", choices=("text", "json"), default="text", metavar="FORMAT", help="text|json (default: text)")


def run(args, prog: str) -> int:
    import platform
    from importlib import metadata

    found = {}
    for dist in SDKS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    if args.format == "json":
        print(json.dumps({"aml_doctor": version(), "python": platform.python_version(), "packages": found}, indent=2))
        return ExitCode.OK
    print(f"aml-doctor {version()}")
    print(f"python {platform.python_version()}")
    for dist, found_version in found.items():
        print(f"{dist} {found_version or 'not installed'}")
    return ExitCode.OK
