"""A funnel over a project's records (README, "Funnels"): the definition read from a
request (every malformed field a `BadRequest` naming it), each entity's candidate records
(`replay.analytics.funnel_sql`, one entity at a time, so memory grows with the number of
entities, never with the records) evaluated by `replay.analytics.funnels`,
and the bars, times between steps, breakdowns and the lists of entities behind each bar
computed from the outcomes."""

from __future__ import annotations

import gc
import json
import statistics
from array import array
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from replay.analytics.funnel_sql import candidates
from replay.analytics.funnels import (
    ORDERS,
    Candidate,
    Exclusion,
    Spec,
    browser,
    device,
    evaluate,
    percentile,
)
from replay.analytics.matchers import Matcher, MatcherError, parse, parse_all
from replay.models import Action, Project, Session
from replay.search import BadRequest

MIN_STEPS, MAX_STEPS = 2, 20
DEFAULT_WINDOW_SECONDS = 7 * 24 * 3600
MAX_WINDOW_SECONDS = 366 * 24 * 3600
DEFAULT_RANGE = timedelta(days=30)
COUNTS = ("sessions", "users")
BREAKDOWNS = ("browser", "device", "url")
FIELDS = {"steps", "order", "window_seconds", "window", "count", "since", "until"}
FIELDS |= {"exclusions", "breakdown"}


@dataclass
class Query:
    spec: Spec
    labels: list[str]
    count: str
    since_ms: int
    until_ms: int
    breakdown: str | None
    definition: dict[str, Any]  # as sent, for the links to the lists


def moment_of(body: Mapping[str, Any], name: str) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None:
        raise BadRequest(f"{name}: an ISO 8601 date and time, e.g. 2026-11-01T00:00:00Z")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def step(project: Project, raw: Any, where: str) -> tuple[list[Matcher], str]:
    if isinstance(raw, Mapping) and set(raw) == {"action"}:
        action_id = raw["action"]
        action = None
        if isinstance(action_id, int) and not isinstance(action_id, bool):
            action = Action.objects.filter(project=project, pk=action_id).first()
        if action is None:
            raise BadRequest(f"{where}.action: no action {action_id!r} in this project")
        return parse_all(action.matchers, f"{where}.action"), action.name
    try:
        matcher = parse(raw, where)
    except MatcherError as exc:
        raise BadRequest(str(exc)) from None
    return [matcher], label(matcher)


def label(matcher: Matcher) -> str:
    spec = matcher.spec
    what = {
        "pageview": f"Viewed {spec.get('url', '')}",
        "click": f"Clicked {spec.get('selector') or ''} {spec.get('text') or ''}".strip(),
        "input": f"Changed {spec.get('selector', '')}",
        "custom": spec.get("name", ""),
        "error": f"Error “{spec.get('message', '')}”",
        "friction": str(spec.get("name", "")).replace("_", " ").capitalize(),
    }
    return str(what[matcher.kind])


def parse_query(project: Project, body: Any) -> Query:
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a field of a funnel")
    raw_steps = body.get("steps")
    if not isinstance(raw_steps, list) or not MIN_STEPS <= len(raw_steps) <= MAX_STEPS:
        raise BadRequest(f"steps: a list of {MIN_STEPS} to {MAX_STEPS} steps")
    steps = [step(project, raw, f"steps[{i}]") for i, raw in enumerate(raw_steps)]
    order = body.get("order", "sequential")
    if order not in ORDERS:
        raise BadRequest(f"order: one of {', '.join(ORDERS)}, not {order!r}")
    window_ms: int | None
    if "window" in body:
        if body["window"] != "session" or "window_seconds" in body:
            raise BadRequest('window: "session", or give window_seconds instead')
        window_ms = None
    else:
        seconds = body.get("window_seconds", DEFAULT_WINDOW_SECONDS)
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 < seconds <= MAX_WINDOW_SECONDS
        ):
            raise BadRequest(f"window_seconds: a number of seconds, 0 < s <= {MAX_WINDOW_SECONDS}")
        window_ms = round(seconds * 1000)
    count = body.get("count", "sessions")
    if count not in COUNTS:
        raise BadRequest(f"count: one of {', '.join(COUNTS)}, not {count!r}")
    until = moment_of(body, "until") or timezone.now()
    since = moment_of(body, "since") or until - DEFAULT_RANGE
    if since >= until:
        raise BadRequest("since: must come before until")
    exclusions = _exclusions(project, body.get("exclusions", []), len(steps))
    breakdown = body.get("breakdown")
    if breakdown is not None and not (
        breakdown in BREAKDOWNS
        or (isinstance(breakdown, str) and breakdown.startswith("prop:") and len(breakdown) > 5)
    ):
        raise BadRequest(f"breakdown: one of {', '.join(BREAKDOWNS)} or prop:NAME")
    return Query(
        Spec([matchers for matchers, _ in steps], order, window_ms, exclusions),
        [name for _, name in steps],
        count,
        int(since.timestamp() * 1000),
        int(until.timestamp() * 1000),
        breakdown,
        dict(body),
    )


