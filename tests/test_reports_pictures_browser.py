"""The stage strip, the event time line and the fleet's health chart in a real browser.

Headless Debian Chromium (apt-get install -y chromium; the tests skip without it). The DOM test
reads what the browser built; the screenshot test finds the strip's colours on the rendered page
where the strip is; the network test shows that opening a page with its pictures asks for nothing.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from report_factory import Page
from test_reports_browser import CHROMIUM, chromium, page_requests, write

from aml_doctor.cli import pipeline as cli
from aml_doctor.evidence import store as evidence
from aml_doctor.cli.config import Config
from aml_doctor.engine.plugins import load_plugins
from aml_doctor.reports import render

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")

SCENARIO = Path(__file__).parent / "scenarios" / "crashloop-init-keyerror"
PASSED_FILL = (0xDA, 0xFB, 0xE1)  # svg.strip .state-passed rect
FAILED_STROKE = (0xB4, 0x23, 0x18)  # --high: the failed chip's outline and the root-cause mark


class _Loaded:
    errors = ()


@pytest.fixture(scope="module")
def report():
    return cli.diagnose(evidence.load(str(SCENARIO)), load_plugins().rules, Config(), _Loaded())


def test_the_browser_builds_the_strip_and_the_time_line(tmp_path, report):
    page = write(tmp_path, "report.html", render(report, "html"))
    dom = Page(chromium(tmp_path, page, "--dump-dom"))
    chips = [attrs for tag, attrs in dom.elements if tag == "g" and "data-stage" in attrs]
    assert [c["data-stage"] for c in chips] == ["build", "schedule", "pull", "mount", "download", "init", "probes", "run"]
    states = {c["data-stage"]: c["data-state"] for c in chips}
    assert states["init"] == "failed" and states["download"] == "passed" and states["run"] == "not_reached"
    assert [c["data-stage"] for c in chips if "marked" in c["class"].split()] == ["init"]
    events = [attrs for tag, attrs in dom.elements if tag == "g" and attrs.get("class", "").startswith("event ")]
    assert len(events) == len(report.events) and any(e["data-type"] == "Warning" for e in events)
    text = dom.all_text()
    for word in ("init()", "failed here", "not reached", "root cause", "Back-off restarting failed container"):
        assert word in text  # the pictures say it in words, for print and for no colour
    assert "script" not in dom.tags()


def test_opening_the_pictures_requests_nothing(tmp_path, report):
    page = write(tmp_path, "report.html", render(report, "html"))
    chromium(tmp_path, page, f"--log-net-log={tmp_path / 'net.json'}", "--dump-dom")
    assert page_requests(tmp_path / "net.json") == []


def _rgb_rows(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Decode an 8-bit RGB or RGBA PNG (the kind Chromium writes) into rows of pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos: pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8: pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1: i + 1 + stride])
        i += 1 + stride
        for x in range(stride):  # PNG's five scanline filters (RFC 2083, 6)
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append([tuple(line[x: x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def test_screenshot_shows_the_strip_at_the_top_of_the_page(tmp_path, report):
    page = write(tmp_path, "report.html", render(report, "html"))
    shot = tmp_path / "top.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1100,700")
    width, height, rows = _rgb_rows(shot.read_bytes())
    assert (width, height) == (1100, 700)
    counts = {PASSED_FILL: 0, FAILED_STROKE: 0}
    first_row = {}
    for y, row in enumerate(rows):
        for pixel in row:
            if pixel in counts:
                counts[pixel] += 1
                first_row.setdefault(pixel, y)
    # Five passed chips filled green and one failed chip outlined red, on the first screen.
    assert counts[PASSED_FILL] > 5 * 2000, counts
    assert counts[FAILED_STROKE] > 300, counts
    # The strip is in the page header: above the root-cause card, within the first screen.
    assert first_row[PASSED_FILL] < 600 and first_row[FAILED_STROKE] < 650


def test_fleet_index_chart_and_unwrapped_table(tmp_path, report):
    from aml_doctor.cli.fleet import FleetRow
    from aml_doctor.reports.fleet import render_fleet

    long_name = "a-service-with-a-rather-long-kubernetes-name"
    rows = [FleetRow(long_name, "azureml-a-workspace-namespace", "CrashLoopBackOff: 7 restart(s)", "root_cause_found",
                     report.findings[0].finding.title, "AML004", "3d", report),
            FleetRow("ok-svc", "azureml-a-workspace-namespace", "Running, ready (1/1)", "no_problem_found", "", "", "41d")]
    page = write(tmp_path, "index.html", render_fleet(rows, "html", title="fleet"))
    dom = Page(chromium(tmp_path, page, "--window-size=700,900", "--dump-dom"))
    bars = [a for t, a in dom.elements if t == "g" and "data-verdict" in a]
    assert [(b["data-verdict"], b["data-count"]) for b in bars] == [("root_cause_found", "1"), ("no_problem_found", "1")]
    assert "root cause found" in dom.all_text() and "no problem found" in dom.all_text()
    # No word breaks across lines. Measured in the browser on a copy of the page with a probe
    # script added (the report itself has none, and its CSP would block one): every word of every
    # cell must lie on one line box, and the short columns on one line altogether.
    html = page.read_text()
    html = html.replace('<meta http-equiv="Content-Security-Policy"', '<meta name="csp-removed-for-the-probe"')
    probe = """<script>
    const broken = [], wrapped = [];
    // Line boxes: rect tops more than 8 px apart (a badge's padding moves its box by a few px).
    const lines = r => [...r.getClientRects()].map(x => x.top).sort((a, b) => a - b)
      .filter((t, i, all) => i === 0 || t - all[i - 1] > 8).length;
    for (const td of document.querySelectorAll("td")) {
      const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const re = /\\S+/g; let m;
        while ((m = re.exec(n.data))) {
          const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
          if (lines(r) > 1) broken.push(m[0]);
        }
      }
      if (td.classList.contains("nowrap")) {
        const r = document.createRange(); r.selectNodeContents(td);
        if (lines(r) > 1) wrapped.push(td.textContent.trim());
      }
    }
    const out = document.createElement("pre"); out.id = "probe";
    out.textContent = JSON.stringify({broken, wrapped}); document.body.appendChild(out);
    </script></body>"""
    import json
    import re

    def measure(page_html: str, name: str) -> dict:
        probed = write(tmp_path, name, page_html.replace("</body>", probe))
        dumped = chromium(tmp_path, probed, "--window-size=700,900", "--dump-dom")
        return json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dumped, re.S).group(1).replace("&quot;", '"'))

    assert measure(html, "probed.html") == {"broken": [], "wrapped": []}
    # Control: the old CSS (overflow-wrap: anywhere, no nowrap) does break words on this page.
    old = html.replace("overflow-wrap: normal; word-break: normal;", "overflow-wrap: anywhere;").replace(' class="mono nowrap"', ' class="mono"')
    old = old.replace("td.cause { min-width: 14rem; }", "").replace("td.state { min-width: 10rem; }", "").replace(".table-wrap { overflow-x: auto; }", "")
    assert measure(old, "control.html")["broken"]
