"""A rule's error signatures, as data beside it: ``amlNNN_<name>.signatures.yml``.

Each signature is one known error text of the rule's failure mode, from a public source, with the
finding it makes and the fix for each platform. A rule takes them with ``@with_signatures(__file__)``:
its own ``check()`` runs first, and when it finds nothing, the first signature whose phrases appear
in the evidence makes the finding. The phrases join the rule's ``signals``, so lines that carry
them are kept from logs too large to hold whole.

This module parses and matches; the cause is the rule's, written in its file::

    - id: acr-token-exchange-failed            # the sub-mode, shown as AML006[acr-token-exchange-failed]
      any: ["ACRTokenExchangeFailed"]          # plain phrases, any of them, case-insensitive
      all: []                                  # optional: phrases that must all appear too (same line)
      unless: []                               # optional: phrases that veto the match (same document)
      mode: acr-token                          # optional: a failure mode the rule declares; the
                                               #   finding is then AML006[acr-token], not a mode of its own
      category: image_pull_failure             # optional: defaults to the rule's
      severity: medium                         # optional: defaults to the rule's
      confidence: 0.85
      title: "..."
      explanation: "..."
      fix: {summary: "...", v1: ["step", ...], v2: ["step", ...], verify: ["command"]}
      source: https://...                      # where the error text is documented or reported
      example: "the exact line from that source"   # tests check the signature matches it
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Container, Iterable, Iterator

from aml_doctor.views import targets
from aml_doctor.evidence.store import Evidence
from aml_doctor.findings import Category, EvidenceItem, Fix, Severity
from aml_doctor.evidence.textdoc import Hit

MAX_EXCERPT_CHARS = 1200


@dataclass(frozen=True)
class Signature:
    id: str
    any: tuple[str, ...]
    all: tuple[str, ...]
    unless: tuple[str, ...]
    category: Category | None
    severity: Severity | None
    confidence: float
    title: str
    explanation: str
    fix_summary: str
    fix_v1: tuple[str, ...]
    fix_v2: tuple[str, ...]
    verify: tuple[str, ...]
    source: str
    example: str
    mode: str = ""

    @property
    def pattern(self) -> re.Pattern:
        return _pattern(self.any)

    def matches_line(self, line: str) -> bool:
        low = line.lower()
        return bool(self.pattern.search(line)) and all(p.lower() in low for p in self.all)

    def fix(self, platform: str) -> Fix:
        steps = self.fix_v2 if targets.is_v2(platform) and self.fix_v2 else self.fix_v1 or self.fix_v2
        return Fix(summary=self.fix_summary, steps=steps, verify=self.verify)


@lru_cache(maxsize=None)
def _pattern(phrases: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE)


class SignatureError(ValueError):
    pass


def _strings(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SignatureError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def parse(data, origin: str) -> tuple[Signature, ...]:
    if not isinstance(data, list):
        raise SignatureError(f"{origin}: a list of signatures expected")
    out = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"{origin}[{i}]"
        if not isinstance(item, dict):
            raise SignatureError(f"{where}: a mapping expected")
        unknown = set(item) - {"id", "mode", "any", "all", "unless", "category", "severity", "confidence", "title", "explanation", "fix", "source", "example"}
        if unknown:
            raise SignatureError(f"{where}: unknown keys {sorted(unknown)}")
        sid = item.get("id")
        if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", sid) or sid in seen:
            raise SignatureError(f"{where}: id must be a unique kebab-case string")
        seen.add(sid)
        mode = item.get("mode") or ""
        if not isinstance(mode, str) or (mode and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", mode)):
            raise SignatureError(f"{where}: mode must be a kebab-case sub-id of the rule")
        fix = item.get("fix") or {}
        if not isinstance(fix, dict) or not isinstance(fix.get("summary"), str):
            raise SignatureError(f"{where}: fix needs a summary")
        for key in ("title", "explanation", "source", "example"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise SignatureError(f"{where}: {key} must be a non-empty string")
        category = item.get("category")
        try:
            category = Category(category) if category else None
        except ValueError:
            raise SignatureError(f"{where}: unknown category {category!r}") from None
        severity = item.get("severity")
        try:
            severity = Severity.parse(severity) if severity else None
        except (ValueError, AttributeError):
            raise SignatureError(f"{where}: unknown severity {severity!r}") from None
        confidence = item.get("confidence", 0.8)
        if not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
            raise SignatureError(f"{where}: confidence must be in (0, 1]")
        any_ = _strings(item.get("any"), f"{where}.any")
        if not any_:
            raise SignatureError(f"{where}: any needs at least one phrase")
        out.append(
            Signature(
                id=sid, any=any_, all=_strings(item.get("all"), f"{where}.all"),
                unless=_strings(item.get("unless"), f"{where}.unless"), category=category, severity=severity,
                confidence=float(confidence), title=item["title"].strip(), explanation=item["explanation"].strip(),
                fix_summary=fix["summary"].strip(), fix_v1=_strings(fix.get("v1"), f"{where}.fix.v1"),
                fix_v2=_strings(fix.get("v2"), f"{where}.fix.v2"), verify=_strings(fix.get("verify"), f"{where}.fix.verify"),
                source=item["source"].strip(), example=item["example"], mode=mode,
            )
        )
    return tuple(out)


def read_yaml(fh):
    """YAML through libyaml's safe loader where PyYAML was built with it: ten times faster than the
    pure-Python one, and the rules' signatures are read on every run
    (https://pyyaml.org/wiki/PyYAMLDocumentation, "CLoader")."""
    import yaml

    return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load(path: str) -> tuple[Signature, ...]:
    if not os.path.exists(path):
        return ()
    with open(path, encoding="utf-8") as fh:
        return parse(read_yaml(fh) or [], os.path.basename(path))


def beside(module_file: str) -> str:
    return os.path.splitext(module_file)[0] + ".signatures.yml"


def first_hit(ev: Evidence, sig: Signature) -> Hit | None:
    for doc in ev.docs():
        low_text = None
        for hit in doc.search(sig.pattern):
            if sig.all and not sig.matches_line(hit.line):
                continue
            if sig.unless:
                low_text = low_text if low_text is not None else doc.text.lower()
                if any(p.lower() in low_text for p in sig.unless):
                    break
            return hit
    return None


def last_hit_in(doc, sig: Signature, skip: Container[int] = ()) -> Hit | None:
    """The last line of ``doc`` that ``sig`` matches, passing over the line numbers in ``skip`` (its
    ``unless`` phrases veto the document)."""
    last = None
    for hit in doc.search(sig.pattern):
        if hit.line_no in skip:
            continue
        if not sig.all or sig.matches_line(hit.line):
            last = hit
    if last is not None and sig.unless:
        low = doc.text.lower()
        if any(p.lower() in low for p in sig.unless):
            return None
    return last


def excerpt(hit: Hit) -> EvidenceItem:
    window = hit.doc.window(hit.line_no, 1, 2)
    text = "\n".join(line for _, line in window)
    return EvidenceItem(hit.locator, text[:MAX_EXCERPT_CHARS])


def findings(rule, ev: Evidence, signatures: Iterable[Signature]) -> Iterator:
    """The finding of the first signature that matches, built by ``rule``."""
    platform = targets.guess(ev)
    for sig in signatures:
        hit = first_hit(ev, sig)
        if hit is None:
            continue
        yield rule.finding(
            title=sig.title,
            explanation=sig.explanation,
            evidence=[excerpt(hit)],
            fix=sig.fix(platform),
            subject=f"signature/{sig.id}",
            confidence=sig.confidence,
            category=sig.category,
            severity=sig.severity,
            links=(sig.source, *getattr(rule, "links", ())),
            mode=sig.mode or sig.id,
        )
        return


def _checking_signatures(original):
    """``check`` that runs the rule's own ``original`` first and, when it finds nothing, the
    signatures of the rule's class (a team's added ones included)."""
    def check(self, ev):
        found = False
        for f in original(self, ev) or ():
            found = True
            yield f
        if not found:
            yield from findings(self, ev, type(self).signatures)

    check.__doc__ = original.__doc__
    check.checks_signatures = True
    return check


def with_signatures(module_file: str, fallback: bool = True):
    """Class decorator: give a rule the signatures in the YAML file beside its module. With
    ``fallback`` they make the finding when the rule's own check finds nothing; without, the
    rule's check reads ``type(self).signatures`` itself (a team's added ones included)."""
    def decorate(cls):
        sigs = load(beside(module_file))
        if not sigs:
            return cls
        if fallback:
            cls.check = _checking_signatures(cls.check)
        else:
            cls.check.checks_signatures = True
        cls.signatures = sigs
        cls.signals = tuple(dict.fromkeys(tuple(cls.signals) + tuple(p for s in sigs for p in s.any)))
        return cls

    return decorate


def parse_for(rule, data, origin: str) -> tuple[Signature, ...]:
    """A team's signatures for ``rule``: a list in the schema above, or the path of a YAML file.
    A ``mode`` must be one the rule declares; ids must not repeat the rule's own."""
    if isinstance(data, (str, os.PathLike)):
        with open(data, encoding="utf-8") as fh:
            data = read_yaml(fh) or []
    sigs = parse(data, origin)
    declared = {m.id: m.category for m in getattr(rule, "modes", ())}
    own = {s.id for s in getattr(rule, "signatures", ())}
    for sig in sigs:
        if sig.mode and sig.mode not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise SignatureError(f"{origin}: {sig.id}: {rule.id} has no failure mode {sig.mode!r} (its modes: {known})")
        if sig.mode and sig.category and sig.category is not declared[sig.mode]:
            raise SignatureError(f"{origin}: {sig.id}: mode {sig.mode} concludes {declared[sig.mode].value}, not {sig.category.value}")
        if sig.id in own:
            raise SignatureError(f"{origin}: {sig.id}: {rule.id} already has a signature with that id")
    return sigs


def extended(rule, extra: tuple[Signature, ...], plugin: str):
    """``rule`` with ``extra`` signatures after its own, as a subclass: the built-in class is not changed."""
    attrs = {
        "__module__": rule.__module__, "__qualname__": rule.__qualname__, "__doc__": rule.__doc__,
        "signatures": tuple(getattr(rule, "signatures", ())) + tuple(extra),
        "signals": tuple(dict.fromkeys(tuple(rule.signals) + tuple(p for s in extra for p in s.any))),
        "signatures_from": tuple(getattr(rule, "signatures_from", ())) + (plugin,),
    }
    if not getattr(rule.check, "checks_signatures", False):
        attrs["check"] = _checking_signatures(rule.check)
    return type(rule.__name__, (rule,), attrs)
