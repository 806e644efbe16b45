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

``requires`` lists evidence sources (see ``aml_doctor.evidence.store.SOURCES``); every item must be
present, and ``a|b`` means either will do. When one is missing the engine reports the rule as
"not checked" with the reason instead of running it. ``signals`` are plain phrases (not regexes,
matched without regard to case) the rule looks for in text: they keep the matching lines of a log
too large to hold whole.

A rule checks one failure mode. Where one symptom has several causes, each cause is a *mode* of the
rule with a sub-id, written and selected as ``AML004[import-error]`` (as ansible-lint writes
``name[casing]``)::

    modes = (
        Mode("init-error", Category.ENTRY_SCRIPT_INIT_ERROR),
        Mode("import-error", Category.ENTRY_SCRIPT_IMPORT_ERROR),
    )

A finding's mode follows from its category (a rule's categories are one per mode), or is named
with ``self.finding(..., mode="import-error")``. Each signature of the rule (``signatures.yml``) is
a mode of its own. ``--select``, ``--ignore`` and ``[tool.aml-doctor.severity]`` take sub-ids.

Relations between rules are data, never imports of another rule's module:

* ``supersedes``: ids (or ``ID[mode]``) whose findings are dropped when this rule finds something;
  a rule that stays silent when another reports the cause is superseded by it.
* ``explains``: ids whose findings this rule's findings explain: ranked after them and linked.
* ``defers``: ``{id: the case}``, the cases this rule leaves to another rule, said where a reader
  looks for them.
* ``overrides``: the id of a built-in rule a team's rule replaces, whatever the plugin's name.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
from typing import Any, ClassVar, Iterable, Sequence

from aml_doctor.evidence.store import Evidence
from aml_doctor.findings import Category, EvidenceItem, Finding, Fix, Severity, Stage


@dataclasses.dataclass(frozen=True)
class Mode:
    """One failure mode of a rule: its sub-id and the one category it concludes."""

    id: str
    category: Category
    supersedes: tuple[str, ...] = ()


MODE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class Rule:
    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    category: ClassVar[Category] = Category.OTHER
    severity: ClassVar[Severity] = Severity.HIGH
    stage: ClassVar[Stage] = Stage.CONTAINER
    requires: ClassVar[tuple[str, ...]] = ()
    signals: ClassVar[tuple[str, ...]] = ()
    links: ClassVar[tuple[str, ...]] = ()
    modes: ClassVar[tuple[Mode, ...]] = ()
    supersedes: ClassVar[tuple[str, ...]] = ()
    explains: ClassVar[tuple[str, ...]] = ()
    defers: ClassVar[dict[str, str]] = {}
    overrides: ClassVar[str] = ""
    # Set by selection (``AML004[import-error]``): the modes to keep, or to drop.
    only_modes: ClassVar[frozenset[str] | None] = None
    ignored_modes: ClassVar[frozenset[str]] = frozenset()
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
        mode: str = "",
    ) -> Finding:
        """Build a finding stamped with this rule's id, name, mode and defaults."""
        if mode and category is None:
            category = next((m.category for m in self.all_modes() if m.id == mode), None)
        elif not mode:
            mode = self.mode_for(category or self.category)
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
            mode=mode,
        )

    # ------------------------------------------------------------------ failure modes
    @classmethod
    def all_modes(cls) -> tuple[Mode, ...]:
        """The declared modes, then one per signature (``id`` = the signature's id)."""
        sigs = tuple(
            Mode(s.id, s.category or cls.category) for s in getattr(cls, "signatures", ()) or ()
            if not s.mode and not any(m.id == s.id for m in cls.modes)
        )
        return tuple(cls.modes) + sigs

    @classmethod
    def mode_for(cls, category: Category) -> str:
        """The declared mode that concludes ``category``; "" for a rule of one mode."""
        return next((m.id for m in cls.modes if m.category is category), "")

    @classmethod
    def categories(cls) -> dict[str, Category]:
        """Every failure mode this rule can conclude: sub-id ("" for the rule itself) -> category."""
        out = {m.id: m.category for m in cls.all_modes()}
        if not any(m.category is cls.category for m in cls.modes):
            out[""] = cls.category
        return out

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


