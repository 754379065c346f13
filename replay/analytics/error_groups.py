"""Error groups (README, "Error groups"): a project's error records in a range grouped
by fingerprint (`replay.fingerprints`), each with its count, sessions, users, first and
last time seen, a daily trend, the browsers it happened in, and its status: `open`,
`resolved` (marked so, and not seen since) or `regressed` (seen again after it was
resolved). Computed from the records on each request, so a change of fingerprint rules
applies to every stored error at once; only the decisions are stored (`ErrorGroup`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone

from replay.analytics.funnel_query import moment_of
from replay.analytics.funnels import browser
from replay.fingerprints import fingerprint
from replay.models import ErrorGroup, Project, Session, TrackedEvent
from replay.search import BadRequest

DEFAULT_RANGE = timedelta(days=14)
MAX_DAYS = 366
STATUSES = ("open", "resolved", "regressed")


@dataclass
class Group:
    fingerprint: str
    message: str  # the latest occurrence's
    kind: str
    stack: str
    count: int = 0
    first: int = 0
    last: int = 0
    sessions: dict[str, int] = field(default_factory=dict)  # session: its first occurrence
    users: set[str] = field(default_factory=set)
    days: Counter[date] = field(default_factory=Counter)
    browsers: Counter[str] = field(default_factory=Counter)
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


def groups(project: Project, since_ms: int, until_ms: int) -> list[Group]:
    """The project's error groups in the range, the most recently seen first."""
    rows = (
        TrackedEvent.objects.filter(
            project=project, kind="error", ts__gte=since_ms, ts__lt=until_ms
        )
        .order_by("ts", "id")
        .values_list("session_id", "ts", "data")
    )
    found: dict[str, Group] = {}
    for session_id, ts, data in rows.iterator(chunk_size=5000):
        data = data if isinstance(data, dict) else {}
        message, stack = str(data.get("message") or ""), str(data.get("stack") or "")
        key = fingerprint(message, stack)
        group = found.get(key)
        if group is None:
            group = found[key] = Group(
                key, message, str(data.get("kind") or "error"), stack, first=ts
            )
        group.count += 1
        group.last, group.message = ts, message
        group.sessions.setdefault(session_id, ts)
        group.days[datetime.fromtimestamp(ts / 1000, UTC).date()] += 1
    _people(project, found)
    decided = ErrorGroup.objects.filter(project=project, fingerprint__in=list(found))
    for fingerprint_, resolved_at in decided.values_list("fingerprint", "resolved_at"):
        found[fingerprint_].resolved_at = resolved_at
    return sorted(found.values(), key=lambda g: (-g.last, g.fingerprint))


def _people(project: Project, found: dict[str, Group]) -> None:
    """Each group's users (an anonymous session counts as its own) and browsers."""
    wanted = {s for g in found.values() for s in g.sessions}
    if not wanted:
        return
    sessions = Session.objects.filter(project=project, pk__in=list(wanted))
    about = {
        pk: (user or f"session:{pk}", browser(agent or ""))
        for pk, user, agent in sessions.values_list("pk", "user_id", "user_agent").iterator(
            chunk_size=5000
        )
    }
    for group in found.values():
        for session_id in group.sessions:
            user, name = about.get(session_id, (f"session:{session_id}", "Unknown"))
            group.users.add(user)
            group.browsers[name] += 1


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
