"""Error groups (README, "Error groups"): a project's error records in a range grouped
by fingerprint (`replay.fingerprints`, stored with each record when it is tracked), each
with its count, sessions, users, first and last time seen, a daily trend, the browsers it
happened in, and its status: `open`, `resolved` (marked so, and not seen since) or
`regressed` (seen again after it was resolved). Counted by the database in a few grouped
queries, so the time grows with the groups and the distinct browsers, not the records
read in Python (bench/errors.py); only the decisions are stored (`ErrorGroup`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Min,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.utils import timezone

from replay.analytics.funnel_query import moment_of
from replay.analytics.funnels import browser
from replay.fingerprints import record_fingerprint
from replay.models import ErrorGroup, Project, TrackedEvent
from replay.search import BadRequest

DEFAULT_RANGE = timedelta(days=14)
MAX_DAYS = 366
STATUSES = ("open", "resolved", "regressed")
DAY_MS = 24 * 3600 * 1000
CHUNK = 500  # values in one IN (...) list


@dataclass
class Group:
    fingerprint: str
    message: str = ""  # the latest occurrence's
    kind: str = "error"
    stack: str = ""
    count: int = 0
    first: int = 0
    last: int = 0
    sessions: int = 0
    users: int = 0  # an anonymous session counts as a user of its own
    days: Counter[date] = field(default_factory=Counter)
    browsers: Counter[str] = field(default_factory=Counter)  # sessions by browser
    resolved_at: int | None = None

    @property
    def status(self) -> str:
        if self.resolved_at is None:
            return "open"
        return "regressed" if self.last > self.resolved_at else "resolved"


def span(params: Mapping[str, Any]) -> tuple[int, int]:
    """The range asked (`since`, `until`, ISO 8601), the last 14 days by default."""
    until = moment_of(params, "until") or timezone.now()
    since = moment_of(params, "since") or until - DEFAULT_RANGE
    if since >= until:
        raise BadRequest("since: must come before until")
    if until - since > timedelta(days=MAX_DAYS):
        raise BadRequest(f"since: at most {MAX_DAYS} days before until")
    return int(since.timestamp() * 1000), int(until.timestamp() * 1000)


def _records(
    project: Project, since_ms: int, until_ms: int, key: str | None = None
) -> QuerySet[TrackedEvent]:
    """The project's error records in the range (of one group, with `key`), unordered."""
    rows = TrackedEvent.objects.filter(
        project=project, kind="error", ts__gte=since_ms, ts__lt=until_ms
    )
    return (rows if key is None else rows.filter(fingerprint=key)).order_by()


def groups(project: Project, since_ms: int, until_ms: int, key: str | None = None) -> list[Group]:
    """The project's error groups in the range (only the one of `key`, if given), the
    most recently seen first."""
    rows = _records(project, since_ms, until_ms, key)
    # A user is its id; a session without one is a user of its own.
    person = Case(
        When(session__user_id="", then=Concat(Value("session:"), "session_id")),
        default=Concat(Value("user:"), "session__user_id"),
        output_field=CharField(),
    )
    found: dict[str, Group] = {}
    counted = rows.values("fingerprint").annotate(
        n=Count("id"),
        first=Min("ts"),
        last=Max("ts"),
        sessions=Count("session_id", distinct=True),
        users=Count(person, distinct=True),
    )
    for row in counted:
        found[row["fingerprint"]] = Group(
            row["fingerprint"],
            count=row["n"],
            first=row["first"],
            last=row["last"],
            sessions=row["sessions"],
            users=row["users"],
        )
    if not found:
        return []
    day = ExpressionWrapper(F("ts") / Value(DAY_MS), output_field=BigIntegerField())
    daily = rows.annotate(day=day).values("fingerprint", "day").annotate(n=Count("id"))
    for each, number, n in daily.values_list("fingerprint", "day", "n"):
        found[each].days[_date(number)] += n
    agents = rows.values("fingerprint", "session__user_agent").annotate(
        n=Count("session_id", distinct=True)
    )
    for each, agent, n in agents.values_list("fingerprint", "session__user_agent", "n"):
        found[each].browsers[_browser(agent or "")] += n
    _latest(rows, found)
    decided = ErrorGroup.objects.filter(project=project, fingerprint__in=list(found))
    for each, resolved_at in decided.values_list("fingerprint", "resolved_at"):
        found[each].resolved_at = resolved_at
    return sorted(found.values(), key=lambda g: (-g.last, g.fingerprint))


