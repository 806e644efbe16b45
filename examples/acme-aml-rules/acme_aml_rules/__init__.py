"""ACME's aml-doctor rules. Registered through the ``aml_doctor`` entry-point group as ``acme``."""

import aml_doctor

__version__ = "1.2.0"


@aml_doctor.hookimpl
def aml_doctor_rules():
    from .acme001_private_package_from_public_index import PrivatePackageFromPublicIndex

    return [PrivatePackageFromPublicIndex]
