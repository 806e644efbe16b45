"""aml-doctor: diagnose failed Azure ML model deployments on Kubernetes.

The public API for rule authors::

    import aml_doctor
    from aml_doctor import Rule, Category, Severity, Stage, Fix, EvidenceItem

    @aml_doctor.hookimpl
    def aml_doctor_rules():
        return [MyRule]
"""

import pluggy

from .model import Category, EvidenceItem, Finding, Fix, Report, Severity, Stage  # noqa: F401
from .rule import Rule  # noqa: F401

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("aml_doctor")
