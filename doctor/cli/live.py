"""``aml-doctor SERVICE`` and ``aml-doctor collect SERVICE -o bundle.tar.gz``: live evidence.

The collectors run one after the other, each feeding the next what it learnt: AzureML gives the
namespace, the storage account and the image; Kubernetes gives the ConfigMap's blob paths and the
scoring image; storage then checks those blobs and fetches the build log's tail. Each collector
degrades on its own: what it cannot read becomes a "not collected" entry, and the others go on.
The whole run has a deadline (``--timeout``); a collector still running at the deadline is left
behind and reported as timed out. Secrets are redacted before anything is rendered or written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
import time
import warnings
from typing import Callable

from aml_doctor.common.exitcodes import ExitCode

_AZUREML_SOURCES = ("azureml_service", "azureml_logs", "azureml_init_logs")


class Progress:
    """Progress on stderr: a rich spinner over the current step on a terminal, else one plain line
    per step with the time it started. Nothing at all with -q. A terminal with NO_COLOR set, or a
    missing ``rich``, gets the plain lines (no-color.org: no ANSI when NO_COLOR is set)."""

    def __init__(self, quiet: bool, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._live = None
        self._task = None
        if not quiet and _is_tty(self.stream) and not os.environ.get("NO_COLOR"):
            try:
                from rich.console import Console
                from rich.progress import Progress as RichProgress, SpinnerColumn, TextColumn, TimeElapsedColumn
            except ImportError:  # the [live] extra brings rich; without it, plain lines
                return
            self._live = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                      console=Console(file=self.stream), transient=True)
            self._live.start()
            self._task = self._live.add_task("starting", total=None)

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        if self._live is not None:
            self._live.console.print(f"[dim]{elapsed:6.2f}s[/dim] {_rich_escape(message)}", highlight=False)
            self._live.update(self._task, description=_rich_escape(message))
            return
        print(f"[{elapsed:6.2f}s] {message}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# ----------------------------------------------------------------------------- the SDKs' noise
NO_CREDENTIAL = "no Azure credential found: run `az login` or pass `--account-key` (or --sas-token, --connection-string)"
_CREDENTIAL_CHAIN = ("DefaultAzureCredential", "CredentialUnavailableError", "ChainedTokenCredential",
                     "EnvironmentCredential", "ManagedIdentityCredential", "AzureCliCredential")


def cut_credential_chain(line: str) -> str:
    """azure-identity's DefaultAzureCredential explains each of its credentials in turn (a dozen
    lines, learn.microsoft.com/azure/developer/python/sdk/authentication/credential-chains); what
    the user needs is that there is none and how to give one."""
    return NO_CREDENTIAL if any(marker in line for marker in _CREDENTIAL_CHAIN) else line


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines += [f"{record.name}: {line}" for line in record.getMessage().splitlines() if line.strip()]
        except Exception:  # noqa: BLE001 - a logging handler must never raise
            pass


class _SdkStdout:
    """sys.stdout while collecting, and after: every write goes to ``printed``, except the main
    thread's once collection is over (the report). A collector thread left running past --timeout
    (collect's with_deadline) may still print later; that must not land in the report either."""

    def __init__(self, real, printed: io.StringIO):
        self.real, self.printed, self.collecting = real, printed, True

    def write(self, text: str) -> int:
        if self.collecting or threading.current_thread() is not threading.main_thread():
            return self.printed.write(text)
        return self.real.write(text)

    def flush(self) -> None:
        if not self.collecting:
            self.real.flush()

    def __getattr__(self, name):  # encoding, isatty, fileno, buffer: the real stream's
        return getattr(self.real, name)


@contextlib.contextmanager
def captured_sdk_output(quiet: bool):
    """stdout is the report's: what the SDKs print there (azureml-core's "Performing interactive
    authentication..."), log (azure-identity's credential chain) or warn is kept, and summed up
    in one line on stderr. AML_DOCTOR_DEBUG=1 prints it all."""
    printed = io.StringIO()
    records = _Records()
    root = logging.getLogger()
    root.addHandler(records)
    router = _SdkStdout(sys.stdout, printed)
    sys.stdout = router
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        root.removeHandler(records)
        router.collecting = False
        # Left in place for threads still running; the main thread writes through it unchanged.
        # Once no collector thread is left, the real stream comes back (a test's capsys, say).
        if not any(t.name.startswith("collect-") and t.is_alive() for t in threading.enumerate()):
            sys.stdout = router.real
    lines = [line for line in printed.getvalue().splitlines() if line.strip()] + records.lines
    lines += [f"{w.category.__name__}: {w.message}" for w in caught]
    if not lines:
        return
    if os.environ.get("AML_DOCTOR_DEBUG"):
        for line in lines:
            print(f"aml-doctor: sdk: {line}", file=sys.stderr)
    elif not quiet:
        from aml_doctor.evidence.redact import redact_text

        first = redact_text(cut_credential_chain(lines[0]))[:120]
        print(f"aml-doctor: note: the Azure and Kubernetes SDKs wrote {len(lines)} line(s) while collecting "
              f"(first: {first}); AML_DOCTOR_DEBUG=1 shows them", file=sys.stderr)


# ----------------------------------------------------------------------------- setup checks
GET_CREDENTIALS = "run `az aks get-credentials -g RG -n CLUSTER`"  # learn.microsoft.com/cli/azure/aks#az-aks-get-credentials


def kube_setup(args) -> str | None:
    """Check the live extra and the kubeconfig before any request, so that a setup mistake is
    one line with the next step (exit 2). Returns the chosen context's namespace, if it sets one
    (kubectl uses it when -n is not given)."""
    from aml_doctor.cli.errors import UsageError
    from aml_doctor.common.text import first_line

    try:
        from kubernetes import config
    except ImportError:
        raise UsageError("live diagnosis needs the Kubernetes and Azure clients: pip install 'aml-doctor[live]' "
                         "(with pipx: pipx install 'aml-doctor[live]' --force)") from None
    path = args.kubeconfig
    if path:
        if not os.path.isfile(path):
            raise UsageError(f"kubeconfig {path} does not exist: check the path, or write it with "
                             f"`az aks get-credentials -g RG -n CLUSTER --file {path}`")
    elif os.environ.get("KUBECONFIG"):
        paths = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
        if not any(os.path.isfile(p) for p in paths):
            raise UsageError(f"KUBECONFIG names {os.environ['KUBECONFIG']}, which does not exist: fix the variable, or {GET_CREDENTIALS}")
    else:
        default = os.path.expanduser("~/.kube/config")
        if not os.path.isfile(default):
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                return None  # in a pod: the ServiceAccount's in-cluster config
            raise UsageError(f"no kubeconfig ({default} does not exist): {GET_CREDENTIALS}, "
                             "or diagnose pasted text with `aml-doctor analyze --text FILE`")
    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
    except Exception as exc:  # noqa: BLE001 - the loader raises ConfigException, YAML errors, KeyError...
        raise UsageError(f"cannot read the kubeconfig {path or os.environ.get('KUBECONFIG') or '~/.kube/config'}: "
                         f"{first_line(exc, type(exc).__name__)}") from None
    names = [c.get("name", "") for c in contexts or []]
    if args.context:
        chosen = next((c for c in contexts or [] if c.get("name") == args.context), None)
        if chosen is None:
            raise UsageError(f"no context {args.context!r} in the kubeconfig; contexts: {', '.join(names) or 'none'} "
                             "(`kubectl config get-contexts` lists them)")
    else:
        chosen = current
        if not chosen:
            raise UsageError(f"the kubeconfig has no current context: pass --context (contexts: {', '.join(names) or 'none'}) "
                             "or run `kubectl config use-context NAME`")
    return ((chosen or {}).get("context") or {}).get("namespace") or None


def setup_error(line: str, args) -> tuple[str, int] | None:
    """A collection failure that is the user's setup (credentials, RBAC) or the network, as one line
    with the next step and its exit code; None for anything else."""
    if "cannot reach the API server" in line or "TLS error talking to the API server" in line:
        line = line.split("; pass the namespace", 1)[0]
        where = f" --context {args.context}" if args.context else ""
        return (f"{line.split(': ', 1)[-1] if line.startswith('cannot find the namespace') else line}: check that the "
                f"kubeconfig's context is the cluster's (`kubectl config current-context`) and that it runs "
                f"(`kubectl cluster-info{where}`; a stopped AKS cluster: `az aks start -g RG -n CLUSTER`)",
                ExitCode.COLLECTION_ERROR)
    if "401 Unauthorized" in line:
        return ("the API server rejected the kubeconfig's credentials (expired?): "
                "run `az aks get-credentials -g RG -n CLUSTER --overwrite-existing`",
                ExitCode.USAGE_ERROR)
    m = re.search(r'403 Forbidden: User "([^"]*)" cannot (\w+) (\S+) (at the cluster scope|in the namespace "([^"]+)")', line)
    if m:
        user, verb, resource, scope, namespace = m.groups()
        check = f"kubectl auth can-i {verb} {resource}" + (f" -n {namespace}" if namespace else "")
        return (f'forbidden: {user} may not {verb} {resource} {scope.replace("in the namespace", "in namespace")}: '
                f"ask for the Role in the README (check with `{check}`; `aml-doctor SERVICE --check-access` lists all it reads)",
                ExitCode.USAGE_ERROR)
    return None


def namespace_exists(args, namespace: str) -> bool | None:
    """One GET, only after a service was not found there: True, False, or None when it cannot tell."""
    from aml_doctor.cli.liverun import kube_client
    from aml_doctor.collect.kubernetes import CallFailed, Reader
    from aml_doctor.collect.part import Part

    try:
        api_client = kube_client(args)
    except Exception:  # noqa: BLE001 - checked by kube_setup already; here it only decides the wording
        return None
    try:
        reader = Reader(api_client, args.request_timeout, Part())
        reader.json(reader.core.read_namespace, namespace)
        return True
    except CallFailed as failed:
        return False if failed.status == 404 else None


def with_deadline(label: str, fn: Callable, deadline: float, progress: Progress):
    """Run ``fn`` until the run's deadline; past it, leave the thread behind and return None."""
    from aml_doctor.collect.part import Part

    from aml_doctor.common.threads import call_before

    outcome = call_before(fn, deadline, f"collect-{label}")
    if not outcome.started:
        return None, f"{label}: not started, --timeout reached"
    if outcome.timed_out:
        progress(f"{label}: still running at the --timeout deadline; going on without it")
        return None, f"{label}: timed out (--timeout)"
    if outcome.error is not None:
        return None, outcome.error  # reported as a gap by the caller
    return (outcome.value if isinstance(outcome.value, Part) else None), None


def collect(args, progress: Progress):
    """Run the collectors, each feeding the next what it learnt; return (service, namespace,
    workspace, Part)."""
    from aml_doctor.collect.part import Gap, Part

    deadline = time.monotonic() + args.timeout
    part = Part()
    _collect_azureml(args, part, deadline, progress)
    namespace, workspace = _collect_cluster(args, part, deadline, progress)
    _collect_storage(args, part, deadline, progress)
    part.gaps = [Gap(g.what, cut_credential_chain(g.error)) for g in part.gaps]
    learnt_namespace = part.workspace.namespace if part.workspace else ""
    cluster_namespace = part.cluster.namespace if part.cluster else ""
    return args.service, cluster_namespace or learnt_namespace or namespace or "", workspace, part


def _collect_azureml(args, part, deadline: float, progress: Progress) -> None:
    """AzureML: the service's own view, and where the rest lives."""
    from aml_doctor.collect.part import Gap

    want_azureml = bool(args.workspace_name or args.workspace_config or os.path.exists("config.json"))
    if want_azureml:
        progress("azureml: reading the workspace and the web service")
        from aml_doctor.collect.azureml import collect_azureml

        got, err = with_deadline(
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
        merge_part(part, got, err, _AZUREML_SOURCES)
    else:
        for what in _AZUREML_SOURCES:
            part.gaps.append(Gap(what, "no workspace given (--workspace-name, or a config.json here / --workspace-config)"))


def _collect_cluster(args, part, deadline: float, progress: Progress) -> tuple[str | None, str]:
    """Kubernetes: the pods, their events and logs, the ConfigMap, the volume. Returns the
    namespace asked for (None: searched) and the workspace."""
    from aml_doctor.collect.part import WorkspaceRecord
    from aml_doctor.cli.liverun import kube_client
    from aml_doctor.collect.core import workspace_namespace
    from aml_doctor.collect.kubernetes import ServiceNotFound, collect_kubernetes

    learnt = part.workspace or WorkspaceRecord()
    workspace = args.workspace_name or learnt.workspace
    # -n, then what AzureML says, then azureml-<workspace> (the collector's), then the kubeconfig
    # context's own namespace as kubectl would; -A or nothing at all searches the azureml-* namespaces.
    namespace = args.namespace or learnt.namespace or (
        None if workspace or args.all_namespaces else getattr(args, "context_namespace", None))
    where = namespace or (workspace_namespace(workspace) if workspace else "the azureml-* namespaces")
    progress(f"kubernetes: collecting {args.service} in {where}")
    try:
        api_client = kube_client(args)
    except Exception:  # noqa: BLE001 - an unusable kubeconfig: the collector makes it the gap it always was
        api_client = None
    got, err = with_deadline(
        "kubernetes",
        lambda: collect_kubernetes(
            args.service,
            namespace=namespace,
            workspace=workspace or None,
            kubeconfig=args.kubeconfig,
            context=args.context,
            api_client=api_client,
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
    merge_part(part, got, err, ("pods", "events", "configmaps", "container_logs"))
    return namespace, workspace


def _collect_storage(args, part, deadline: float, progress: Progress) -> None:
    """Storage: every model and code blob, and the image build log's tail."""
    from aml_doctor.collect.part import ClusterRecord, Gap, WorkspaceRecord

    learnt = part.workspace or WorkspaceRecord()
    cluster = part.cluster or ClusterRecord()
    storage = storage_credentials(args, learnt.storage_account)
    if storage is None:
        part.gaps.append(Gap("storage_index", "no storage account given (--account-name, --connection-string or a workspace)"))
        part.gaps.append(Gap("build_log", "no storage account given (--account-name, --connection-string or a workspace)"))
    else:
        from aml_doctor.collect.storage import collect_storage

        progress("storage: checking model and code blobs and the build log")
        hint = learnt.image_location or cluster.scoring_image
        got, err = with_deadline(
            "storage",
            lambda: collect_storage(
                blob_paths=list(cluster.blob_paths),
                image_id_hint=hint,
                service=args.service,
                request_timeout=args.request_timeout,
                progress=progress,
                **storage,
            ),
            deadline,
            progress,
        )
        merge_part(part, got, err, ("storage_index", "build_log"))


def merge_part(part, got, err, sources: tuple[str, ...]) -> None:
    from aml_doctor.collect.part import Gap
    from aml_doctor.common.text import error_line
    from aml_doctor.evidence.redact import redact_text

    if got is not None:
        part.merge(got)
        return
    line = err if isinstance(err, str) else error_line(err)
    for what in sources:
        part.gaps.append(Gap(what, redact_text(cut_credential_chain(line))))


def storage_credentials(args, learnt_account: str | None) -> dict | None:
    """The storage client's arguments: the flags, else the account a collector learnt."""
    if args.connection_string:
        return {"connection_string": args.connection_string}
    account = args.account_name or learnt_account
    url = args.blob_endpoint or (f"https://{account}.blob.core.windows.net" if account else None)
    if not url:
        return None
    if args.sas_token:
        return {"account_url": url, "credential": args.sas_token}
    if args.account_key:
        return {"account_url": url, "credential": args.account_key}
    return {"account_url": url, "credential": None}  # DefaultAzureCredential


def main_live(args, collect_only: bool = False) -> int:
    """``aml-doctor SERVICE...``, ``--all`` and ``collect``, with the arguments cli.parse gave."""
    from aml_doctor.cli.errors import UsageError

    if args.all_namespaces and args.namespace:
        raise UsageError("-n/--namespace and -A/--all-namespaces do not go together")
    watching = not collect_only and (args.watch or args.until_healthy)
    if args.timeout is None:
        args.timeout = 1200.0 if watching else 120.0
    try:
        mode = "collect" if collect_only else _mode(args, watching)
        args.context_namespace = kube_setup(args)
        if mode == "access":
            from aml_doctor.cli.access import check_access

            return check_access(args)
        progress = Progress(args.quiet)
        try:
            return _run(args, mode, progress)
        finally:
            progress.close()
    finally:
        from aml_doctor.cli.liverun import close_kube_client

        close_kube_client(args)


def _run(args, mode: str, progress: Progress) -> int:
    from aml_doctor.cli.errors import UsageError
    from aml_doctor.cli.output import emit
    from aml_doctor.cli.pipeline import load_rules
    from aml_doctor.collect.kubernetes import ServiceNotFound
    from aml_doctor.collect.part import manifest, render_files

    collect_only = mode == "collect"
    if not collect_only:
        loaded, rules, config = load_rules(args)
        if mode == "watch":
            from aml_doctor.cli.watch import run_watch

            return run_watch(args, progress, analyzer(rules, config, loaded))
        if mode == "fleet":
            from aml_doctor.cli.fleet import run_fleet
            from aml_doctor.findings import Severity

            fail_on = args.fail_on or config.fail_on or "medium"
            return run_fleet(args, progress, analyzer(rules, config, loaded), None if fail_on == "never" else Severity.parse(fail_on))
        args.service = args.service[0]
    try:
        with captured_sdk_output(args.quiet):
            service, namespace, workspace, part = collect(args, progress)
    except ServiceNotFound as exc:
        raise UsageError(_not_found_line(exc, args)) from None
    if not part.collected:
        return nothing_collected(part, args, ("pods",))
    files = render_files(manifest(service, namespace, workspace, part), part, redact_secrets=not args.no_redact)
    save_collected(files, part, args, collect_only, progress)
    if collect_only:
        return ExitCode.OK
    progress.close()  # the report follows on stdout; the spinner must be gone from the terminal first
    return emit(analyzer(rules, config, loaded)(files, f"live: {service}"), args, config)


def nothing_collected(part, args, main_sources: tuple[str, ...]) -> int:
    """One error line when no source answered, with the main sources' reason (the cluster's is the
    one worth the single line); returns the exit code."""
    why = next((g.error for g in part.gaps if g.what in main_sources), part.gaps[0].error if part.gaps else "")
    setup = setup_error(why, args)
    if setup is not None:
        line, code = setup
        print(f"aml-doctor: error: {line}", file=sys.stderr)
        return code
    print(f"aml-doctor: error: nothing could be collected: {why}", file=sys.stderr)
    return ExitCode.COLLECTION_ERROR


def save_collected(files: dict, part, args, collect_only: bool, progress: Progress) -> None:
    """Write the bundle where ``collect -o`` or ``--save-bundle`` asks, if either does."""
    from aml_doctor.collect.part import write_bundle

    progress(f"collected {len(files)} files; {len(part.gaps)} not collected")
    target = args.output_file if collect_only else getattr(args, "save_bundle", None)
    if target:
        check_target(target)
        write_bundle(target, files)
        progress(f"wrote {target}")


def _not_found_line(exc, args) -> str:
    """No Deployment: say whether the namespace itself is missing, and where the namespace came from."""
    line = str(exc)
    ns = getattr(exc, "namespace", None)
    if ns and namespace_exists(args, ns) is False:
        return (f"namespace {ns} does not exist (`kubectl get namespaces` lists them; AzureML's are azureml-<workspace>); "
                "-A searches every azureml-* namespace")
    if ns and not args.namespace and ns == getattr(args, "context_namespace", None):
        line += " (the namespace of the kubeconfig's context; -n NS picks another, -A searches the azureml-* namespaces)"
    return line


def analyzer(rules, config, loaded) -> Callable:
    """``analyze_files(files, label) -> Report`` with the configured rules, severities and options."""
    from aml_doctor.cli.pipeline import diagnose
    from aml_doctor.engine.runner import signals_for
    from aml_doctor.evidence.store import load

    signals = signals_for(rules)

    def analyze_files(files: dict[str, bytes], label: str):
        return diagnose(load(files, signals=signals, label=label), rules, config, loaded)

    return analyze_files


def _mode(args, watching: bool) -> str:
    """"watch", "fleet" or "one", from the services and flags given."""
    from aml_doctor.cli.errors import UsageError

    if args.check_access:
        if len(args.service) != 1 and not args.namespace:
            raise UsageError("--check-access takes one SERVICE (or -n NAMESPACE) whose access to check")
        return "access"
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
        from aml_doctor.cli.fleet import check_names

        try:
            check_names(list(args.service))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.save_bundle:
            raise UsageError("--save-bundle takes one service; use aml-doctor collect per service")
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        return "fleet"
    return "one"


def check_target(target: str) -> None:
    from aml_doctor.cli.errors import UsageError

    parent = os.path.dirname(os.path.abspath(target.rstrip("/")))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {target}: directory {parent} does not exist")
    if os.path.isdir(target) and os.listdir(target):
        raise UsageError(f"cannot write {target}: the directory is not empty")
