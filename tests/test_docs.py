"""The docs stay true: every hook is documented in docs/writing-rules.md, and every expectation
key of the case format and every evidence source is named there."""

from pathlib import Path

from aml_doctor.engine import hookspecs
from aml_doctor.evidence.store import SOURCES, KUBERNETES_RESOURCES
from aml_doctor.testing.cases import _EXPECT_KEYS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "writing-rules.md").read_text()


def test_every_hook_is_documented():
    hooks = [name for name in dir(hookspecs) if name.startswith("aml_doctor_")]
    assert hooks
    for name in hooks:
        assert f"`{name}(" in DOC


def test_every_expectation_key_is_documented():
    for key in _EXPECT_KEYS:
        assert f"`{key}`" in DOC, key


def test_every_evidence_source_is_documented():
    for source in SOURCES:
        assert f"`{source}`" in DOC, source
    assert set(KUBERNETES_RESOURCES) <= set(SOURCES)


def test_the_signatures_example_in_the_docs_is_a_valid_signatures_file():
    import re

    import yaml

    from aml_doctor.engine import signatures

    block = re.search(r"```yaml\n# acme002_gpu_pool_required\.signatures\.yml\n(.*?)```", DOC, re.S)
    assert block, "the signatures example is missing from docs/writing-rules.md"
    (sig,) = signatures.parse(yaml.safe_load(block.group(1)), "docs example")
    assert sig.matches_line(sig.example)
