"""aml-doctor: diagnose failed Azure ML model deployments on Kubernetes.

The public API for rule authors::

    import aml_doctor
    from aml_doctor import Rule, Category, Severity, Stage, Fix, EvidenceItem

    @aml_doctor.hookimpl
    def aml_doctor_rules():
        return [MyRule]
"""

import importlib

__version__ = "0.1.0"

# Resolved on first use, so that `aml-doctor --help` does not pay for the engine's imports.
_LAZY = {
    "Category": "findings",
    "EvidenceItem": "findings",
    "Finding": "findings",
    "Fix": "findings",
    "Report": "findings",
    "Severity": "findings",
    "Stage": "findings",
    "Mode": "engine.rule",
    "Rule": "engine.rule",
}


def __getattr__(name):
    if name == "hookimpl":
        import pluggy

        value = pluggy.HookimplMarker("aml_doctor")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = ["__version__", "hookimpl", *_LAZY]