def _exclusions(project: Project, raw: Any, steps: int) -> list[Exclusion]:
    if not isinstance(raw, list):
        raise BadRequest("exclusions: a list of {step, after, before}")
    found = []
    for index, item in enumerate(raw):
        where = f"exclusions[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"step", "after", "before"}:
            raise BadRequest(f"{where}: an object with step, after and before")
        matchers, _ = step(project, item["step"], f"{where}.step")
        after, before = item["after"], item["before"]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (after, before)) or not (
            1 <= after < before <= steps
        ):
            raise BadRequest(f"{where}: after and before are step numbers, 1 <= after < before")
        found.append(Exclusion(matchers, after, before))
    return found


@dataclass(slots=True)
class Reached:
    """An entity and the moments of the steps it completed: compact, as a funnel over
    millions of records holds one for each of hundreds of thousands of entities."""

    entity: str
    times: array[int]  # each completed step's time
    sessions: tuple[str, ...]  # and its session
    value: str = ""  # its breakdown value

    def moment(self, index: int) -> tuple[int, str]:
        return self.times[index], self.sessions[index]


@dataclass
class Result:
    query: Query
    reached: list[Reached] = field(default_factory=list)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pauses Python's collection of reference cycles: a funnel over a million records
    makes hundreds of thousands of short-lived objects and no cycles, and without this
    the collector walks every live object again and again (a quarter of the time).
    Objects are freed as before, by their reference counts."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run(project: Project, query: Query) -> Result:
    result = Result(query)
    names: dict[str, str] = {}  # one string for each entity's and session's id
    with _no_cycle_collection():
        for key, rows in candidates(project.pk, query):
            outcome = evaluate(rows, query.spec, query.since_ms, query.until_ms)
            if outcome.excluded or not outcome.reached:
                continue
            steps = outcome.steps
            sessions = tuple(names.setdefault(row.session_id, row.session_id) for row in steps)
            reached = Reached(
                names.setdefault(key, key), array("q", [r.ts for r in steps]), sessions
            )
            if query.breakdown is not None:
                reached.value = _value(query.breakdown, steps[0])
            result.reached.append(reached)
    if query.breakdown in ("browser", "device"):
        wanted = {r.sessions[0] for r in result.reached}
        # (One pass over the sessions that began before `until`, rather than a list of
        # tens of thousands of ids in the query; each user agent classified once.)
        started = Session.objects.filter(project=project).exclude(
            first_event_ms__gte=query.until_ms
        )
        agents = {
            pk: agent
            for pk, agent in started.values_list("pk", "user_agent").iterator(chunk_size=10_000)
            if pk in wanted
        }
        classify = browser if query.breakdown == "browser" else device
        kinds = {agent: classify(agent) for agent in set(agents.values()) | {""}}
        for r in result.reached:
            r.value = kinds[agents.get(r.sessions[0], "")]
    return result


def _value(breakdown: str, first: Candidate) -> str:
    if breakdown == "url":
        parts = urlsplit(first.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else first.url
    if breakdown.startswith("prop:"):
        data = json.loads(first.data) if first.data else {}
        props = data.get("props") if isinstance(data, Mapping) else None
        value = props.get(breakdown[5:]) if isinstance(props, Mapping) else None
        return "(none)" if value is None else str(value)
    return ""


def bars(query: Query, reached: list[Reached]) -> list[dict[str, Any]]:
    """Each step's count, conversions and times from the step before."""
    steps = []
    first = sum(1 for r in reached if len(r.times) >= 1)
    previous = first
    for index, name in enumerate(query.labels):
        there = [r for r in reached if len(r.times) > index]
        count = len(there)
        step: dict[str, Any] = {
            "index": index + 1,
            "label": name,
            "count": count,
            "conversion_from_previous": (count / previous) if previous else 0.0,
            "conversion_from_first": (count / first) if first else 0.0,
            "median_seconds_from_previous": None,
            "p90_seconds_from_previous": None,
        }
        if index:
            gaps = [(r.times[index] - r.times[index - 1]) / 1000 for r in there]
            step["median_seconds_from_previous"] = statistics.median(gaps) if gaps else None
            step["p90_seconds_from_previous"] = percentile(gaps, 0.9)
        steps.append(step)
        previous = count
    return steps


def behind(result: Result, step: int, part: str, value: str | None) -> list[tuple[Reached, int]]:
    """The entities behind a bar's converted (reached step `step`, 1-based) or dropped
    (reached the step before it and no further) part, each with the index of the step
    whose moment its replay opens at, in the order they reached it."""
    chosen = []
    for r in result.reached:
        if value is not None and r.value != value:
            continue
        if part == "converted" and len(r.times) >= step:
            chosen.append((r, step - 1))
        elif part == "dropped" and len(r.times) == step - 1 and step > 1:
            chosen.append((r, step - 2))
    chosen.sort(key=lambda item: (item[0].times[item[1]], item[0].entity))
    return chosen
