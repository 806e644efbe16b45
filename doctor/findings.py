"""The report model: frozen dataclasses that flow from rules, through ranking, into renderers.

Nothing here formats output. Renderers in ``aml_doctor.reports`` turn a :class:`Report` into
Markdown, HTML, JSON and the rest; every format gets the same findings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    """How bad a finding is. Ordered: ``Severity.INFO < Severity.CRITICAL``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __lt__(self, other: "Severity") -> bool:
        return self.rank < other.rank

    def __le__(self, other: "Severity") -> bool:
        return self.rank <= other.rank

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {names})") from None


_SEVERITY_ORDER = list(Severity)


class Category(enum.Enum):
    """The root-cause categories (``aml-doctor rules`` shows each rule's). A finding carries exactly one."""

    IMAGE_BUILD_FAILURE = "image_build_failure"
    IMAGE_PULL_FAILURE = "image_pull_failure"
    VOLUME_MOUNT_FAILURE = "volume_mount_failure"
    MODEL_NOT_FOUND = "model_not_found"
    ENTRY_SCRIPT_INIT_ERROR = "entry_script_init_error"
    ENTRY_SCRIPT_IMPORT_ERROR = "entry_script_import_error"
    ENTRY_SCRIPT_RUN_ERROR = "entry_script_run_error"
    CRASH_LOOP_OTHER = "crash_loop_other"
    OOM_KILLED = "oom_killed"
    INSUFFICIENT_RESOURCES_UNSCHEDULABLE = "insufficient_resources_unschedulable"
    WRONG_PORT_OR_PROBE_FAILURE = "wrong_port_or_probe_failure"
    GATEWAY_TIMEOUT_OR_ROUTER_ERROR = "gateway_timeout_or_router_error"
    AUTH_ERROR = "auth_error"
    QUOTA_EXCEEDED = "quota_exceeded"
    CLUSTER_OR_COMPUTE_UNHEALTHY = "cluster_or_compute_unhealthy"
    DEPENDENCY_VERSION_CONFLICT = "dependency_version_conflict"
    OTHER = "other"


class Stage(enum.IntEnum):
    """Where in a v1 deployment a failure happens, in the order the deployment goes through them.

    Ranking puts the earliest failing stage first: a pod cannot crash in ``init()`` before its
    volume mounted, so the mount failure explains the crash. Stages from ``CONTAINER`` on are
    symptoms: they say *that* something failed, never *why*.
    """

    CLUSTER = 10  # the compute, the extension or azureml-fe; quota; the control plane
    BUILD = 20  # the environment image build
    SCHEDULE = 30  # placing the pod on a node
    PULL = 40  # pulling the image onto the node
    MOUNT = 50  # mounting the blobfuse volume with model and code
    DOWNLOAD = 60  # model and code files reaching /var/azureml-app
    INIT = 70  # importing score.py and running init()
    PROBE = 80  # liveness and readiness probes, ports
    RUN = 90  # run() and the request path through azureml-fe
    CONTAINER = 100  # symptom: the container restarts, crash-loops, is not ready
    SERVICE = 110  # symptom: the service state (Unhealthy, Failed) or a generic deployment error
    OPERATION = 120  # symptom: the deployment operation gave up (DeploymentTimedOut)

    @property
    def is_symptom(self) -> bool:
        return self >= Stage.CONTAINER

    @property
    def label(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.CLUSTER: "cluster and compute",
    Stage.BUILD: "image build",
    Stage.SCHEDULE: "scheduling",
    Stage.PULL: "image pull",
    Stage.MOUNT: "volume mount",
    Stage.DOWNLOAD: "model and code download",
    Stage.INIT: "init()",
    Stage.PROBE: "probes and ports",
    Stage.RUN: "run() and requests",
    Stage.CONTAINER: "container (symptom)",
    Stage.SERVICE: "service state (symptom)",
    Stage.OPERATION: "deployment operation (symptom)",
}


@dataclass(frozen=True)
class EvidenceItem:
    """One excerpt and where it came from.

    ``locator`` points into the bundle: ``logs/<pod>/<container>.log:42`` for a line,
    ``kubernetes/pods.json#<pod>/status.containerStatuses[0].lastState`` for an object field.
    """

    locator: str
    excerpt: str


