from __future__ import annotations

import re

from aml_doctor import Category, Fix, Rule, Severity, Stage
from aml_doctor.engine.rule import excerpt
from aml_doctor.evidence.textdoc import TextKind

_NOT_FOUND = re.compile(r"Could not find a version that satisfies the requirement ([A-Za-z0-9_.\-]+)")


class PrivatePackageFromPublicIndex(Rule):
    id = "ACME001"
    name = "private-package-from-public-index"
    category = Category.IMAGE_BUILD_FAILURE
    severity = Severity.CRITICAL
    stage = Stage.BUILD
    requires = ("build_log|text",)
    signals = ("Could not find a version that satisfies the requirement",)

    def check(self, ev):
        prefixes = tuple(self.options.get("private_prefixes", ["acme-"]))
        mirror = self.options.get("mirror", "https://pypi.acme.example/simple")
        for doc in ev.docs(TextKind.BUILD_LOG, TextKind.PASTED):
            for hit in doc.search(_NOT_FOUND):
                package = hit.match.group(1)
                if not package.lower().startswith(prefixes):
                    continue
                yield self.finding(
                    title=f"Private package {package} was looked up on the public index",
                    explanation=(
                        f"`{package}` is published only on ACME's mirror, but pip in the image build searched the "
                        "public index: the environment does not point pip at the mirror."
                    ),
                    evidence=[excerpt(doc, hit.line_no)],
                    subject=package,
                    confidence=0.99,
                    fix=Fix(
                        summary="Point pip at ACME's mirror in the environment's conda YAML.",
                        steps=(f"Under `- pip:` add `- --extra-index-url {mirror}` before the private packages.",),
                        verify=("Redeploy and check the build log shows `Looking in indexes:` with the mirror.",),
                    ),
                )
                return
