"""The records an action's matchers match, in a project over a time range: counted, with
the latest as examples. One pass over the candidate rows (narrowed in SQL by kind, and by
name where a matcher names one), streamed, so memory does not grow with the records."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from replay.analytics.matchers import Matcher, any_matches
from replay.models import Project, TrackedEvent

RECENT = timedelta(days=30)
EXAMPLES = 10
_FIELDS = ("id", "session_id", "ts", "kind", "name", "url", "text", "detector", "data")


def _candidates(matcher: Matcher) -> Q:
    """The rows a matcher may match, as SQL can tell exactly."""
    if matcher.kind in ("custom", "friction"):
        return Q(kind=matcher.kind, name=matcher.spec["name"][:200])
    return Q(kind=matcher.kind)


def matching(
    project: Project, matchers: Sequence[Matcher], since_ms: int, until_ms: int | None = None
) -> Iterator[TrackedEvent]:
    """The project's records at `since_ms` or later (before `until_ms`) that any of the
    matchers matches, in no particular order."""
    wanted = Q()
    for matcher in matchers:
        wanted |= _candidates(matcher)
    rows = TrackedEvent.objects.filter(wanted, project=project, ts__gte=since_ms)
    if until_ms is not None:
        rows = rows.filter(ts__lt=until_ms)
    for row in rows.only(*_FIELDS).order_by().iterator(chunk_size=2000):
        if any_matches(matchers, row):
            yield row


@dataclass
class Counts:
    records: int = 0
    sessions: int = 0
    latest: list[int] = field(default_factory=list)  # ids of the latest matches


def count(project: Project, matchers: Sequence[Matcher], examples: int = 0) -> Counts:
    """How many of the last 30 days' records, and sessions, the matchers match."""
    since = int((timezone.now() - RECENT).timestamp() * 1000)
    counts = Counts()
    sessions: set[str] = set()
    latest: list[tuple[int, int]] = []
    for row in matching(project, matchers, since):
        counts.records += 1
        sessions.add(row.session_id)
        if examples:
            item = (row.ts, row.id)
            if len(latest) < examples:
                heapq.heappush(latest, item)
            elif item > latest[0]:
                heapq.heapreplace(latest, item)
    counts.sessions = len(sessions)
    counts.latest = [row_id for _, row_id in sorted(latest, reverse=True)]
    return counts