@dataclass(frozen=True)
class Fix:
    """What to do, as concrete steps, and how to tell that it worked."""

    summary: str
    steps: tuple[str, ...] = ()
    verify: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    category: Category
    severity: Severity
    stage: Stage
    confidence: float
    title: str
    explanation: str
    subject: str
    evidence: tuple[EvidenceItem, ...]
    fix: Fix
    links: tuple[str, ...] = ()
    # When the evidence fits more than one category: the runner-up categories and what would decide.
    alternatives: tuple[Category, ...] = ()
    decide: str = ""
    plugin: str = ""
    # The rule's failure mode (its sub-id), "" for a rule of one mode.
    mode: str = ""

    @property
    def is_symptom(self) -> bool:
        return self.stage.is_symptom

    @property
    def rule_mode(self) -> str:
        """``AML004[import-error]``, or the rule id alone for a rule of one mode."""
        return f"{self.rule}[{self.mode}]" if self.mode else self.rule

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


@dataclass(frozen=True)
class RankedFinding:
    """A finding in the report's order, with its place in the causal chain."""

    finding: Finding
    rank: int
    # ``key`` of the finding that explains this one; empty for a root cause.
    explained_by: str = ""


@dataclass(frozen=True)
class NotChecked:
    """A rule that did not run. It never counts as a pass."""

    rule: str
    name: str
    reason: str


@dataclass(frozen=True)
class RuleError:
    rule: str
    plugin: str
    error: str


@dataclass(frozen=True)
class CollectionGap:
    """Evidence the collector could not get, from the bundle's manifest."""

    what: str
    error: str


@dataclass(frozen=True)
class RedactionSummary:
    """What redaction replaced before anything was analysed or written: how many secrets of each
    kind, which rules fired how often, and (with --anonymize) how many identifiers of each kind
    were replaced. Never the values."""

    total: int = 0
    kinds: tuple[tuple[str, int], ...] = ()
    rules: tuple[tuple[str, int], ...] = ()
    anonymized: tuple[tuple[str, int], ...] = ()


class Verdict(enum.Enum):
    ROOT_CAUSE_FOUND = "root_cause_found"
    # The first finding is a cause, but its evidence is weak: a lead to confirm, not a diagnosis.
    POSSIBLE_CAUSE = "possible_cause"
    SYMPTOMS_ONLY = "symptoms_only"
    # Error-looking text that no rule explains, or evidence that shows neither failure nor health:
    # never reported as "no problem found".
    UNRECOGNISED = "unrecognised"
    # Said only when the evidence shows health and nothing failing.
    NO_PROBLEM_FOUND = "no_problem_found"


@dataclass(frozen=True)
class PossibleCause:
    """A candidate root cause for evidence that shows only a symptom, or nothing a rule explains.

    Never a diagnosis: ``share`` is how often this category was the established cause among real
    cases that looked like this one, and ``confirm`` is the one command that would confirm or rule it out.
    """

    category: Category
    share: float
    why: str
    confirm: str


@dataclass(frozen=True)
class KnownIssue:
    """A public report whose evidence matches this one: "seen before", with that thread's own fix."""

    case_id: str
    source: str
    thread: str
    date: str
    category: Category
    cause: str
    fix: str
    score: float
    matched: str  # the line of this evidence that matched the case


@dataclass(frozen=True)
class TimelineEvent:
    """One Kubernetes event as the report's time line shows it."""

    time: str  # RFC 3339, as the API server wrote it; "" when the event has none
    type: str  # Normal or Warning
    reason: str  # Scheduled, Pulling, FailedMount, BackOff...
    object: str  # Pod/name
    message: str
    count: int = 1


@dataclass(frozen=True)
class Report:
    service: str
    namespace: str
    workspace: str
    source: str
    collected_at: str
    collector: str
    tool_version: str
    verdict: Verdict
    findings: tuple[RankedFinding, ...]
    not_checked: tuple[NotChecked, ...] = ()
    rule_errors: tuple[RuleError, ...] = ()
    plugin_errors: tuple[RuleError, ...] = ()
    collection_gaps: tuple[CollectionGap, ...] = ()
    notes: tuple[str, ...] = ()
    rules_run: int = 0
    redaction: RedactionSummary = RedactionSummary()
    # Error-looking lines that no finding explains, and the evidence that would decide.
    unexplained: tuple[EvidenceItem, ...] = ()
    next_evidence: tuple[str, ...] = ()
    possible_causes: tuple[PossibleCause, ...] = ()
    known_issues: tuple[KnownIssue, ...] = ()
    platform: str = ""  # aks_v1, aci_v1, k8s_online_v2, managed_online_v2, or "" when not told
    # The stage the service's least advanced pod has reached, from the pods' state; None without pods.
    reached: Stage | None = None
    # The ids of the rules that ran (a JUnit testcase each: a rule that found nothing passed).
    rules_ran: tuple[str, ...] = ()
    # The Kubernetes events of the evidence, oldest first, for the report's time line.
    events: tuple[TimelineEvent, ...] = ()

    @property
    def root_cause(self) -> Finding | None:
        if self.findings and not self.findings[0].finding.is_symptom:
            return self.findings[0].finding
        return None
