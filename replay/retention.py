"""Retention and deletion: which sessions have outlived their project's retention, which
stored objects no row points to, and deleting sessions with everything stored for them.

Deleting removes a session's objects first and its rows after (see
`segments.delete_sessions`), so an interrupted run leaves rows that the next run finds
and finishes, never rows pointing at nothing. Every step can be repeated: two runs at
once, or a run after a crash, delete nothing twice and miss nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from replay.models import Keyframe, Pack, Project, Segment, Session
from replay.segments import delete_sessions as delete_many
from replay.storage import Storage

# Objects of a live session that no row points to yet may be a write in flight: only
# sessions idle this long have their unindexed objects deleted.
ORPHAN_GRACE = timedelta(hours=1)
# A session lasts 12 hours at most (README, "Recording model"). One that has stored
# nothing a day after it started (its connections closed before a batch arrived, or
# every commit of it failed) never will.
EMPTY_GRACE = timedelta(days=1)


def retention_days(project: Project) -> int:
    """How many days the project keeps a session after it last recorded; 0: for ever."""
    if project.retention_days is not None:
        return project.retention_days
    return int(settings.REPLAY_RETENTION_DAYS)


def expired_sessions(now: datetime) -> QuerySet[Session]:
    """Sessions that last recorded longer ago than their project keeps them."""
    due = Q()
    for project in Project.objects.all():
        days = retention_days(project)
        if days > 0:
            due |= Q(project=project, updated_at__lt=now - timedelta(days=days))
    if not due:
        return Session.objects.none()
    return Session.objects.filter(due).order_by("updated_at")


def empty_sessions(now: datetime) -> QuerySet[Session]:
    """Sessions started over `EMPTY_GRACE` ago that never stored a batch or a gap."""
    return Session.objects.filter(
        acked_seq=-1, segment_count=0, created_at__lt=now - EMPTY_GRACE
    ).order_by("created_at")


def user_sessions(user_id: str, projects: Iterable[Project] | None = None) -> QuerySet[Session]:
    """Every session recorded for one of the site's users (`replay.identify`)."""
    sessions = Session.objects.filter(user_id=user_id)
    return sessions if projects is None else sessions.filter(project__in=list(projects))


def orphan_objects(storage: Storage, now: datetime) -> Iterator[str]:
    """Stored objects no row points to: those of sessions that have no row (a delete
    that stopped half way, or a crash before the first commit); for sessions idle for
    `ORPHAN_GRACE`, objects written but never indexed (a crash between the two); and
    pack objects whose `Pack` row is gone. (Packs that have a row but nothing pointing
    into them are `replay.packs.drop_unreferenced`'s.)"""
    sessions: dict[str, Session | None] = {}
    indexed: dict[str, set[str]] = {}
    for key in storage.list_keys("sessions/"):
        session_id = key.split("/", 2)[1]
        if session_id not in sessions:
            sessions[session_id] = Session.objects.filter(pk=session_id).first()
        session = sessions[session_id]
        if session is None:
            yield key
            continue
        if session.updated_at > now - ORPHAN_GRACE:
            continue  # a live write may be unindexed yet
        if session_id not in indexed:
            keys = set(Segment.objects.filter(session=session).values_list("key", flat=True))
            keys |= set(Keyframe.objects.filter(session=session).values_list("key", flat=True))
            indexed[session_id] = keys
        if key not in indexed[session_id]:
            yield key
    for key in storage.list_keys("packs/"):
        # A pack's row is made before its object and removed after it.
        if not Pack.objects.filter(key=key).exists():
            yield key


def delete_sessions(sessions: Iterable[Session], storage: Storage) -> Iterator[Session]:
    """Delete the sessions with their objects, a hundred at a time (so that a pack they
    share is rewritten once, or deleted whole), yielding each once it is gone."""
    chunk: list[Session] = []
    for session in sessions:
        chunk.append(session)
        if len(chunk) == 100:
            delete_many(chunk, storage)
            yield from chunk
            chunk = []
    if chunk:
        delete_many(chunk, storage)
        yield from chunk