# ---------------------------------------------------------------------- the plugin boundary
# A plugin's rule is checked here before it runs, and each finding before it reaches the report,
# so that a wrong type is one error naming the plugin, the rule and the field, and never a crash
# in ranking or a renderer far from its cause.

MAX_FINDINGS_PER_RULE = 100
MAX_EVIDENCE_BYTES_PER_FINDING = 64 * 1024
MAX_EVIDENCE_ITEMS_PER_FINDING = 50
MAX_TEXT_FIELD = 16 * 1024  # title, explanation, fix summary and each step: characters


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _strings(value: Any) -> bool:
    # A bare string is iterable too, and ``signals = "OOMKilled"`` would look for each letter.
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)


def rule_problems(rule: Any) -> list[str]:
    """What is wrong with a rule class's declaration, one line per field; empty when it is sound."""
    if not (isinstance(rule, type) and issubclass(rule, Rule)):
        return [f"not a Rule subclass: {_kind(rule)}"]
    problems = []
    rid = getattr(rule, "id", None)
    if not isinstance(rid, str) or not rid.strip():
        problems.append(f"field id: expected a non-empty str, got {_kind(rid)}")
    elif len(rid) > 64 or not rid.isprintable():
        problems.append("field id: expected at most 64 printable characters")
    expected = {
        "name": (str, "str"),
        "category": (Category, "a Category"),
        "severity": (Severity, "a Severity"),
        "stage": (Stage, "a Stage"),
    }
    for field_name, (cls, label) in expected.items():
        value = getattr(rule, field_name, None)
        if not isinstance(value, cls):
            problems.append(f"field {field_name}: expected {label}, got {_kind(value)}")
    for field_name in ("requires", "signals", "links"):
        value = getattr(rule, field_name, None)
        if not _strings(value):
            problems.append(f"field {field_name}: expected a tuple of str, got {_kind(value)}")
    if not callable(getattr(rule, "check", None)):
        problems.append("field check: expected a method")
    problems.extend(_relation_problems(rule))
    return problems


def _relation_problems(rule: Any) -> list[str]:
    problems = []
    modes = getattr(rule, "modes", ())
    if not _tuple_of(modes, Mode):
        return [f"field modes: expected a tuple of Mode, got {_kind(modes)}"]
    ids = [m.id for m in modes]
    if any(not isinstance(i, str) or not MODE_ID.fullmatch(i) for i in ids) or len(set(ids)) != len(ids):
        problems.append("field modes: each mode needs a unique kebab-case id")
    cats = [m.category for m in modes]
    if not all(isinstance(c, Category) for c in cats) or len(set(cats)) != len(cats):
        problems.append("field modes: each mode needs a Category of its own (one category, one mode)")
    for m in modes:
        if not _strings(m.supersedes):
            problems.append(f"field modes[{m.id}].supersedes: expected a tuple of str")
    for field_name in ("supersedes", "explains"):
        if not _strings(getattr(rule, field_name, ())):
            problems.append(f"field {field_name}: expected a tuple of str, got {_kind(getattr(rule, field_name, None))}")
    defers = getattr(rule, "defers", {})
    if not isinstance(defers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in defers.items()):
        problems.append(f"field defers: expected a dict of rule id -> str, got {_kind(defers)}")
    if not isinstance(getattr(rule, "overrides", ""), str):
        problems.append(f"field overrides: expected a str, got {_kind(getattr(rule, 'overrides', None))}")
    return problems


def mode_problem(rule: type[Rule], f: Finding) -> str:
    """A finding whose mode the rule does not declare, or whose category is not its mode's."""
    known = rule.categories()
    if f.mode not in known:
        return f"finding mode {f.mode or '(none)'!r} with category {f.category.value} is not one of the rule's failure modes"
    if known[f.mode] is not f.category:
        return f"finding mode {f.rule_mode} concludes {known[f.mode].value}, not {f.category.value}"
    return ""


def rule_label(rule: Any) -> str:
    rid = getattr(rule, "id", None)
    return rid if isinstance(rid, str) and rid.strip() and rid.isprintable() else getattr(rule, "__name__", repr(rule))


def _tuple_of(value: Any, cls: type) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(v, cls) for v in value)


