"""Python packages as tracebacks name them: the PyPI distribution behind an import name, and a
library module that lacks a name the code uses.

Parsing only: AML004 (init) and AML013 (run) decide that a missing library name is a version clash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DISTRIBUTIONS_FILE = Path(__file__).with_name("distributions.yml")

# "module 'numpy' has no attribute 'float'" for a library's module. NumPy 1.24 removed the
# np.float/np.int/np.bool aliases (its release notes, "Expired deprecations"); pandas 1.0 removed
# pandas.core.dtypes.common.is_datetimelike; TensorFlow 2 removed tf.Session and tf.placeholder;
# Python 3.10 removed collections.Mapping and its kin (bpo-37324). A module of the user's own
# (score, utils) is not listed: a name missing there is the user's own error.
_LIBRARY_NAME_MISSING = re.compile(
    r"module '((?:numpy|pandas|sklearn|scipy|tensorflow|keras|torch|transformers|collections|werkzeug|jinja2|"
    r"markupsafe|flask|itsdangerous|google\.protobuf|onnxruntime|mlflow|pydantic|cloudpickle|joblib)(?:\.[\w.]+)?)' "
    r"has no attribute '(\w+)'"
)


@lru_cache(maxsize=1)
def _distributions() -> dict:
    import yaml

    return yaml.safe_load(DISTRIBUTIONS_FILE.read_text(encoding="utf-8")) or {}


def distribution(module: str) -> str:
    """The PyPI distribution that provides ``module``: the longest dotted prefix in
    ``distributions.yml``, else the import name itself."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        found = _distributions().get(".".join(parts[:n]))
        if found:
            return found
    return parts[0]


@dataclass(frozen=True)
class MissingName:
    """A library's module without a name the code uses."""

    module: str  # "pandas.core.dtypes.common"
    name: str  # "is_datetimelike"
    distribution: str  # the PyPI distribution that provides the module: "pandas"


def library_name_missing(text: str) -> MissingName | None:
    """What ``text`` says when it says a library's module has no attribute ``name``."""
    m = _LIBRARY_NAME_MISSING.search(text)
    return MissingName(m.group(1), m.group(2), distribution(m.group(1))) if m else None
