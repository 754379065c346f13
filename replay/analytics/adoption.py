"""Feature adoption (README, "Feature adoption"): of the users active in each day, week
or month, how many used a feature (a step: an action or a matcher), how many had used it
since the range began, how many of the previous interval's adopters used it again, and
how sticky it is (on how many days of a week its users used it).

A user is an identify id; a session with none counts as its own user, and the answer
says how many of those there were. Intervals are calendar days, ISO weeks (from Monday)
and months, in UTC; the first holds `since`, the last `until`. Records are read as (user,
day) pairs: the database groups the active ones, and the feature's uses are matched
exactly as actions are (`replay.analytics.actions.matching`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from replay.analytics.actions import matching
from replay.analytics.funnel_query import moment_of, step
from replay.analytics.matchers import Matcher
from replay.models import Project, Session, TrackedEvent
from replay.search import BadRequest

INTERVALS = ("day", "week", "month")
FIELDS = {"feature", "interval", "since", "until"}
DEFAULT_RANGE = timedelta(days=30)
MAX_INTERVALS = 400
DAY_MS = 86_400_000


@dataclass
class Adoption:
    matchers: list[Matcher]
    interval: str
    since: datetime
    until: datetime


def parse(project: Project, body: Any) -> Adoption:
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a field of an adoption query")
    if "feature" not in body:
        raise BadRequest("feature: a step (an action or a matcher)")
    matchers, _ = step(project, body["feature"], "feature")
    interval = body.get("interval", "week")
    if interval not in INTERVALS:
        raise BadRequest(f"interval: one of {', '.join(INTERVALS)}, not {interval!r}")
    until = moment_of(body, "until") or timezone.now()
    since = moment_of(body, "since") or until - DEFAULT_RANGE
    if since >= until:
        raise BadRequest("since: must come before until")
    if len(_starts(interval, since, until)) > MAX_INTERVALS:
        raise BadRequest(f"interval: at most {MAX_INTERVALS} {interval}s in the range")
    return Adoption(matchers, interval, since, until)


def _start(interval: str, day: date) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _starts(interval: str, since: datetime, until: datetime) -> list[date]:
    starts: list[date] = []
    at = _start(interval, since.astimezone(UTC).date())
    last = (until - timedelta(milliseconds=1)).astimezone(UTC).date()
    while at <= last and len(starts) <= MAX_INTERVALS:
        starts.append(at)
        if interval == "day":
            at += timedelta(days=1)
        elif interval == "week":
            at += timedelta(days=7)
        else:
            at = (at.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def compute(project: Project, asked: Adoption) -> dict[str, Any]:
    since_ms = int(asked.since.timestamp() * 1000)
    until_ms = int(asked.until.timestamp() * 1000)
    origin = datetime.combine(asked.since.astimezone(UTC).date(), datetime.min.time(), UTC)
    origin_ms = int(origin.timestamp() * 1000)
    starts = _starts(asked.interval, asked.since, asked.until)
    index = {start: n for n, start in enumerate(starts)}

    def interval_of(day: int) -> int:
        return index[_start(asked.interval, origin.date() + timedelta(days=day))]

    users = dict(
        Session.objects.filter(project=project).exclude(user_id="").values_list("pk", "user_id")
    )
    anonymous: set[str] = set()

    def user_of(session_id: str) -> str:
        user = users.get(session_id)
        if user is None:
            anonymous.add(session_id)
            return f"session:{session_id}"
        return f"user:{user}"

    active: list[set[str]] = [set() for _ in starts]
    days = (
        TrackedEvent.objects.filter(project=project, ts__gte=since_ms, ts__lt=until_ms)
        .annotate(day=(F("ts") - origin_ms) / DAY_MS)
        .values_list("session_id", "day")
        .order_by()
        .distinct()
    )
    for session_id, day in days.iterator(chunk_size=5000):
        active[interval_of(int(day))].add(user_of(session_id))
    adopters: list[set[str]] = [set() for _ in starts]
    used_on: dict[str, set[int]] = {}
    for row in matching(project, asked.matchers, since_ms, until_ms):
        day = (row.ts - origin_ms) // DAY_MS
        user = user_of(row.session_id)
        adopters[interval_of(day)].add(user)
        used_on.setdefault(user, set()).add(day)
    intervals = []
    ever: set[str] = set()
    for n, start in enumerate(starts):
        ever |= adopters[n]
        intervals.append(
            {
                "start": start.isoformat(),
                "active_users": len(active[n]),
                "adopters": len(adopters[n]),
                "rate": len(adopters[n]) / len(active[n]) if active[n] else None,
                "cumulative_adopters": len(ever),
                "retained": len(adopters[n] & adopters[n - 1]) if n else None,
            }
        )
    return {
        "intervals": intervals,
        "stickiness": _stickiness(used_on, origin.date()),
        "anonymous": len(anonymous),
    }


def _stickiness(used_on: dict[str, set[int]], origin: date) -> list[int]:
    """How many times a user used the feature on exactly 1, 2, ... 7 days of an ISO
    week: each user counts once for each week they used it in."""
    counts = [0] * 7
    for days in used_on.values():
        weeks: dict[date, int] = {}
        for day in days:
            week = _start("week", origin + timedelta(days=day))
            weeks[week] = weeks.get(week, 0) + 1
        for used in weeks.values():
            counts[used - 1] += 1
    return counts