def finding_problem(f: Any) -> str:
    """The first wrong-typed field of a finding, as one line; empty when the finding is sound."""
    if not isinstance(f, Finding):
        return f"check() yielded {_kind(f)}, not a Finding"
    checks = (
        ("rule", isinstance(f.rule, str), "str"),
        ("name", isinstance(f.name, str), "str"),
        ("category", isinstance(f.category, Category), "a Category"),
        ("severity", isinstance(f.severity, Severity), "a Severity"),
        ("stage", isinstance(f.stage, Stage), "a Stage"),
        ("confidence", isinstance(f.confidence, (int, float)) and not isinstance(f.confidence, bool)
         and math.isfinite(f.confidence) and 0 <= f.confidence <= 1, "a number from 0 to 1"),
        ("title", isinstance(f.title, str), "str"),
        ("explanation", isinstance(f.explanation, str), "str"),
        ("subject", isinstance(f.subject, str), "str"),
        ("evidence", _tuple_of(f.evidence, EvidenceItem), "a tuple of EvidenceItem"),
        ("fix", isinstance(f.fix, Fix), "a Fix"),
        ("links", _tuple_of(f.links, str), "a tuple of str"),
        ("alternatives", _tuple_of(f.alternatives, Category), "a tuple of Category"),
        ("decide", isinstance(f.decide, str), "str"),
        ("plugin", isinstance(f.plugin, str), "str"),
        ("mode", isinstance(f.mode, str), "str"),
    )
    for name, ok, label in checks:
        if not ok:
            return f"finding field {name}: expected {label}, got {_kind(getattr(f, name))}"
    for i, item in enumerate(f.evidence):
        for name in ("locator", "excerpt"):
            if not isinstance(getattr(item, name), str):
                return f"finding field evidence[{i}].{name}: expected str, got {_kind(getattr(item, name))}"
    if not isinstance(f.fix.summary, str):
        return f"finding field fix.summary: expected str, got {_kind(f.fix.summary)}"
    for name in ("steps", "verify"):
        if not _tuple_of(getattr(f.fix, name), str):
            return f"finding field fix.{name}: expected a tuple of str, got {_kind(getattr(f.fix, name))}"
    return ""


def _cut(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + f" [... {len(text) - limit} characters cut]", True


def bounded(f: Finding) -> tuple[Finding, bool]:
    """``f`` with its lists as tuples and its text within the per-finding caps; True when cut."""
    cut = False
    title, c1 = _cut(f.title, MAX_TEXT_FIELD)
    explanation, c2 = _cut(f.explanation, MAX_TEXT_FIELD)
    cut = c1 or c2
    items = list(f.evidence)
    if len(items) > MAX_EVIDENCE_ITEMS_PER_FINDING:
        items, cut = items[:MAX_EVIDENCE_ITEMS_PER_FINDING], True
    budget = MAX_EVIDENCE_BYTES_PER_FINDING
    kept = []
    for item in items:
        size = len(item.excerpt.encode("utf-8", "surrogatepass")) + len(item.locator)
        if size > budget:
            cut = True
            if budget > 256:
                excerpt, _ = _cut(item.excerpt, max(0, budget - len(item.locator) - 64) // 4)
                kept.append(EvidenceItem(item.locator[:1024], excerpt))
            break
        budget -= size
        kept.append(item)
    fix = f.fix
    steps = tuple(_cut(s, MAX_TEXT_FIELD)[0] for s in fix.steps[:50])
    verify = tuple(_cut(s, MAX_TEXT_FIELD)[0] for s in fix.verify[:50])
    summary, c3 = _cut(fix.summary, MAX_TEXT_FIELD)
    if c3 or steps != tuple(fix.steps) or verify != tuple(fix.verify):
        cut = True
        fix = Fix(summary, steps, verify)
    elif not isinstance(fix.steps, tuple) or not isinstance(fix.verify, tuple):
        fix = Fix(fix.summary, tuple(fix.steps), tuple(fix.verify))
    return dataclasses.replace(
        f,
        title=title,
        explanation=explanation,
        evidence=tuple(kept),
        fix=fix,
        links=tuple(f.links)[:20],
        alternatives=tuple(f.alternatives),
    ), cut
