"""The HTML report in a real browser: headless Debian Chromium.

CI installs it with `apt-get install -y chromium`; without /usr/bin/chromium these tests skip.
The browser is real; nothing is mocked.
"""

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from aml_doctor.reports import render
from report_factory import IMG, SCRIPT, Page, hostile_report, make_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)

# As root, in a closed network: no sandbox, and none of Chromium's own background traffic. Every
# host name resolves to nothing, so even a request that slipped through could not leave the machine.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    result = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,  # the assert below shows Chromium's stderr
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def write(tmp_path: Path, name: str, html: str) -> Path:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def test_hostile_evidence_stays_text_in_the_dom(tmp_path):
    page = write(tmp_path, "hostile.html", render(hostile_report(), "html"))
    dom = Page(chromium(tmp_path, page, "--dump-dom"))
    assert dom.elements, "the browser printed no DOM"
    assert not dom.tags() & {"script", "img"}
    text = dom.all_text()
    assert SCRIPT in text
    assert IMG in text


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for: requests made for a document opened from a file (Chromium's own
    background requests, made for no page, are not the report's doing)."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start_job
        and "url" in e.get("params", {})
        and e["params"].get("network_isolation_key", "").startswith("file://")
    ]


def test_opening_the_report_requests_nothing(tmp_path):
    # Control: the same check sees a page that does load something, so it can fail.
    control = write(tmp_path, "control.html", '<!doctype html><p>x</p><img src="http://example.invalid/x.png">')
    chromium(tmp_path, control, f"--log-net-log={tmp_path / 'control.json'}", "--dump-dom")
    assert page_requests(tmp_path / "control.json") == ["http://example.invalid/x.png"]

    page = write(tmp_path, "report.html", render(hostile_report(), "html"))
    chromium(tmp_path, page, f"--log-net-log={tmp_path / 'report.json'}", "--dump-dom")
    assert page_requests(tmp_path / "report.json") == []


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_screenshot_shows_a_rendered_page(tmp_path):
    page = write(tmp_path, "report.html", render(make_report(), "html"))
    shot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,2000")
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    # A blank or single-colour page compresses to almost nothing and uses few byte values.
    assert shot.stat().st_size > 50_000
    assert len(set(pixels)) > 100


def test_unrecognised_evidence_shows_its_lines_candidates_and_known_issues_in_the_browser(tmp_path):
    # A real paste from the corpus (Azure/azure-sdk-for-python#40575's error line), plus a line no
    # rule knows: the page must show the unexplained line, and a case seen before.
    from aml_doctor.evidence import store as evidence_mod
    from aml_doctor.engine.runner import analyze
    from aml_doctor.engine.plugins import load_plugins

    rules = load_plugins().rules
    text = (
        b"Deploying to the endpoint <script>alert(1)</script>\n"
        b"Error: the frobnicator returned 418 and the deployment failed\n"
    )
    report = analyze(evidence_mod.from_texts([("paste.txt", text)]), rules)
    assert report.verdict.value == "unrecognised"
    page = write(tmp_path, "unrecognised.html", render(report, "html"))
    dom = Page(chromium(tmp_path, page, "--dump-dom"))
    assert "unexplained" in dom.ids() and "next-evidence" in dom.ids()
    assert "frobnicator returned 418" in dom.all_text()
    assert "Not an all-clear." in dom.all_text()
    assert "script" not in dom.tags()

    seen = analyze(evidence_mod.from_texts([("paste.txt", b"ImportError: cannot import name '_T' from 'marshmallow.fields'\n")]), rules)
    assert seen.known_issues
    page = write(tmp_path, "seen.html", render(seen, "html"))
    dom = Page(chromium(tmp_path, page, "--dump-dom"))
    assert "seen-before" in dom.ids()
    links = [attrs.get("href", "") for tag, attrs in dom.elements if tag == "a"]
    assert any(link.startswith("https://github.com/") for link in links)
