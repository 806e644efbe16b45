"""Options more than one command takes: rule selection, the report, and the live collection's
flags (kubectl's, az ml's and az storage's, spelt as those tools spell them)."""

from __future__ import annotations

import argparse
import os

FORMATS = ("text", "md", "html", "json", "sarif", "junit")
SEVERITIES = ("info", "low", "medium", "high", "critical", "never")


def split_ids(value: str) -> list[str]:
    """``--select AML004,AML005`` as a list, blanks dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]


def add_rule_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Rules")
    g.add_argument("--select", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to run")
    g.add_argument("--ignore", metavar="IDS", default="", help="comma-separated rule ids, id prefixes or names to skip")
    g.add_argument("--plugin", metavar="MODULE_OR_PATH", action="append", default=[], help="load a rule plugin (repeatable)")
    g.add_argument("--rules-dir", metavar="DIR", action="append", default=[], help="load every .py rule file in DIR")
    g.add_argument("--config", metavar="FILE", help="configuration file (default: .aml-doctor.toml or pyproject.toml [tool.aml-doctor], searched upwards)")


def format_name(value: str) -> str:
    """``-o json``: kubectl's, az's, popeye's and k8sgpt's -o is the output format. A path given
    to it (``-o report.html``, the old meaning) is refused with the flag that takes a path."""
    if value in FORMATS:
        return value
    if "." in value or os.sep in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} looks like a file name: -o/--output takes the format ({'|'.join(FORMATS)}); "
            f"write to a file with --output-file {value}")
    raise argparse.ArgumentTypeError(f"invalid format {value!r} (choose from {', '.join(FORMATS)})")


def output_path(value: str) -> str:
    """``--output-file json`` is almost surely ``-o json`` misremembered; ``./json`` is a file."""
    if value in FORMATS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is a format name: for the format use -o {value}; for a file of that name, --output-file ./{value}")
    return value


def add_report_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Report")
    g.add_argument("-o", "--output", "-f", "--format", dest="format", type=format_name, default="text", metavar="FORMAT",
                   help=f"report format: {'|'.join(FORMATS)} (default: text); --format and -f are aliases")
    g.add_argument("--output-file", "--file", dest="output_file", type=output_path, metavar="FILE",
                   help="write the report to FILE instead of stdout")
    g.add_argument("--fail-on", choices=SEVERITIES, default=None,
                   help="exit 1 when a finding is at or above this severity (default: medium, or the config's fail-on)")
    g.add_argument("--exit-zero", action="store_true",
                   help="exit 0 whatever the findings, for report-only CI runs (same as --fail-on never)")
    g.add_argument("--max-chars", type=int, metavar="N", help="cap the Markdown report at N characters (for trackers' comment limits)")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in the text format (NO_COLOR is honoured)")
    g.add_argument("--anonymize", action="store_true",
                   help="also replace subscription and tenant ids, resource and account names and IPs, consistently")


def add_cluster_options(p: argparse.ArgumentParser, collect_only: bool) -> None:
    """Where the service runs: kubectl's, az ml's and az storage's flags, and the run's limits."""
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
    if not collect_only:
        run.add_argument("--check-access", action="store_true",
                         help="only check what the current identity may read, and what that leaves unchecked")
    add_v2_options(p)


def add_v2_options(p: argparse.ArgumentParser) -> None:
    """A v2 online deployment's flags, as ``az ml online-deployment`` spells them (docs/v2.md)."""
    g = p.add_argument_group("v2 online endpoints (az ml online-deployment's flags)")
    g.add_argument("-d", "--deployment", metavar="DEPLOYMENT",
                   help="the online deployment to diagnose (default: the one with traffic, or the only one)")
    g.add_argument("-e", "--endpoint-name", metavar="ENDPOINT",
                   help="the online endpoint (default: NAME); -n stays the Kubernetes namespace, as in kubectl")
    g.add_argument("--watch-interval", type=float, default=5.0, metavar="SECONDS",
                   help="with --watch on a v2 deployment: seconds between two reads of it (default: 5)")