def _latest(rows: QuerySet[TrackedEvent], found: dict[str, Group]) -> None:
    """Each group's message, kind and stack, from its latest occurrence (of those at its
    last moment, the last stored)."""
    last = {g.fingerprint: g.last for g in found.values()}
    moments = sorted(set(last.values()))
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for start in range(0, len(moments), CHUNK):
        candidates = rows.filter(ts__in=moments[start : start + CHUNK])
        for key, ts, pk, data in candidates.values_list("fingerprint", "ts", "id", "data"):
            if last.get(key) == ts and pk > best.get(key, (-1, {}))[0]:
                best[key] = (pk, data if isinstance(data, dict) else {})
    for key, (_, data) in best.items():
        group = found[key]
        group.message = str(data.get("message") or "")
        group.kind = str(data.get("kind") or "error")
        group.stack = str(data.get("stack") or "")


def sessions_of(project: Project, key: str, since_ms: int, until_ms: int) -> QuerySet[Any]:
    """The group's sessions with their first occurrence in the range, the most recent
    first: (session id, epoch ms) rows."""
    return (
        _records(project, since_ms, until_ms, key)
        .values("session_id")
        .annotate(first=Min("ts"))
        .order_by("-first", "session_id")
        .values_list("session_id", "first")
    )


def _date(day: int) -> date:
    return datetime.fromtimestamp(day * DAY_MS / 1000, UTC).date()


@lru_cache(maxsize=4096)
def _browser(user_agent: str) -> str:
    return browser(user_agent)


def refingerprint(model: Any) -> int:
    """Computes the stored fingerprint of every error record again (`model` is
    TrackedEvent, or its historical model in a migration), in chunks; the number
    changed. For a change of `replay.fingerprints`' rules. One UPDATE per fingerprint
    and chunk (Django's bulk_update, a CASE per row, took 5 times as long)."""
    changed = 0
    after = 0
    errors = model.objects.filter(kind="error").order_by("pk")
    while True:
        chunk = list(errors.filter(pk__gt=after).values_list("pk", "fingerprint", "data")[:2000])
        if not chunk:
            return changed
        after = chunk[-1][0]
        stale: dict[str, list[int]] = {}
        for pk, stored, data in chunk:
            key = record_fingerprint(data if isinstance(data, dict) else {})
            if key != stored:
                stale.setdefault(key, []).append(pk)
        with transaction.atomic():
            for key, pks in stale.items():
                model.objects.filter(pk__in=pks).update(fingerprint=key)
        changed += sum(len(pks) for pks in stale.values())


def trend(group: Group, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """Occurrences per calendar day (UTC) of the range, days without any included."""
    first = datetime.fromtimestamp(since_ms / 1000, UTC).date()
    last = datetime.fromtimestamp((until_ms - 1) / 1000, UTC).date()
    days = []
    day = first
    while day <= last:
        days.append({"day": day.isoformat(), "count": group.days.get(day, 0)})
        day += timedelta(days=1)
    return days


def decide(project: Project, key: str, status: Any, user: Any) -> None:
    """Mark a group resolved (from now on) or open again."""
    if status not in ("resolved", "open"):
        raise BadRequest('status: "resolved" or "open"')
    if status == "open":
        ErrorGroup.objects.filter(project=project, fingerprint=key).delete()
        return
    now = int(timezone.now().timestamp() * 1000)
    ErrorGroup.objects.update_or_create(
        project=project,
        fingerprint=key,
        defaults={"resolved_at": now, "resolved_by": user if user.is_authenticated else None},
    )
