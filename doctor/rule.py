"""The base class of every rule, built in or a team's own.

A rule is one small class in one module, with its docs in a Markdown file beside it::

    class ImagePullBackOff(Rule):
        id = "AML012"
        name = "image-pull-backoff"
        category = Category.IMAGE_PULL_FAILURE
        severity = Severity.CRITICAL
        stage = Stage.PULL
        requires = ("pods|events|text",)
        signals = ("ErrImagePull", "ImagePullBackOff")

        def check(self, ev):
            ...
            yield self.finding(title=..., explanation=..., evidence=[...], fix=Fix(...))

``requires`` lists evidence sources (see ``aml_doctor.evidence.SOURCES``); every item must be
present, and ``a|b`` means either will do. When one is missing the engine reports the rule as
"not checked" with the reason instead of running it. ``signals`` are plain phrases (not regexes,
matched without regard to case) the rule looks for in text: they keep the matching lines of a log
too large to hold whole.
"""

from __future__ import annotations

import inspect
import os
from typing import ClassVar, Iterable, Sequence

from .evidence import Evidence
from .model import Category, EvidenceItem, Finding, Fix, Severity, Stage


class Rule:
    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    category: ClassVar[Category] = Category.OTHER
    severity: ClassVar[Severity] = Severity.HIGH
    stage: ClassVar[Stage] = Stage.CONTAINER
    requires: ClassVar[tuple[str, ...]] = ()
    signals: ClassVar[tuple[str, ...]] = ()
    links: ClassVar[tuple[str, ...]] = ()
    # Set by the plugin manager: the plugin this rule came from.
    plugin: ClassVar[str] = ""

    def __init__(self, options: dict | None = None):
        self.options = options or {}

    def check(self, ev: Evidence) -> Iterable[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    def finding(
        self,
        *,
        title: str,
        explanation: str,
        evidence: Sequence[EvidenceItem],
        fix: Fix,
        subject: str = "",
        confidence: float = 0.9,
        category: Category | None = None,
        severity: Severity | None = None,
        stage: Stage | None = None,
        alternatives: Sequence[Category] = (),
        decide: str = "",
        links: Sequence[str] = (),
    ) -> Finding:
        """Build a finding stamped with this rule's id, name and defaults."""
        return Finding(
            rule=self.id,
            name=self.name,
            category=category or self.category,
            severity=severity or self.severity,
            stage=stage or self.stage,
            confidence=round(max(0.0, min(1.0, confidence)), 2),
            title=title,
            explanation=explanation,
            subject=subject,
            evidence=tuple(evidence),
            fix=fix,
            links=tuple(links) or tuple(self.links),
            alternatives=tuple(alternatives),
            decide=decide,
            plugin=self.plugin,
        )

    # ------------------------------------------------------------------ docs
    @classmethod
    def doc_path(cls) -> str:
        """The Markdown file beside the rule's module: ``aml012_image_pull_backoff.md``."""
        module_file = inspect.getfile(cls)
        return os.path.splitext(module_file)[0] + ".md"

    @classmethod
    def docs(cls) -> str:
        try:
            with open(cls.doc_path(), encoding="utf-8") as fh:
                return fh.read()
        except OSError:
            return (inspect.getdoc(cls) or "").strip()

    @classmethod
    def summary(cls) -> str:
        """The first line of the docs after the title: what the rule checks, in one line."""
        for line in cls.docs().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                return line
        return cls.name


def missing_requirements(rule: type[Rule], ev: Evidence) -> list[str]:
    """The requirement groups of ``rule`` that ``ev`` cannot meet, each as 'a|b'."""
    return [group for group in rule.requires if not any(ev.has(s) for s in group.split("|"))]


def excerpt(doc, line_no: int, before: int = 0, after: int = 0) -> EvidenceItem:
    """An evidence item quoting lines of a text document, located at ``line_no``."""
    lines = doc.window(line_no, before, after)
    return EvidenceItem(doc.locator(line_no), "\n".join(text for _, text in lines))
