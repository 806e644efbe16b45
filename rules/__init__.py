"""The built-in rules. Registered through the ``aml_doctor`` entry-point group like any plugin.

One rule per module, ``amlNNN_<name>.py``, with its docs in ``amlNNN_<name>.md`` beside it.
"""

import importlib
import pkgutil

import aml_doctor


@aml_doctor.hookimpl
def aml_doctor_rules():
    rules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("aml"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules.extend(
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, aml_doctor.Rule) and obj.__module__ == module.__name__
        )
    return rules
