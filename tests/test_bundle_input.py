"""Bad input: every damaged or hostile bundle gets one clear line and a documented exit code,
never a traceback, and nothing is written outside -o."""

import io
import json
import os
import tarfile
import zipfile

import pytest

from aml_doctor.common.exitcodes import ExitCode
from aml_doctor.testing import BundleBuilder, crashloop_pod

MANIFEST = json.dumps({"format_version": 1, "service": "scorer", "namespace": "azureml-ws1", "workspace": "ws1"})


def _tar(path, members):
    """members: list of (name, bytes | None, kind, linkname)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, kind, link in members:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, link
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def _no_traceback(result):
    assert "Traceback" not in result.err and "Traceback" not in result.out
    lines = [l for l in result.err.splitlines() if l.strip()]
    assert len(lines) == 1, result.err
    return lines[0]


def test_missing_manifest_is_usage_error(cli, tmp_path):
    bundle = tmp_path / "b"
    (bundle / "kubernetes").mkdir(parents=True)
    (bundle / "kubernetes" / "pods.json").write_text('{"kind": "List", "items": []}')
    result = cli("analyze", str(bundle))
    assert result.code == ExitCode.USAGE_ERROR
    line = _no_traceback(result)
    assert "no manifest.json" in line and str(bundle) in line


def test_truncated_manifest_is_usage_error_naming_the_file(cli, tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(MANIFEST[:25])
    result = cli("analyze", str(bundle))
    assert result.code == ExitCode.USAGE_ERROR
    line = _no_traceback(result)
    assert "manifest.json" in line and "invalid JSON" in line


def test_one_damaged_piece_is_not_checked_and_the_rest_is_analysed(cli, tmp_path):
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    b.log("x", "y", "irrelevant")
    path = b.write(tmp_path / "b")
    with open(os.path.join(path, "kubernetes", "events.json"), "w") as fh:
        fh.write('{"apiVersion": "v1", "items": [{"kind": "Event", "reason": "FailedMo')
    result = cli("analyze", path, "--format", "json")
    assert result.code == ExitCode.FINDINGS, result.err
    report = json.loads(result.out)
    reasons = " ".join(n["reason"] for n in report["not_checked"]) + " ".join(report["notes"])
    assert "kubernetes/events.json" in reasons and "invalid JSON" in reasons
    assert any(f["rule"] == "AML004" for f in report["findings"])  # pods.json was still read


def test_non_utf8_bytes_in_a_log_are_replaced_and_noted(tmp_path):
    from aml_doctor.evidence import store as evidence

    b = BundleBuilder(service="scorer", workspace="ws1")
    path = b.write(tmp_path / "b")
    os.makedirs(os.path.join(path, "logs", "p"), exist_ok=True)
    with open(os.path.join(path, "logs", "p", "c.log"), "wb") as fh:
        fh.write(b"Invoking user's init function\n\xff\xfe\x80 garbage \xc3\x28\nUser's init function failed\n")
    ev = evidence.load(path)
    doc = ev.container_logs()[0]
    assert doc.first("User's init function failed").line_no == 3
    assert "\ufffd" in doc.line(2)
    assert any("not UTF-8" in n for n in ev.notes)


@pytest.mark.parametrize(
    "members, expected",
    [
        ([("manifest.json", MANIFEST.encode(), "file", ""), ("../evil.txt", b"x", "file", "")], "'..'"),
        ([("manifest.json", MANIFEST.encode(), "file", ""), ("/etc/evil.txt", b"x", "file", "")], "absolute path"),
        ([("manifest.json", MANIFEST.encode(), "file", ""), ("logs/p/c.log", None, "sym", "/etc/passwd")], "link pointing outside"),
        ([("manifest.json", MANIFEST.encode(), "file", ""), ("logs/p/c.log", None, "sym", "../../../etc/passwd")], "link pointing outside"),
        ([("manifest.json", MANIFEST.encode(), "file", ""), ("text/x.txt", None, "hard", "../../etc/passwd")], "link pointing outside"),
    ],
    ids=["dotdot", "absolute", "symlink-absolute", "symlink-relative-out", "hardlink-out"],
)
def test_hostile_tar_members_reject_the_archive(cli, tmp_path, members, expected):
    archive = _tar(str(tmp_path / "hostile.tar.gz"), members)
    before = set(os.listdir(tmp_path))
    result = cli("analyze", archive)
    assert result.code == ExitCode.USAGE_ERROR
    line = _no_traceback(result)
    assert expected in line and "hostile.tar.gz" in line
    assert set(os.listdir(tmp_path)) == before  # nothing extracted anywhere
    assert not (tmp_path.parent / "evil.txt").exists()


def test_zip_with_dotdot_member_is_rejected(cli, tmp_path):
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", MANIFEST)
        zf.writestr("../../evil.txt", "x")
    result = cli("analyze", str(archive))
    assert result.code == ExitCode.USAGE_ERROR
    assert "'..'" in _no_traceback(result)


def test_zip_bomb_is_refused_without_expanding_it(cli, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("manifest.json", MANIFEST)
        with zf.open("logs/p/c.log", "w", force_zip64=True) as member:
            block = b"\0" * (16 * 1024 * 1024)
            for _ in range(64):  # 1 GiB of zeros, about 1 MB compressed
                member.write(block)
    assert archive.stat().st_size < 5 * 1024 * 1024
    result = cli("analyze", str(archive))
    assert result.code == ExitCode.USAGE_ERROR
    assert "archive bomb" in _no_traceback(result)


def test_zip_member_lying_about_its_size_is_caught(tmp_path):
    """A header that understates the member's size must not let it expand past the budget."""
    from aml_doctor.evidence import bundle

    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", MANIFEST)
        zf.writestr("text/a.txt", "A" * 100_000)
    data = bytearray(archive.read_bytes())
    # Patch the central directory's uncompressed size of text/a.txt down to 10 bytes.
    cd = data.rfind(b"PK\x01\x02")
    assert data[cd + 46 : cd + 56] == b"text/a.txt"
    data[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    from aml_doctor.evidence import store as evidence

    with pytest.raises(bundle.BundleError, match="liar.zip"):
        evidence.load(str(archive))


def test_truncated_tar_gz_is_a_clear_error(cli, tmp_path):
    archive = _tar(str(tmp_path / "ok.tar.gz"), [("manifest.json", MANIFEST.encode(), "file", ""), ("text/a.txt", os.urandom(200_000), "file", "")])
    data = open(archive, "rb").read()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = cli("analyze", str(cut))
    assert result.code == ExitCode.USAGE_ERROR
    line = _no_traceback(result)
    assert "cut.tar.gz" in line and ("truncated" in line or "damaged" in line)


def test_not_a_bundle(cli, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(1000))
    result = cli("analyze", str(junk))
    assert result.code == ExitCode.USAGE_ERROR
    assert "not a bundle" in _no_traceback(result)


def test_missing_path(cli, tmp_path):
    result = cli("analyze", str(tmp_path / "nope"))
    assert result.code == ExitCode.USAGE_ERROR
    assert "no such file or directory" in _no_traceback(result)


def test_archive_with_a_top_folder_reads_like_a_directory(tmp_path):
    from aml_doctor.evidence import store as evidence

    archive = _tar(
        str(tmp_path / "b.tar.gz"),
        [("mybundle/manifest.json", MANIFEST.encode(), "file", ""), ("mybundle/text/x.txt", b"hello\n", "file", "")],
    )
    ev = evidence.load(archive)
    assert ev.service == "scorer"
    assert [d.path for d in ev.texts] == ["text/x.txt"]


def test_directory_symlink_pointing_out_is_refused(cli, tmp_path):
    b = BundleBuilder(service="scorer", workspace="ws1")
    path = b.write(tmp_path / "b")
    os.makedirs(os.path.join(path, "text"), exist_ok=True)
    os.symlink("/etc/hostname", os.path.join(path, "text", "x.txt"))
    result = cli("analyze", path)
    assert result.code == ExitCode.USAGE_ERROR
    assert "link pointing outside" in _no_traceback(result)


def test_output_goes_only_where_asked(cli, tmp_path):
    b = BundleBuilder(service="scorer", workspace="ws1")
    b.add("pods", crashloop_pod("scorer", "azureml-ws1"))
    path = b.write(tmp_path / "b")
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "report.md"
    result = cli("analyze", path, "--format", "md", "--output-file", str(out))
    assert result.code == ExitCode.FINDINGS
    assert out.read_text().startswith("#")
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["report.md"])
    missing_dir = cli("analyze", path, "--output-file", str(tmp_path / "nodir" / "r.md"))
    assert missing_dir.code == ExitCode.USAGE_ERROR
    assert "does not exist" in _no_traceback(missing_dir)


