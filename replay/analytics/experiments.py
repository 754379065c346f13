"""Experiment reports (README, "Experiments"): for each variant of an experiment, how
many entities (sessions, or users) were exposed, how many then reached the goal, and how
each compares with the control (`replay.analytics.stats`), with the friction they met.

An entity's variant is the one of its first exposure (`replay.experiment(name,
variant)`: a custom event `$exposure`) inside the range; one exposed to several variants
is left out and counted apart. The goal is a step (an action or a matcher) or a funnel
definition's steps, order, window and exclusions; an entity converted when it completed
the goal after an exposure, within the window: the funnel `[exposure, *goal]`, computed
by `replay.analytics.funnel_query`. Results are withheld while any variant has fewer
than MIN_EXPOSURES exposures or MIN_CONVERSIONS conversions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max

from replay.analytics import stats
from replay.analytics.funnel_query import Query, Reached, parse_query, run
from replay.friction import DETECTORS
from replay.models import Project, Session, TrackedEvent
from replay.search import EXPOSURE, BadRequest

MIN_EXPOSURES, MIN_CONVERSIONS = 50, 5
MAX_SEEN = 200  # experiments listed, the most recently exposed
FIELDS = {"experiment", "goal", "count", "since", "until", "control"}
GOAL_FIELDS = {"steps", "order", "window_seconds", "window", "exclusions"}


@dataclass
class Report:
    experiment: str
    control: str
    funnel: Query
    definition: dict[str, Any]


@dataclass
class Entity:
    variant: str
    session: str  # the session of its first exposure
    exposed_at: int
    variants: set[str] = field(default_factory=set)
    converted: bool = False
    friction: set[str] = field(default_factory=set)
    key: str = ""  # the user's id or the session's, as counted


def parse(project: Project, body: Any) -> Report:
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a field of an experiment report")
    experiment, control = body.get("experiment"), body.get("control")
    for name, value in (("experiment", experiment), ("control", control)):
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{name}: a non-empty string")
    assert isinstance(experiment, str)
    assert isinstance(control, str)
    goal = body.get("goal")
    exposure = {"kind": "custom", "name": EXPOSURE, "props": {"experiment": experiment}}
    if isinstance(goal, Mapping) and "steps" in goal:
        unknown = sorted(set(goal) - GOAL_FIELDS)
        if unknown:
            raise BadRequest(f"goal.{unknown[0]}: not a field of a goal funnel")
        steps = goal["steps"]
        if not isinstance(steps, list) or not steps:
            raise BadRequest("goal.steps: a list of steps")
        funnel: dict[str, Any] = {**goal, "steps": [exposure, *steps]}
        exclusions = goal.get("exclusions", [])
        if isinstance(exclusions, list):  # (their step numbers, past the exposure)
            funnel["exclusions"] = [_shifted(e) for e in exclusions]
    elif goal is None:
        raise BadRequest("goal: a step, or a funnel definition with steps")
    else:
        funnel = {"steps": [exposure, goal]}
    for name in ("count", "since", "until"):
        if name in body:
            funnel[name] = body[name]
    try:
        query = parse_query(project, funnel)
    except BadRequest as exc:
        raise BadRequest(f"goal: {exc}") from None
    return Report(experiment, control, query, dict(body))


def _shifted(exclusion: Any) -> Any:
    if not isinstance(exclusion, Mapping):
        return exclusion
    shifted = dict(exclusion)
    for name in ("after", "before"):
        if isinstance(shifted.get(name), int) and not isinstance(shifted[name], bool):
            shifted[name] += 1
    return shifted


def entities(project: Project, report: Report) -> dict[str, Entity]:
    """Each exposed entity with the variant of its first exposure in the range."""
    query = report.funnel
    exposures = TrackedEvent.objects.filter(
        project=project,
        kind="custom",
        name=EXPOSURE,
        data__props__experiment=report.experiment,
        ts__gte=query.since_ms,
        ts__lt=query.until_ms,
    ).order_by("ts", "id")
    users: dict[str, str] = {}
    if query.count == "users":
        sessions = Session.objects.filter(project=project).exclude(user_id="")
        users = dict(sessions.values_list("pk", "user_id"))
    found: dict[str, Entity] = {}
    for session_id, ts, variant in exposures.values_list(
        "session_id", "ts", "data__props__variant"
    ).iterator(chunk_size=5000):
        key = users.get(session_id, session_id)
        variant = str(variant)
        entity = found.get(key)
        if entity is None:
            entity = found[key] = Entity(variant, session_id, ts, key=key)
        entity.variants.add(variant)
    return found


def seen(project: Project, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """The experiments with exposures in the range, most recent first, each with its
    variants and how many sessions were exposed to each:
    `[{"experiment", "last", "sessions", "variants": [{"variant", "sessions"}]}]`."""
    exposures = TrackedEvent.objects.filter(
        project=project, kind="custom", name=EXPOSURE, ts__gte=since_ms, ts__lt=until_ms
    ).order_by()
    found: dict[str, dict[str, Any]] = {}
    for experiment, sessions, last in exposures.values_list("data__props__experiment").annotate(
        Count("session", distinct=True), Max("ts")
    ):
        if isinstance(experiment, str) and experiment:
            found[experiment] = {
                "experiment": experiment,
                "last": last,
                "sessions": sessions,
                "variants": [],
            }
    for experiment, variant, sessions in exposures.values_list(
        "data__props__experiment", "data__props__variant"
    ).annotate(Count("session", distinct=True)):
        if isinstance(experiment, str) and experiment in found:
            found[experiment]["variants"].append({"variant": str(variant), "sessions": sessions})
    for entry in found.values():
        entry["variants"].sort(key=lambda v: v["variant"])
    return sorted(found.values(), key=lambda e: (-e["last"], e["experiment"]))[:MAX_SEEN]


def outcomes(project: Project, report: Report) -> dict[str, Entity]:
    """Each exposed entity (`entities`), marked converted when it completed the goal
    after its exposure: one funnel run, which the report and its lists share."""
    found = entities(project, report)
    reached: dict[str, Reached] = {r.entity: r for r in run(project, report.funnel).reached}
    steps = len(report.funnel.labels)
    for key, entity in found.items():
        done = reached.get(key)
        entity.converted = done is not None and len(done.times) == steps
    return found


def listed(found: dict[str, Entity], variant: str, converted: bool) -> list[Entity]:
    """The entities (of `outcomes`) that saw `variant` alone and converted (or did
    not), in the order of their exposure."""
    chosen = [e for e in found.values() if e.variants == {variant} and e.converted == converted]
    chosen.sort(key=lambda e: (e.exposed_at, e.key))
    return chosen


def compute(
    project: Project, report: Report, found: dict[str, Entity] | None = None
) -> dict[str, Any]:
    """The report's numbers: `{"experiment", "control", "insufficient", "reason",
    "excluded", "variants": [...]}` (lists' URLs are added by the API), from
    `outcomes` (computed here unless given)."""
    if found is None:
        found = outcomes(project, report)
    _friction(project, report, found)
    kept = [e for e in found.values() if len(e.variants) == 1]
    groups: dict[str, list[Entity]] = {}
    for entity in kept:
        groups.setdefault(entity.variant, []).append(entity)
    if report.control not in groups:
        raise BadRequest(f"control: no entity saw variant {report.control!r} alone")
    counts = {v: (sum(e.converted for e in g), len(g)) for v, g in groups.items()}
    short = [
        f"{v} has {n} exposures ({MIN_EXPOSURES} needed)"
        for v, (_, n) in counts.items()
        if n < MIN_EXPOSURES
    ] + [
        f"{v} has {x} conversions ({MIN_CONVERSIONS} needed)"
        for v, (x, _) in counts.items()
        if x < MIN_CONVERSIONS
    ]
    control = counts[report.control]
    detectors = [d.name for d in DETECTORS]
    control_friction = _friction_counts(groups[report.control], detectors)
    variants = []
    for variant in sorted(groups, key=lambda v: (v != report.control, v)):
        group = groups[variant]
        mine = counts[variant]
        is_control = variant == report.control
        withheld = bool(short) or is_control
        friction = {}
        for name, hits in _friction_counts(group, detectors).items():
            friction[name] = {
                "share": hits / len(group),
                "p_value": None
                if is_control
                else stats.p_value((hits, len(group)), (control_friction[name], control[1])),
            }
        variants.append(
            {
                "variant": variant,
                "exposures": mine[1],
                "conversions": mine[0],
                "rate": stats.rate(*mine),
                "rate_ci": stats.wilson(*mine),
                "lift": None if withheld else stats.lift(mine, control),
                "lift_ci": None if withheld else stats.lift_interval(mine, control),
                "p_value": None if withheld else stats.p_value(mine, control),
                "chance_to_beat_control": None if withheld else stats.chance_to_beat(mine, control),
                "friction": friction,
            }
        )
    return {
        "experiment": report.experiment,
        "control": report.control,
        "insufficient": bool(short),
        "reason": "; ".join(short) or None,
        "excluded": len(found) - len(kept),
        "variants": variants,
    }


def _friction(project: Project, report: Report, found: dict[str, Entity]) -> None:
    """Which detectors' friction each entity met at or after its first exposure, in
    the session of it (or, counting users, in any session of the user)."""
    query = report.funnel
    sessions = {e.session: key for key, e in found.items()}
    if query.count == "users":
        users = {key for key in found}
        rows = Session.objects.filter(project=project).values_list("pk", "user_id")
        sessions = {pk: user or pk for pk, user in rows if (user or pk) in users}
    window = query.spec.window_ms or 0
    moments = TrackedEvent.objects.filter(
        project=project,
        kind="friction",
        ts__gte=query.since_ms,
        ts__lte=query.until_ms + window,
    ).order_by()
    for session_id, ts, name in moments.values_list("session_id", "ts", "name").iterator(
        chunk_size=5000
    ):
        key = sessions.get(session_id)
        entity = found.get(key) if key is not None else None
        if entity is not None and ts >= entity.exposed_at:
            entity.friction.add(name)


def _friction_counts(group: list[Entity], detectors: list[str]) -> dict[str, int]:
    counts = {name: sum(name in e.friction for e in group) for name in detectors}
    counts["any"] = sum(bool(e.friction) for e in group)
    return counts
