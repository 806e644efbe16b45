"""What a report says beyond its findings: the verdict, the error lines no finding explains, what
to collect next, candidate causes for a bare symptom, and public reports seen before.

The rules decide causes; this module never adds a finding. It reads the ranked findings, the
evidence's error-looking and healthy lines (``errorlines``), the platform the evidence is from
(``targets``), and the shipped real-world knowledge (``knowledge``): the known-issue index and the
base rates of causes per symptom.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from aml_doctor.engine import ranking
from aml_doctor.views import kube, targets
from aml_doctor.views.errorlines import MAX_LINE_CHARS, error_lines, healthy_lines, message_of
from aml_doctor.evidence.store import Evidence
from aml_doctor.findings import Category, EvidenceItem, KnownIssue, PossibleCause, RankedFinding, Stage, Verdict

MAX_POSSIBLE = 4
MATCH_LINES = 24
# Lines are read whole up to this length: a one-line error JSON or a Markdown table row often says
# the cause at its end ("... If 424 comes with liveness or readiness probe failing ..."). The report
# quotes them cut to the display width.
READ_LINE_CHARS = 2000
# A neighbour's vote weighs this much more than the base rate of its symptom: it shares the error text.
NEIGHBOUR_WEIGHT = 2.0
# Beside evidence that points somewhere, the platform's base rates count half a case: a tie-breaker
# that fills the last places of the list.
PRIOR_WEIGHT = 0.5


@dataclass(frozen=True)
class Knowledge:
    """The real-world knowledge a diagnosis may use. Tests and the corpus bench pass their own
    (for example one built without the thread being measured)."""

    index: object  # knowledge.index.Index
    priors: object  # knowledge.priors.Priors


@lru_cache(maxsize=1)
def shipped_knowledge() -> Knowledge:
    from aml_doctor.knowledge import compiled

    return Knowledge(*compiled.load())


@lru_cache(maxsize=1)
def _next_steps() -> dict:
    import importlib.resources

    import yaml

    return yaml.safe_load(importlib.resources.files("aml_doctor.knowledge").joinpath("next_steps.yml").read_text("utf-8"))


def reached_stage(ev: Evidence) -> Stage | None:
    """The least advanced stage among the service's pods (podstage), or None without pods."""
    from aml_doctor.views.podstage import pod_stage

    # Events grouped by pod once: a bundle of 1,000 pods and 10,000 events must not be scanned per pod.
    pod_events: dict[str, list[dict]] = {}
    for e in ev.objects("events"):
        involved = e.get("involvedObject")
        if isinstance(involved, dict) and involved.get("kind") == "Pod":
            pod_events.setdefault(involved.get("name", ""), []).append(e)
    stages = []
    for pod in kube.service_pods(ev):
        name = (pod.get("metadata") or {}).get("name", "")
        stage = pod_stage(pod, pod_events.get(name, [])).stage
        if stage is not None:
            stages.append(stage)
    return min(stages) if stages else None


@dataclass(frozen=True)
class Completion:
    verdict: Verdict
    platform: str
    unexplained: tuple[EvidenceItem, ...]
    next_evidence: tuple[str, ...]
    possible_causes: tuple[PossibleCause, ...]
    known_issues: tuple[KnownIssue, ...]
    reached: Stage | None = None


def complete(ev: Evidence, ranked: tuple[RankedFinding, ...], knowledge: Knowledge | None = None) -> Completion:
    platform = targets.guess(ev)
    errors = error_lines(ev, MATCH_LINES, width=READ_LINE_CHARS)
    cited = _cited(ranked)
    excerpts = "\n".join(e.excerpt for r in ranked for e in r.finding.evidence)
    unexplained = tuple(
        EvidenceItem(line.locator, line.line[:MAX_LINE_CHARS])
        for line in errors
        if line.locator not in cited and message_of(line.line)[:MAX_LINE_CHARS] not in excerpts
    )[:8]
    verdict = ranking.verdict(ranked)
    if verdict is Verdict.NO_PROBLEM_FOUND:
        # Health outweighs a word like "timeout" in a banner, never an outright failure no rule explains.
        healthy = _shows_health(ev)
        # A previous container's log is history once the pods run healthy again.
        current = [line for line in errors if not (".previous.log:" in line.locator and kube.service_healthy(ev))]
        if not healthy or any(line.strong for line in current):
            verdict = Verdict.UNRECOGNISED
    if verdict is Verdict.NO_PROBLEM_FOUND:
        unexplained = ()  # weak words in a healthy service's logs, not errors to show
    knowledge_lines = [line.line for line in errors]
    if not knowledge_lines and verdict is not Verdict.ROOT_CAUSE_FOUND:
        # Prose ("the deployment times out after an hour at 'Installing pip dependencies'") has no
        # error-shaped line, but its words still match the reports it resembles.
        knowledge_lines = _prose_lines(ev)
    knowledge = knowledge or (shipped_knowledge() if knowledge_lines else None)
    cited, neighbours = knowledge.index.lookup(knowledge_lines) if knowledge else ([], [])
    known = _known_issues(cited)
    possible: tuple[PossibleCause, ...] = ()
    if verdict in (Verdict.SYMPTOMS_ONLY, Verdict.UNRECOGNISED, Verdict.POSSIBLE_CAUSE) and knowledge:
        # The base rates were counted over each real case's whole text: the symptoms are read over
        # the error lines and the first lines of the evidence (bounded), not the error lines alone.
        # Without error lines, the knowledge lines are those first lines already.
        seen = set(knowledge_lines)
        first = [line for line in _prose_lines(ev) if line not in seen] if errors else []
        symptom_text = "\n".join(knowledge_lines + first)
        possible = _possible_causes(knowledge, ranked, known, neighbours, symptom_text, platform)
    steps = ()
    if verdict is not Verdict.ROOT_CAUSE_FOUND and verdict is not Verdict.NO_PROBLEM_FOUND:
        steps = tuple(_next_steps()["collect"].get(platform or "unknown", ()))
    return Completion(verdict, platform, unexplained, steps, possible, known, reached_stage(ev))