def test_huge_log_is_read_in_bounded_memory_and_keeps_the_failure(tmp_path):
    """200 MB of access-log lines with one init traceback in the middle: the traceback is found at
    its true line number, and the process stays far below the log's size in memory."""
    import subprocess
    import sys

    b = BundleBuilder(service="scorer", workspace="ws1")
    path = b.write(tmp_path / "b")
    log_dir = os.path.join(path, "logs", "scorer-7d9c4b8f6b-2xk9p")
    os.makedirs(log_dir)
    line = '127.0.0.1 - - [20/Nov/2026:09:15:01 +0000] "POST /score HTTP/1.0" 200 27 "-" "python-requests/2.31.0"\n'
    block = line * 20000
    blocks = 200 * 1024 * 1024 // len(block)
    traceback_at = None
    with open(os.path.join(log_dir, "scorer.previous.log"), "w") as fh:
        for i in range(blocks):
            fh.write(block)
            if i == blocks // 2:
                traceback_at = (i + 1) * 20000 + 2
                fh.write(
                    "User's init function failed\n"
                    "Encountered Exception Traceback (most recent call last):\n"
                    '  File "/var/azureml-app/score.py", line 12, in init\n'
                    "    model = joblib.load(path)\n"
                    "KeyError: 'MODEL_NAME'\n"
                )
    code = (
        "import json, sys\n"
        "from aml_doctor.evidence import store as evidence\n"
        "from aml_doctor.engine.plugins import load_plugins\n"
        "from aml_doctor.engine.runner import analyze, signals_for\n"
        "l = load_plugins()\n"
        "r = analyze(evidence.load(sys.argv[1], signals_for(l.rules)), l.rules)\n"
        "f = [x.finding for x in r.findings if x.finding.rule == 'AML004'][0]\n"
        "print(json.dumps({'title': f.title, 'locators': [e.locator for e in f.evidence], 'notes': list(r.notes),"
        " 'rss_kb': int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))}))\n"
    )
    # The peak is the child's own VmHWM: its ru_maxrss would carry this test process's peak, which
    # Linux keeps across fork and exec, and which depends on the tests that ran before.
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "KeyError" in result["title"] and "score.py line 12" in result["title"]
    assert f"logs/scorer-7d9c4b8f6b-2xk9p/scorer.previous.log:{traceback_at}" in result["locators"]
    assert any("partly read" in n for n in result["notes"])
    assert result["rss_kb"] < 150 * 1024  # the log alone is 200 MiB
