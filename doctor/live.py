"""``aml-doctor SERVICE`` and ``aml-doctor collect SERVICE -o bundle.tar.gz``: live evidence.

The collectors run one after the other, each feeding the next what it learnt: AzureML gives the
namespace, the storage account and the image; Kubernetes gives the ConfigMap's blob paths and the
scoring image; storage then checks those blobs and fetches the build log's tail. Each collector
degrades on its own: what it cannot read becomes a "not collected" entry, and the others go on.
The whole run has a deadline (``--timeout``); a collector still running at the deadline is left
behind and reported as timed out. Secrets are redacted before anything is rendered or written.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Callable

from .exitcodes import ExitCode

_AZUREML_SOURCES = ("azureml_service", "azureml_logs", "azureml_init_logs")


def build_parser(prog: str, collect_only: bool) -> argparse.ArgumentParser:
    from .cli import _common_rule_options, _report_options

    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Collect the evidence of one Azure ML web service on AKS and write it as a bundle."
            if collect_only
            else "Collect the evidence of one Azure ML web service on AKS and diagnose it."
        ),
    )
    if collect_only:
        p.add_argument("service", help="the web service's name")
    else:
        p.add_argument("service", nargs="*", metavar="SERVICE", help="the web service's name; several for a fleet summary")
    k8s = p.add_argument_group("Kubernetes (kubectl's flags)")
    k8s.add_argument("-n", "--namespace", help="the service's namespace (default: azureml-<workspace>, else searched)")
    k8s.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config; in a pod, the in-cluster config)")
    k8s.add_argument("--context", help="kubeconfig context")
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
    if collect_only:
        p.add_argument("-o", "--output", required=True, metavar="BUNDLE", help="bundle to write: a directory, .tar.gz or .zip")
        p.add_argument("--no-redact", action="store_true", help="keep secrets in the bundle (internal use only)")
    else:
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
    return p


class Progress:
    """One line per step on stderr, with how long the step took."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:6.2f}s] {message}", file=sys.stderr, flush=True)


