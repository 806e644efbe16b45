"""The pictures of the HTML reports, worked out as plain data: the deployment's stage strip, the
time line of its Kubernetes events, and the fleet's health bars.

The templates draw them as inline SVG: no script, nothing loaded, so the reports' Content
Security Policy (``default-src 'none'``) holds. Every state is said in words and symbols as well
as in colour (a cross, a tick, a dashed outline), so the pictures read on paper and without colour
(WCAG 2.1, 1.4.1 "Use of Color": colour is never the only way information is conveyed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aml_doctor.findings import Report, Stage, TimelineEvent, Verdict

from aml_doctor.reports import view

# The v1 deployment's stages, in the order the deployment goes through them (model.Stage).
V1_STAGES = (
    ("build", "build", (Stage.BUILD,)),
    ("schedule", "schedule", (Stage.SCHEDULE,)),
    ("pull", "pull", (Stage.PULL,)),
    ("mount", "mount", (Stage.MOUNT,)),
    ("download", "download", (Stage.DOWNLOAD,)),
    ("init", "init()", (Stage.INIT,)),
    ("probes", "probes", (Stage.PROBE,)),
    ("run", "run()", (Stage.RUN,)),
)
# Online endpoints (v2) have no blobfuse mount: the storage initializer downloads the model, and
# the compute is provisioned (quota, SKU, node pool) before the image is pulled.
# learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints
V2_STAGES = (
    ("build", "build", (Stage.BUILD,)),
    ("provision", "provision", (Stage.CLUSTER, Stage.SCHEDULE)),
    ("pull", "pull", (Stage.PULL,)),
    ("download", "model download", (Stage.MOUNT, Stage.DOWNLOAD)),
    ("init", "init()", (Stage.INIT,)),
    ("probes", "probes", (Stage.PROBE,)),
    ("run", "run()", (Stage.RUN,)),
)

# state -> (symbol, word): the chip shows both, so no state depends on its colour.
STATE_MARKS = {
    "passed": ("✓", "passed"),
    "failed": ("✗", "failed here"),
    "suspected": ("?", "suspected"),
    "not_reached": ("–", "not reached"),
    "unknown": ("?", "not known"),
}

CHIP_WIDTH, CHIP_GAP, CHIP_HEIGHT = 104, 18, 56


@dataclass(frozen=True)
class Chip:
    key: str
    label: str
    state: str
    x: int
    marked: bool  # the root cause's stage
    finding: bool  # another finding (not the root cause) is at this stage

    @property
    def symbol(self) -> str:
        return STATE_MARKS[self.state][0]

    @property
    def word(self) -> str:
        return STATE_MARKS[self.state][1]

    @property
    def center(self) -> int:
        return self.x + CHIP_WIDTH // 2


@dataclass(frozen=True)
class StageStrip:
    chips: tuple[Chip, ...]
    caption: str
    width: int
    height: int = CHIP_HEIGHT + 28
    chip_width: int = CHIP_WIDTH
    chip_height: int = CHIP_HEIGHT


def stage_strip(report: Report) -> StageStrip:
    """Where the deployment got to, and where it failed: the root cause's stage failed, every
    stage before it passed, every one after it was not reached."""
    v2 = report.platform.endswith("_v2")
    stages = V2_STAGES if v2 else V1_STAGES
    root = report.root_cause
    others = {r.finding.stage for r in report.findings if not r.finding.is_symptom and r.finding is not root}
    failed_at = None
    if root is not None:
        failed_at = next((i for i, (_, _, members) in enumerate(stages) if root.stage in members), None)
    # Without a root cause, the pods still show how far the deployment got: the stage they are stuck at.
    stuck_at = None
    if root is None and report.reached is not None and report.verdict is not Verdict.NO_PROBLEM_FOUND:
        stuck_at = next((i for i, (_, _, members) in enumerate(stages) if report.reached in members), None)
    chips = []
    for i, (key, label, members) in enumerate(stages):
        if report.verdict is Verdict.NO_PROBLEM_FOUND and not report.findings:
            state = "passed"
        elif root is None and stuck_at is not None:
            state = "passed" if i < stuck_at else ("suspected" if i == stuck_at else "not_reached")
        elif root is None or failed_at is None:
            state = "unknown"
        elif i < failed_at:
            state = "passed"
        elif i == failed_at:
            state = "suspected" if report.verdict is Verdict.POSSIBLE_CAUSE else "failed"
        else:
            state = "not_reached"
        chips.append(Chip(key, label, state, i * (CHIP_WIDTH + CHIP_GAP), i == failed_at,
                          any(s in members for s in others)))
    if root is not None and failed_at is None:
        caption = f"Failed before the deployment's stages: {root.stage.label} ({root.rule})."
    elif root is not None:
        word = "probably failed" if report.verdict is Verdict.POSSIBLE_CAUSE else "failed"
        caption = f"The deployment {word} at {stages[failed_at][1]} ({root.rule}); the stages after it were not reached."
    elif report.verdict is Verdict.NO_PROBLEM_FOUND and not report.findings:
        caption = "Every stage passed: nothing failing in the evidence."
    elif stuck_at is not None:
        caption = f"The pods got as far as {stages[stuck_at][1]} and stopped there; no rule names the cause."
    else:
        caption = "Where the deployment stopped is not known: " + view.VERDICT_TEXT.get(report.verdict, report.verdict.value).lower() + "."
    width = len(stages) * CHIP_WIDTH + (len(stages) - 1) * CHIP_GAP
    return StageStrip(tuple(chips), caption, width)


# ----------------------------------------------------------------------------- the time line
MAX_ROWS = 40
ROW_HEIGHT = 22
AXIS_WIDTH = 260  # the track the markers sit on, left of the labels
LABEL_X = AXIS_WIDTH + 16
ROW_CHARS = 104


@dataclass(frozen=True)
class TimelineRow:
    y: int
    x: int
    clock: str  # "15:58:10"
    warning: bool
    label: str  # "Warning BackOff Pod/x ×7"
    message: str  # cut to the row's width
    full: str  # the whole message, for the row's tooltip


@dataclass(frozen=True)
class Timeline:
    rows: tuple[TimelineRow, ...]
    start: str
    end: str
    left_out: int
    width: int = 1000
    axis_width: int = AXIS_WIDTH
    label_x: int = LABEL_X

    @property
    def height(self) -> int:
        return len(self.rows) * ROW_HEIGHT + 34


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def timeline(events: tuple[TimelineEvent, ...]) -> Timeline | None:
    """The last MAX_ROWS events on one time axis; None when the evidence has no events."""
    if not events:
        return None
    shown = events[-MAX_ROWS:]
    times = [_parse_time(e.time) for e in shown]
    known = [t for t in times if t is not None]
    first, last = (min(known), max(known)) if known else (None, None)
    span = (last - first).total_seconds() if known else 0.0
    rows = []
    for i, (e, t) in enumerate(zip(shown, times)):
        if t is not None and span > 0:
            x = round((t - first).total_seconds() / span * (AXIS_WIDTH - 20)) + 10
        elif t is not None:
            x = AXIS_WIDTH // 2
        else:  # no time: in order, spread over the axis
            x = round(i / max(1, len(shown) - 1) * (AXIS_WIDTH - 20)) + 10
        clock = t.strftime("%H:%M:%S") if t else "--:--:--"
        warning = e.type.lower() == "warning"
        label = f"{e.type or 'Event'} {e.reason} {e.object}" + (f" ×{e.count}" if e.count > 1 else "")
        # One line of SVG text does not wrap: cut the message where the row ends (about 6.5 px a
        # character at 12 px); the row's <title> keeps the whole of it.
        room = max(24, ROW_CHARS - len(clock) - len(label) - 2)
        message = e.message if len(e.message) <= room else e.message[: room - 1] + "…"
        rows.append(TimelineRow(26 + i * ROW_HEIGHT, x, clock, warning, label, message, e.message))
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return Timeline(tuple(rows), first.strftime(fmt) if first else "", last.strftime(fmt) if last else "",
                    len(events) - len(shown))


# ----------------------------------------------------------------------------- the fleet's health
BAR_MAX = 420
BAR_HEIGHT = 20


@dataclass(frozen=True)
class HealthBar:
    verdict: str
    label: str
    count: int
    y: int
    width: int


@dataclass(frozen=True)
class HealthChart:
    bars: tuple[HealthBar, ...]
    total: int
    height: int
    bar_x: int = 170


def health_chart(by_verdict: dict[str, int], labels: dict[str, str]) -> HealthChart:
    """One bar per verdict, worst first, each with its word and its count beside it."""
    total = sum(by_verdict.values())
    most = max(by_verdict.values(), default=0)
    bars = []
    for i, (verdict, n) in enumerate(by_verdict.items()):
        width = max(4, round(n / most * BAR_MAX)) if most else 0
        bars.append(HealthBar(verdict, labels.get(verdict, verdict), n, 8 + i * (BAR_HEIGHT + 8), width))
    return HealthChart(tuple(bars), total, 16 + len(bars) * (BAR_HEIGHT + 8))