def _cited(ranked) -> set[str]:
    """The line locators the findings quote: each excerpt cited at ``path:N`` covers its lines from N on
    (a traceback's frames and its last line are the finding's evidence, not errors left unexplained)."""
    out: set[str] = set()
    for r in ranked:
        for e in r.finding.evidence:
            out.add(e.locator)
            path, _, line = e.locator.rpartition(":")
            if path and line.isdigit():
                first = int(line)
                out.update(f"{path}:{n}" for n in range(first, first + e.excerpt.count("\n") + 1))
    return out


def _prose_lines(ev: Evidence, limit: int = 40) -> list[str]:
    out: list[str] = []
    for doc in ev.docs():
        for _, line in doc.lines():
            if line.strip():
                out.append(line.strip()[:READ_LINE_CHARS])
                if len(out) >= limit:
                    return out
    return out


def _shows_health(ev: Evidence) -> bool:
    # When the scoring containers are in the evidence, they decide: a crash-looping pod is not
    # healthy whatever its earlier log said.
    if kube.scoring_states(ev):
        return kube.service_healthy(ev)
    return bool(healthy_lines(ev, 1)) or _service_state(ev) == "Healthy"


def _service_state(ev: Evidence) -> str:
    state = (ev.service_json or {}).get("state")
    return state if isinstance(state, str) else ""


def _known_issues(matches) -> tuple[KnownIssue, ...]:
    out = []
    for m in matches:
        c = m.case
        out.append(
            KnownIssue(
                case_id=c.id, source=c.source, thread=c.thread, date=c.date, category=Category(c.category),
                cause=c.cause, fix=c.fix, score=round(m.relative, 3), matched=m.line[:300],
            )
        )
    return tuple(out)


def _possible_causes(
    knowledge: Knowledge, ranked, known: tuple[KnownIssue, ...], neighbours, text: str, platform: str
) -> tuple[PossibleCause, ...]:
    from aml_doctor.knowledge.index import terms
    from aml_doctor.knowledge.priors import readings_of, symptoms_in

    weights: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for k in known:
        reasons.setdefault(k.category.value, f"the same error text was caused by this in {k.thread}")
    # Every case whose words resemble the evidence votes for its cause, by how closely it matches;
    # the known issues above are the closest of them.
    for m in neighbours:
        category = m.case.category
        weights[category] = weights.get(category, 0.0) + NEIGHBOUR_WEIGHT * m.relative
        reasons.setdefault(category, f"a real case with similar words ({m.case.thread}) had this cause")
    symptoms = symptoms_in(text)
    shown = ", ".join(sorted(symptoms))
    readings = readings_of(symptoms)
    for category, share in knowledge.priors.shares(symptoms).items():
        weights[category] = weights.get(category, 0.0) + share
        real = knowledge.priors.real_count(symptoms, category)
        reasons.setdefault(
            category,
            f"{real} real case{'s' if real != 1 else ''} showing {shown} had this cause" + (", and the symptom names it" if category in readings else "")
            if real
            else f"the symptom ({shown}) names this cause; no real case showing it is known yet",
        )
    # Weak causes the rules found stay leads: they are candidates too, ahead of nothing.
    for r in ranked:
        f = r.finding
        if not f.is_symptom:
            weights[f.category.value] = weights.get(f.category.value, 0.0) + max(f.confidence, 0.2)
            reasons.setdefault(f.category.value, f"{f.rule}: {f.title}")
    # The platform's own base rates are the prior every lead stands on: alone when nothing points
    # anywhere, and a weak vote beside the evidence's leads otherwise.
    # The base rates are updated by the evidence's words (``knowledge.words``).
    base, n = knowledge.priors.target_shares(platform)
    words = terms(text)
    shares = knowledge.index.words.update(base, words)
    prior = PRIOR_WEIGHT if weights else 1.0
    for category, share in shares.items():
        weights[category] = weights.get(category, 0.0) + prior * share
        telling = knowledge.index.words.telling(category, words) if share > base[category] else []
        reasons.setdefault(
            category,
            f"real failures with this cause share the words {', '.join(telling)}; it is the cause of "
            f"{round(base[category] * 100)}% of {n} on {platform or 'any platform'}"
            if telling
            else f"{round(base[category] * 100)}% of {n} real failures on {platform or 'any platform'} had this cause",
        )
    total = sum(weights.values())
    if not total:
        return ()
    v2 = targets.is_v2(platform)
    confirm = _next_steps()["confirm"]
    ordered = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_POSSIBLE]
    return tuple(
        PossibleCause(
            category=Category(category),
            share=round(weight / total, 3),
            why=reasons[category],
            confirm=confirm.get(category, {}).get("v2" if v2 else "v1", ""),
        )
        for category, weight in ordered
    )
