"""The hooks a plugin implements. This module is the whole plugin contract.

A plugin is a module (or an object) with functions marked ``@aml_doctor.hookimpl``. It reaches
aml-doctor through the ``aml_doctor`` entry-point group (as the built-in rules do), through
``--plugin MODULE_OR_PATH``, or as a ``.py`` file in ``--rules-dir``::

    # pyproject.toml of a team plugin
    [project.entry-points.aml_doctor]
    acme = "acme_aml_rules"

    # acme_aml_rules/__init__.py
    import aml_doctor

    @aml_doctor.hookimpl
    def aml_doctor_rules():
        from .acme001_private_mirror import PrivateMirror
        return [PrivateMirror]

A misspelled hook name is an error, reported with the plugin's name (``check_pending``).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("aml_doctor")


@hookspec
def aml_doctor_rules():
    """Return the rule classes this plugin provides: a list of :class:`aml_doctor.Rule` subclasses.

    Import rule modules inside the hook, not at the plugin's import, so that a run with
    ``--select`` pays only for what it uses. A rule receives its plugin's options from
    ``[tool.aml-doctor.plugins.<plugin name>]`` as ``self.options``.
    """



@hookspec
def aml_doctor_signatures():
    """Return more error signatures for rules this plugin does not own: ``{rule id: signatures}``.

    The signatures are a list in the schema of a rule's ``signatures.yml``
    (:mod:`aml_doctor.engine.signatures`), or the path of such a YAML file. A signature with
    ``mode: <sub-id>`` adds a known error text to that failure mode of the rule (its finding is
    ``AML004[import-error]``); one without is a failure mode of its own, named by its ``id``::

        @aml_doctor.hookimpl
        def aml_doctor_signatures():
            return {"AML004": os.path.join(os.path.dirname(__file__), "aml004.signatures.yml")}
    """
