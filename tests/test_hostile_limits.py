"""The documented worst case (docs/limits.md): the worst inputs of the audit, each through the real
command, stay under the stated memory ceiling. Memory is asserted, not time (a loaded machine is
slow); a generous timeout only catches a hang.
"""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import BundleBuilder, crashloop_pod

RSS_CEILING_MIB = 512  # docs/limits.md
LINE = b'127.0.0.1 - - [20/Nov/2026:09:15:01 +0000] "POST /score HTTP/1.0" 200 27 "-" "python-requests/2.31.0" token=abc\n'


def _base(path) -> str:
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    return str(b.write(path))


# Runs the command and, as it exits, writes its own high-water mark of resident memory. VmHWM is
# the new process image's own: wait4's ru_maxrss is not, because Linux carries the forking
# parent's peak across exec (fs/exec.c, setmax_mm_hiwater_rss), and the test process is large.
_MEASURED = (
    "import atexit, runpy, sys\n"
    "out = sys.argv.pop(1)\n"
    "def hwm():\n"
    "    with open('/proc/self/status') as fh, open(out, 'w') as o:\n"
    "        o.write(next(l.split()[1] for l in fh if l.startswith('VmHWM:')))\n"
    "atexit.register(hwm)\n"
    "sys.argv[0] = 'aml-doctor'\n"
    "runpy.run_module('aml_doctor', run_name='__main__')\n"
)


def _peak_rss_mib(args: list[str], tmp_dir: str) -> tuple[int, float, str]:
    """Run the command; its exit code, its own peak resident memory in MiB, its stderr."""
    out = os.path.join(tmp_dir, "vmhwm.txt")
    proc = subprocess.run([sys.executable, "-c", _MEASURED, out, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=900)
    with open(out) as fh:
        peak_kib = int(fh.read())
    return proc.returncode, peak_kib / 1024, proc.stderr.decode(errors="replace")


def _write_repeated(path: str, size: int, block: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    chunk = block * max(1, (1 << 20) // len(block))
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            fh.write(chunk)
            written += len(chunk)


@pytest.fixture(scope="module")
def worst(tmp_path_factory):
    root = tmp_path_factory.mktemp("worst")
    cases = {}
    # One log line of 1 GiB (a sparse file: NUL bytes, no newline).
    one_line = _base(root / "one-line")
    os.makedirs(os.path.join(one_line, "logs", "scorer-pod"), exist_ok=True)
    with open(os.path.join(one_line, "logs", "scorer-pod", "scorer.log"), "wb") as fh:
        fh.truncate(1 << 30)
    cases["one 1 GiB line"] = one_line
    # A directory of 40 logs of 15 MB: 600 MB of ordinary lines.
    many = _base(root / "many-logs")
    for i in range(40):
        _write_repeated(os.path.join(many, "logs", f"scorer-{i:02d}", "scorer.log"), 15 * 10**6, LINE)
    cases["40 logs of 15 MB"] = many
    # A 1.8 GB tar within the 2 GiB budget (its members sparse files, so making it is quick; the
    # tar itself is written and read in full).
    tar_src = _base(root / "tar-src")
    for i in range(3):
        os.makedirs(os.path.join(tar_src, "logs", f"big-{i}"))
        with open(os.path.join(tar_src, "logs", f"big-{i}", "scorer.log"), "wb") as fh:
            fh.truncate(600 * 10**6)
    tar_path = str(root / "big.tar")
    with tarfile.open(tar_path, "w") as tf:
        tf.add(tar_src, arcname="bundle")
    cases["1.8 GB tar"] = tar_path
    # JSON nested 100,000 deep, and a YAML alias bomb.
    deep = _base(root / "deep")
    with open(os.path.join(deep, "kubernetes", "events.json"), "w") as fh:
        fh.write('{"kind": "List", "items": ' + "[" * 100_000 + "]" * 100_000 + "}")
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                     + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)])
    with open(os.path.join(deep, "kubernetes", "pods.yaml"), "w") as fh:
        fh.write(bomb)
    cases["deep JSON and an alias bomb"] = deep
    yield cases
    import shutil

    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("case", ["one 1 GiB line", "40 logs of 15 MB", "1.8 GB tar", "deep JSON and an alias bomb"])
def test_the_worst_inputs_stay_under_the_memory_ceiling(worst, case, tmp_path):
    code, rss, err = _peak_rss_mib(["analyze", worst[case], "--format", "json"], str(tmp_path))
    assert "Traceback" not in err
    assert code not in (ExitCode.INTERNAL_ERROR, ExitCode.USAGE_ERROR), err
    assert rss < RSS_CEILING_MIB, f"{case}: peak RSS {rss:.0f} MiB"


def test_docs_limits_states_the_numbers_the_code_uses():
    """docs/limits.md is the promise: its numbers are the code's."""
    from pathlib import Path

    from aml_doctor.engine import runner as engine, plugins, rule
    from aml_doctor.evidence import bundle, store as evidence, textdoc
    from aml_doctor.collect import kubernetes, storage

    doc = (Path(__file__).resolve().parent.parent / "docs" / "limits.md").read_text()
    assert f"**{RSS_CEILING_MIB} MiB**" in doc
    assert f"**{bundle.MAX_EXPANDED_BYTES // 2**30} GiB**" in doc
    assert f"**{evidence.MAX_KEPT_TEXT_CHARS // 2**20} MiB** of text" in doc
    assert f"**{textdoc.MAX_LINE_CHARS // 1024} KiB**" in doc and f"{textdoc.LINE_KEEP // 1024} KiB" in doc
    assert f"**{textdoc.COMMON_HITS:,}** lines" in doc
    assert f"**{rule.MAX_FINDINGS_PER_RULE} findings**" in doc
    assert f"**{rule.MAX_EVIDENCE_BYTES_PER_FINDING // 1024} KiB**" in doc
    assert f"({int(engine.RULE_TIMEOUT)} s)" in doc and f"({int(plugins.PLUGIN_TIMEOUT)} s)" in doc
    assert f"{int(engine.RULES_GRACE)} s" in doc
    assert f"**{kubernetes.MAX_OBJECT_BYTES // 2**20} MiB**" in doc and f"**{kubernetes.MAX_LOG_BYTES // 2**20} MiB**" in doc
    assert f"{storage.MAX_LISTED_BLOBS:,} names" in doc
