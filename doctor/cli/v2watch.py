"""``aml-doctor ENDPOINT -d DEPLOYMENT --watch``: follow a v2 deployment as it rolls out.

The v2 collector reads a deployment's whole cluster evidence in a fixed number of GETs (19 on the
benchmark's cluster), so following one is a loop of collections, every ``--watch-interval``
seconds (default 5): each round re-runs the rules and prints the stage the deployment has reached
when it changes, with the v1 watch's own stage names ("Pending: scheduling", "Init: downloading
model and code" while the storage initializer runs, "Running, not ready: init()"). It stops when

* every pod is Ready (healthy; with ``--until-healthy`` only this or the deadline stops it), or
* the rules name a root cause at a stage the pods have not got past (``watch.decisive_cause``), or
* ``--timeout`` passes.

Before the extension has created anything, "no such online endpoint / deployment" is a stage
("waiting for ... to appear"), not an error. Every request is a GET; nothing is watched with a
stream, so a dropped connection costs one round, never a resume.
"""

from __future__ import annotations

import sys
import time

from aml_doctor.common.exitcodes import ExitCode

DEFAULT_INTERVAL = 5.0


def run(args) -> int:
    from aml_doctor.cli.output import emit
    from aml_doctor.cli.pipeline import load_rules
    from aml_doctor.collect.kubernetes import api_client_for
    from aml_doctor.collect.v2kubernetes import ExtensionMissing
    from aml_doctor.cli.live import Progress, analyzer, kube_setup
    from aml_doctor.cli.watch import decisive_cause

    args.context_namespace = kube_setup(args)
    if args.timeout is None:
        args.timeout = 1200.0
    from aml_doctor.cli.liverun import endpoint_of

    endpoint = endpoint_of(args)
    interval = float(getattr(args, "watch_interval", None) or DEFAULT_INTERVAL)
    progress = Progress(args.quiet)
    loaded, rules, config = load_rules(args)
    analyze_files = analyzer(rules, config, loaded)
    try:
        api_client = api_client_for(args.kubeconfig, args.context)
    except Exception as exc:  # noqa: BLE001 - the config loader raises many types, all meaning "unusable kubeconfig"
        print(f"aml-doctor: error: cannot use {args.kubeconfig or 'the default kubeconfig'}: {exc}", file=sys.stderr)
        return ExitCode.COLLECTION_ERROR
    started = time.monotonic()
    deadline = started + args.timeout
    last_text, report, result, where = "", None, "timeout", None
    namespace = args.namespace or getattr(args, "context_namespace", None)
    try:
        progress(f"watching online deployment {endpoint}/{args.deployment or '(the only one)'} (up to {args.timeout:g} s, every {interval:g} s)")
        while True:
            try:
                namespace, looked, where = _look(args, endpoint, namespace, api_client, deadline, analyze_files)
            except ExtensionMissing as exc:
                print(f"aml-doctor: error: {exc}", file=sys.stderr)
                return ExitCode.USAGE_ERROR
            report = looked if looked is not None else report
            if where.text != last_text:
                progress(f"{time.monotonic() - started:6.1f}s  {where.text}")
                last_text = where.text
            if report is not None and where.healthy:
                result = "healthy"
                break
            if report is not None and not args.until_healthy and decisive_cause(report, where) is not None:
                result = "failing"
                break
            if time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
    finally:
        api_client.close()
    _say_result(progress, result, time.monotonic() - started, where, report, args.timeout)
    progress.close()
    if report is None:
        print(f"aml-doctor: error: online endpoint {endpoint} never appeared within --timeout {args.timeout:g} s", file=sys.stderr)
        return ExitCode.FINDINGS
    emit(report, args, config)
    return ExitCode.OK if result == "healthy" else ExitCode.FINDINGS


def _look(args, endpoint: str, namespace: str | None, api_client, deadline: float, analyze_files):
    """One look at the deployment: (the namespace it is in, its report or None, its stage)."""
    from aml_doctor.collect.part import DeploymentRecord
    from aml_doctor.collect.part import bundle_files as render
    from aml_doctor.collect.v2kubernetes import EndpointNotFound, collect_v2_kubernetes
    from aml_doctor.cli.watch import DeploymentStage, deployment_stage

    try:
        part = collect_v2_kubernetes(endpoint, args.deployment, namespace=namespace, api_client=api_client,
                                     log_lines=args.log_lines, request_timeout=args.request_timeout, deadline=deadline)
    except EndpointNotFound as exc:
        return namespace, None, DeploymentStage(f"waiting for it to appear ({exc})", None, False)
    found = part.deployment or DeploymentRecord()
    extras = {"platform": "k8s_online_v2", "endpoint": endpoint, "deployment": found.deployment or args.deployment or "",
              "compute": ""}
    files = render(found.service or endpoint, found.namespace, args.workspace_name or "", part, extras)
    report = analyze_files(files, f"watch: {endpoint}/{extras['deployment']}")
    return namespace or found.namespace or None, report, _stage(part, deployment_stage)


def _say_result(progress, result: str, seconds: float, where, report, timeout: float) -> None:
    if result == "healthy":
        progress(f"healthy after {seconds:.1f} s: {where.text}")
    elif result == "failing":
        cause = report.root_cause
        progress(f"root cause after {seconds:.1f} s: {cause.rule} {cause.title}")
    else:
        progress(f"no verdict within --timeout {timeout:g} s; the report shows the evidence so far")


def _stage(part, deployment_stage):
    """The deployment's stage from one collection's objects (the v1 watch's stage names)."""
    def items(resource: str) -> list[dict]:
        return list((part.files.get(f"kubernetes/{resource}.json") or {}).get("items", []))

    deployments = items("deployments")
    events = items("events")

    def events_of(kind: str, name: str) -> list[dict]:
        return [e for e in events if (e.get("involvedObject") or {}).get("kind") == kind
                and (not name or (e.get("involvedObject") or {}).get("name") == name)]

    service = part.deployment.service if part.deployment else ""
    return deployment_stage(service or "the deployment", deployments[0] if deployments else None, items("pods"), events_of)
