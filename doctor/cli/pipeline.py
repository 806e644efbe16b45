"""The steps every diagnosing command shares: resolve the rules to run, and run them."""

from __future__ import annotations

import sys

from aml_doctor.cli.options import split_ids

MAX_TIMELINE_EVENTS = 200


def load_rules(args):
    """Plugins and the configuration, resolved into ``(loaded, rules to run, config)``."""
    from aml_doctor.cli.config import load_config
    from aml_doctor.engine.plugins import load_plugins
    from aml_doctor.engine.runner import select_rules, unknown_modes
    from aml_doctor.evidence import redact

    config = load_config(getattr(args, "config", None))
    redact.configure(patterns=config.redact)
    loaded = load_plugins(extra=args.plugin, rules_dirs=config.rules_dirs + args.rules_dir, timeout=getattr(args, "timeout", None))
    select = split_ids(args.select) or config.select
    ignore = split_ids(args.ignore) + config.ignore
    rules = select_rules(loaded.rules, select, ignore)
    for err in loaded.errors:
        print(f"aml-doctor: warning: plugin {err.plugin} not loaded: {err.error}", file=sys.stderr)
    for problem in unknown_modes(loaded.rules, [*select, *ignore]):
        print(f"aml-doctor: warning: {problem}", file=sys.stderr)
    return loaded, rules, config


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