def _with_deadline(label: str, fn: Callable, deadline: float, progress: Progress):
    """Run ``fn`` until the run's deadline; past it, leave the thread behind and return None."""
    from .collect.part import Part

    result: dict = {}

    def target():
        try:
            result["part"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported as a gap by the caller
            result["error"] = exc

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None, f"{label}: not started, --timeout reached"
    thread = threading.Thread(target=target, name=f"collect-{label}", daemon=True)
    thread.start()
    thread.join(remaining)
    if thread.is_alive():
        progress(f"{label}: still running at the --timeout deadline; going on without it")
        return None, f"{label}: timed out (--timeout)"
    if "error" in result:
        return None, result["error"]
    part = result.get("part")
    return (part if isinstance(part, Part) else None), None


def collect(args, progress: Progress):
    """Run the collectors; return (service, namespace, workspace, Part)."""
    from .collect.part import Gap, Part

    deadline = time.monotonic() + args.timeout
    part = Part()
    facts: dict = {}

    # 1. AzureML: the service's own view, and where the rest lives.
    want_azureml = bool(args.workspace_name or args.workspace_config or os.path.exists("config.json"))
    if want_azureml:
        progress("azureml: reading the workspace and the web service")
        from .collect.azureml import collect_azureml

        got, err = _with_deadline(
            "azureml",
            lambda: collect_azureml(
                args.service,
                config_path=args.workspace_config,
                subscription_id=args.subscription,
                resource_group=args.resource_group,
                workspace_name=args.workspace_name,
                request_timeout=args.request_timeout,
                progress=progress,
            ),
            deadline,
            progress,
        )
        _merge(part, got, err, _AZUREML_SOURCES)
        facts.update(part.facts)
    else:
        for what in _AZUREML_SOURCES:
            part.gaps.append(Gap(what, "no workspace given (--workspace-name, or a config.json here / --workspace-config)"))

    # 2. Kubernetes: the pods, their events and logs, the ConfigMap, the volume.
    from .collect.kubernetes import ServiceNotFound, collect_kubernetes

    namespace = args.namespace or facts.get("namespace")
    workspace = args.workspace_name or facts.get("workspace", "")
    progress(f"kubernetes: collecting {args.service} in {namespace or ('azureml-' + workspace if workspace else 'the azureml-* namespaces')}")
    got, err = _with_deadline(
        "kubernetes",
        lambda: collect_kubernetes(
            args.service,
            namespace=namespace,
            workspace=workspace or None,
            kubeconfig=args.kubeconfig,
            context=args.context,
            log_lines=args.log_lines,
            request_timeout=args.request_timeout,
            progress=progress,
        ),
        deadline,
        progress,
    )
    if isinstance(err, ServiceNotFound):
        if "azureml_service" not in part.collected:
            raise err
        # AzureML knows the service but the cluster has no Deployment: the deployment never
        # started (an image build failure, say). Diagnose from what AzureML and storage show.
        err = f"{err} (AzureML knows the service: its deployment may never have reached the cluster)"
    _merge(part, got, err, ("pods", "events", "configmaps", "container_logs"))
    facts.update(part.facts)

    # 3. Storage: every model and code blob, and the image build log's tail.
    storage = _storage_credentials(args, facts)
    if storage is None:
        part.gaps.append(Gap("storage_index", "no storage account given (--account-name, --connection-string or a workspace)"))
        part.gaps.append(Gap("build_log", "no storage account given (--account-name, --connection-string or a workspace)"))
    else:
        from .collect.storage import collect_storage

        progress("storage: checking model and code blobs and the build log")
        hint = facts.get("image_location") or facts.get("scoring_image")
        got, err = _with_deadline(
            "storage",
            lambda: collect_storage(
                blob_paths=list(facts.get("blob_paths") or []),
                image_id_hint=hint,
                service=args.service,
                request_timeout=args.request_timeout,
                progress=progress,
                **storage,
            ),
            deadline,
            progress,
        )
        _merge(part, got, err, ("storage_index", "build_log"))
    return args.service, facts.get("namespace", namespace or ""), workspace, part


def _merge(part, got, err, sources: tuple[str, ...]) -> None:
    from .collect.part import Gap
    from .redact import redact_text

    if got is not None:
        part.merge(got)
        return
    line = err if isinstance(err, str) else f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"
    for what in sources:
        part.gaps.append(Gap(what, redact_text(line)))


def _storage_credentials(args, facts: dict) -> dict | None:
    if args.connection_string:
        return {"connection_string": args.connection_string}
    account = args.account_name or facts.get("storage_account")
    url = args.blob_endpoint or (f"https://{account}.blob.core.windows.net" if account else None)
    if not url:
        return None
    if args.sas_token:
        return {"account_url": url, "credential": args.sas_token}
    if args.account_key:
        return {"account_url": url, "credential": args.account_key}
    return {"account_url": url, "credential": None}  # DefaultAzureCredential


def main_live(argv: list[str], collect_only: bool = False) -> int:
    from .cli import UsageError, _emit, load_rules
    from .collect.kubernetes import ServiceNotFound
    from .collect.part import manifest, render_files, write_bundle

    args = build_parser("aml-doctor collect" if collect_only else "aml-doctor", collect_only).parse_args(argv)
    progress = Progress(args.quiet)
    watching = not collect_only and (args.watch or args.until_healthy)
    if args.timeout is None:
        args.timeout = 1200.0 if watching else 120.0
    if not collect_only:
        loaded, rules, config = load_rules(args)
        mode = _mode(args, watching)
        if mode == "watch":
            from .watch import run_watch

            return run_watch(args, progress, analyzer(rules, config, loaded))
        if mode == "fleet":
            from .fleet import run_fleet
            from .model import Severity

            fail_on = args.fail_on or config.fail_on or "medium"
            return run_fleet(args, progress, analyzer(rules, config, loaded), None if fail_on == "never" else Severity.parse(fail_on))
        args.service = args.service[0]
    try:
        service, namespace, workspace, part = collect(args, progress)
    except ServiceNotFound as exc:
        raise UsageError(str(exc)) from None
    if not part.collected:
        # The cluster is the main source; its reason is the one worth the single line.
        why = next((g.error for g in part.gaps if g.what == "pods"), part.gaps[0].error if part.gaps else "")
        print(f"aml-doctor: error: nothing could be collected: {why}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    redact_secrets = not args.no_redact
    files = render_files(manifest(service, namespace, workspace, part), part, redact_secrets=redact_secrets)
    progress(f"collected {len(files)} files; {len(part.gaps)} not collected")
    target = args.output if collect_only else args.save_bundle
    if target:
        _check_target(target)
        write_bundle(target, files)
        progress(f"wrote {target}")
    if collect_only:
        return ExitCode.OK

    return _emit(analyzer(rules, config, loaded)(files, f"live: {service}"), args, config)


def analyzer(rules, config, loaded) -> Callable:
    """``analyze_files(files, label) -> Report`` with the configured rules, severities and options."""
    from .cli import diagnose
    from .engine import signals_for
    from .evidence import load

    signals = signals_for(rules)

    def analyze_files(files: dict[str, bytes], label: str):
        return diagnose(load(files, signals=signals, label=label), rules, config, loaded)

    return analyze_files


def _mode(args, watching: bool) -> str:
    """"watch", "fleet" or "one", from the services and flags given."""
    from .cli import UsageError

    if not args.service and not args.all:
        raise UsageError("name a SERVICE (or several), or pass --all")
    if args.all and args.service:
        raise UsageError("give service names or --all, not both")
    if watching:
        if args.all or len(args.service) > 1 or args.output_dir:
            raise UsageError("--watch follows one service; --all, several services and --output-dir do not go with it")
        if args.save_bundle:
            raise UsageError("--save-bundle does not go with --watch")
        return "watch"
    if args.all or len(args.service) > 1 or args.output_dir:
        if args.save_bundle:
            raise UsageError("--save-bundle takes one service; use aml-doctor collect per service")
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        return "fleet"
    return "one"


def _check_target(target: str) -> None:
    from .cli import UsageError

    parent = os.path.dirname(os.path.abspath(target.rstrip("/")))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {target}: directory {parent} does not exist")
    if os.path.isdir(target) and os.listdir(target):
        raise UsageError(f"cannot write {target}: the directory is not empty")
