"""The secret corpus (tests/fixtures/secrets/contexts.yaml) leaks nothing, whole or in part.

Each context plants one or more secrets in a form seen in the wild (issue 13's 24 leaking forms,
and shapes from gitleaks, detect-secrets and trufflehog rule sets). A leak is the whole value or
any 8-character piece of it in the output; a piece the context's own non-secret text also holds
(``%252F%25`` of a double-encoded URL) proves nothing and is not counted. Checked: the redactor
itself, all six report formats built from the raw text, and ``analyze --text`` end to end. The
collected bundle is checked in tests/test_redact_live.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from aml_doctor.cli import main as cli
from aml_doctor.evidence import redact
from aml_doctor.evidence.store import from_texts
from aml_doctor.findings import EvidenceItem, Fix
from aml_doctor.reports import FORMATS, render
from report_factory import make_report, mount_failure

@pytest.fixture(autouse=True)
def _fresh_redaction():
    yield
    redact.reset()


CORPUS = yaml.safe_load((Path(__file__).parent / "fixtures" / "secrets" / "contexts.yaml").read_text())["contexts"]
PIECE = 8


def pieces_leaked(context: dict, output: str) -> list[str]:
    background = context["text"]
    for secret in context["secrets"]:
        background = background.replace(secret, "\0")
    leaked = []
    for secret in context["secrets"]:
        if secret in output:
            leaked.append(secret)
            continue
        leaked += [p for p in (secret[i:i + PIECE] for i in range(len(secret) - PIECE + 1))
                   if p in output and p not in background]
    return leaked


def test_the_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 60
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    for c in CORPUS:
        assert c["secrets"] and all(len(s) >= PIECE and s in c["text"] for s in c["secrets"]), c["id"]


@pytest.mark.parametrize("context", CORPUS, ids=[c["id"] for c in CORPUS])
def test_the_redactor_leaves_no_piece(context):
    out = redact.redact_text(context["text"])
    assert pieces_leaked(context, out) == [], out
    assert redact.TOKEN_RE.search(out)
    # The text around the secrets stays: redaction replaces values, not lines.
    background = context["text"]
    for secret in context["secrets"]:
        background = background.replace(secret, " ")
    words = set(re.findall(r"[A-Za-z]{4,}", background))
    kept = {w for w in words if w in out}
    assert len(kept) >= 0.6 * len(words), sorted(words - kept)


def _report_with(text: str):
    """A report whose every kind of field carries the raw text, as a careless rule might put it."""
    root = mount_failure(
        title=f"Mount failed: {text.splitlines()[0]}",
        explanation=f"The driver said:\n{text}",
        evidence=(EvidenceItem("logs/scorer/scorer.log:12", text), EvidenceItem(f"kubernetes/events.json#{text.splitlines()[0]}", text)),
        fix=Fix(summary=f"Rotate: {text}", steps=(text,), verify=(f"echo '{text}'",)),
    )
    return make_report([root], notes=(text,))


@pytest.mark.parametrize("context", CORPUS, ids=[c["id"] for c in CORPUS])
def test_no_format_leaks_any_piece(context):
    report = _report_with(context["text"])
    for fmt in FORMATS:
        out = render(report, fmt)
        assert pieces_leaked(context, out) == [], fmt
        if fmt in ("json", "sarif"):
            json.loads(out)


def test_pasted_text_leaks_nothing_in_evidence_or_any_format(tmp_path, capsys):
    files = []
    for c in CORPUS:
        path = tmp_path / f"{c['id']}.txt"
        # Each context inside the kind of text users paste: a failing init() and its log lines.
        path.write_text(
            "Traceback (most recent call last):\n  File \"/var/azureml-app/score.py\", line 14, in init\n"
            f"    connect()\nRuntimeError: cannot connect: {c['text']}\n"
            f"2026-11-20 09:14:02,114 | root | ERROR | {c['text']}\n"
        )
        files.append(str(path))

    ev = from_texts([(Path(f).name, Path(f).read_bytes()) for f in files])
    evidence_text = "\n".join(seg.text for doc in ev.texts for seg in doc.segments)
    leaks = {c["id"]: pieces_leaked(c, evidence_text) for c in CORPUS}
    assert {k: v for k, v in leaks.items() if v} == {}
    assert ev.redaction.total >= len(CORPUS)

    outputs = {}
    for fmt in FORMATS:
        args = ["analyze", *[a for f in files for a in ("--text", f)], "-o", fmt, "--fail-on", "never"]
        code = cli.main(args)
        out, err = capsys.readouterr()
        assert code == 0, err
        outputs[fmt] = out + err
    leaks = {(c["id"], fmt): pieces_leaked(c, text) for c in CORPUS for fmt, text in outputs.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    summary = json.loads(outputs["json"])["redaction"]
    assert summary["total"] >= len(CORPUS) and summary["rules"]
    assert re.search(r"Redacted \d+ secrets", outputs["text"])


def test_the_pasted_text_check_would_see_a_leak(tmp_path, capsys, monkeypatch):
    """The end-to-end check is not vacuous: without redaction the report quotes the secrets."""
    monkeypatch.setattr(redact, "redact_text", lambda text: text)
    monkeypatch.setattr(redact, "redact_object", lambda obj: obj)
    monkeypatch.setattr("aml_doctor.reports.sanitize.redact_text", lambda text: text)
    import aml_doctor.reports.markdown as md

    monkeypatch.setattr(md, "redact_text", lambda text: text)
    c = next(c for c in CORPUS if c["id"] == "storage-connection-string")
    path = tmp_path / "pasted.txt"
    path.write_text(
        "Traceback (most recent call last):\n  File \"/var/azureml-app/score.py\", line 14, in init\n"
        f"    connect()\nRuntimeError: cannot connect: {c['text']}\n"
    )
    cli.main(["analyze", "--text", str(path), "-o", "md", "--fail-on", "never"])
    assert pieces_leaked(c, capsys.readouterr().out)


def test_a_long_text_is_redacted_exactly_as_its_pieces_say(monkeypatch):
    # Past redact.POSITIONS_FROM characters, the rules' windows come from the phrase scan's
    # positions instead of a find pass per phrase; both ways must give the same spans. The text
    # holds every context, with log lines between that carry phrases but no secret.
    filler = "2026-11-20 09:14:02 | root | INFO | key rotation scheduled; token cache -p warm --verbose\n" * 40
    text = filler.join(c["text"] + "\n" for c in CORPUS) * 3
    assert len(text) > redact.POSITIONS_FROM
    fast = redact.secret_spans(text)
    monkeypatch.setattr(redact, "POSITIONS_FROM", 10 * len(text))
    slow = redact.secret_spans(text)
    assert fast == slow and len(fast) >= len(CORPUS)
