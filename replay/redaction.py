"""Retroactive redaction: rewriting stored sessions so that what a selector or a text
pattern names, in events recorded within a time range, is no longer stored (the rules
are `replay.redactor`'s).

Each session is read from its start, through a DOM mirror (selectors are judged against
the page as it stood at each event); every segment that holds a changed event is
written again under its own key, and its row's size updated. Keyframes from the range's
start on are derived from what was there before, so they are deleted and computed again
from the rewritten segments, and so are the session's event-tracking records. Events
still arriving for a session while it is redacted are not covered: redact again once it
has ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils.dateparse import parse_datetime

from replay.audit import Action, audit
from replay.codec import Event, PackedBatch, encode_segment, pack_batch
from replay.keyframes import advance_keyframes
from replay.mirror import Mirror
from replay.models import Keyframe, Project, ReplacedPart, Segment, Session
from replay.packs import drop_unreferenced, erase, parts_of
from replay.records import track_session
from replay.redactor import Redactor
from replay.segments import read_segment, segment_key, segment_rows
from replay.selectors import SelectorError
from replay.storage import Storage


class RedactionError(ValueError):
    """A redaction request that cannot be carried out as asked (the message says why)."""


MAX_RULES = 50


@dataclass
class Request:
    """What to redact, and in which events: those recorded between `start_ms` and
    `end_ms` (epoch milliseconds, inclusive; None: unbounded), in the given sessions
    (empty: every session of the project recorded in that range)."""

    selectors: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    start_ms: int | None = None
    end_ms: int | None = None
    sessions: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, body: Any) -> Request:
        """From the JSON the API takes: {"selectors": [...], "patterns": [...],
        "start": ..., "end": ..., "sessions": [...]}; times are ISO 8601 or epoch ms."""
        if not isinstance(body, dict):
            raise RedactionError("send a JSON object")
        unknown = set(body) - {"selectors", "patterns", "start", "end", "sessions"}
        if unknown:
            raise RedactionError(f"unknown fields: {', '.join(sorted(unknown))}")
        request = cls(
            selectors=_strings(body, "selectors"),
            patterns=_strings(body, "patterns"),
            start_ms=_moment(body.get("start"), "start"),
            end_ms=_moment(body.get("end"), "end"),
            sessions=_strings(body, "sessions"),
        )
        request.redactor()  # the rules compile, or the request is refused now
        return request

    def redactor(self) -> Redactor:
        if not self.selectors and not self.patterns:
            raise RedactionError("give at least one selector or pattern")
        if len(self.selectors) + len(self.patterns) > MAX_RULES:
            raise RedactionError(f"at most {MAX_RULES} selectors and patterns at once")
        if self.start_ms is not None and self.end_ms is not None and self.start_ms > self.end_ms:
            raise RedactionError("start is after end")
        try:
            return Redactor(self.selectors, self.patterns)
        except SelectorError as exc:
            raise RedactionError(f"selector {exc}") from exc
        except re.error as exc:
            raise RedactionError(f"pattern {exc.pattern!r}: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        """For the audit log."""
        return {
            "selectors": self.selectors,
            "patterns": self.patterns,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise RedactionError(f"{name} must be a list of non-empty strings")
    return value


def _moment(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            if parsed.tzinfo is None:
                raise RedactionError(f"{name}: give a time zone, e.g. {value}Z")
            return round(parsed.timestamp() * 1000)
    raise RedactionError(f"{name} must be an ISO 8601 time with a zone or epoch milliseconds")


def sessions_in_range(project: Project, request: Request) -> QuerySet[Session]:
    """The project's sessions the request covers: recorded in its range (and named, if
    it names any)."""
    sessions = Session.objects.filter(project=project).exclude(first_event_ms=None)
    if request.sessions:
        sessions = sessions.filter(pk__in=request.sessions)
    if request.start_ms is not None:
        sessions = sessions.filter(last_event_ms__gte=request.start_ms)
    if request.end_ms is not None:
        sessions = sessions.filter(first_event_ms__lte=request.end_ms)
    return sessions.order_by("first_event_ms")


@dataclass
class Redacted:
    sessions: int = 0  # sessions with at least one changed event
    segments: int = 0  # segment objects written again
    events: int = 0  # events changed
    keyframes: int = 0  # keyframes computed again

    def add(self, other: Redacted) -> None:
        self.sessions += other.sessions
        self.segments += other.segments
        self.events += other.events
        self.keyframes += other.keyframes


def _within(event: Event, start_ms: int | None, end_ms: int | None) -> bool:
    stamp = event.get("timestamp")
    if not isinstance(stamp, int | float):
        return start_ms is None and end_ms is None
    return (start_ms is None or stamp >= start_ms) and (end_ms is None or stamp <= end_ms)


def redact_session(
    session: Session,
    storage: Storage,
    redactor: Redactor,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    keyframe_interval_ms: int | None = None,
) -> Redacted:
    """Rewrite one session's segments (and keyframes) with the events recorded between
    `start_ms` and `end_ms` (epoch milliseconds, inclusive; None: unbounded) redacted."""
    result = Redacted()
    mirror = Mirror() if redactor.selectors else None
    applied = -1  # the last batch the mirror has seen
    done: dict[int, PackedBatch] = {}  # batches already rewritten (a segment may repeat one)
    for row in segment_rows(session):
        if end_ms is not None and row.first_ts is not None and row.first_ts > end_ms:
            break  # nothing later is in the range
        before = start_ms is not None and row.last_ts is not None and row.last_ts < start_ms
        if before and mirror is None:
            continue  # without selectors, what came before the range is not needed
        batches: list[PackedBatch] = []
        changed = False
        for batch in read_segment(row, storage).batches:
            if batch.seq in done:
                batches.append(done[batch.seq])
                changed = True
                continue
            new = mirror is not None and batch.seq > applied
            applied = max(applied, batch.seq)
            if before:  # only the mirror needs these
                if new and mirror is not None:
                    for event in batch.events:
                        mirror.apply(event)
                continue
            out: list[Event] = []
            touched = False
            for event in batch.events:
                # A copy the mirror does not share: it keeps (and changes) what it is given.
                copy = msgpack.unpackb(msgpack.packb(event), strict_map_key=False)
                if _within(event, start_ms, end_ms):
                    copy = redactor.event(copy, mirror)
                    if copy != event:
                        touched = True
                        result.events += 1
                out.append(copy)
                if new and mirror is not None:
                    mirror.apply(event)
            packed = pack_batch(batch.seq, out)
            if touched:
                done[batch.seq] = packed
                changed = True
            batches.append(packed)
        if changed:
            body = encode_segment(session.pk, batches)
            # The redacted segment is an object of the session's own; what it replaces
            # in a pack is overwritten with zeros once nothing points at it.
            key = segment_key(session.pk, row.seq_start, row.seq_end)
            storage.put(key, body)
            with transaction.atomic():
                Segment.objects.filter(pk=row.pk).update(
                    key=key,
                    offset=None,
                    size=len(body),
                    compacted=False,
                    pieces=None,
                    dictionary=None,
                )
                Session.objects.filter(pk=session.pk).update(
                    stored_bytes=F("stored_bytes") + len(body) - row.size
                )
            erase(parts_of([row]), storage)
            result.segments += 1
    if result.segments:
        # What compaction replaced still holds the events as they were, in packs.
        replaced = ReplacedPart.objects.filter(session=session)
        erase(parts_of(replaced), storage)
        replaced.delete()
        result.sessions = 1
        interval = keyframe_interval_ms or round(settings.REPLAY_KEYFRAME_SECONDS * 1000)
        result.keyframes = _recompute_keyframes(session, storage, start_ms, interval)
        track_session(session, storage, whole=True)  # records name what the events show now
    return result


def _recompute_keyframes(
    session: Session, storage: Storage, start_ms: int | None, interval_ms: int
) -> int:
    stale = Keyframe.objects.filter(session=session)
    if start_ms is not None:
        stale = stale.filter(timestamp__gte=start_ms)
    frames = list(stale)
    erase(parts_of(frames), storage)
    for frame in frames:
        if frame.offset is None:
            storage.delete(frame.key)
        frame.delete()
    drop_unreferenced(storage, {frame.key for frame in frames if frame.offset is not None})
    last = session.keyframes.order_by("-after_seq").first()
    Session.objects.filter(pk=session.pk).update(
        keyframe_ms=last.timestamp if last else None, keyframe_stuck_seq=None, keyframe_stuck=""
    )
    session.refresh_from_db()
    return advance_keyframes(session, storage, interval_ms).written


def redact_each(
    sessions: list[Session],
    storage: Storage,
    request: Request,
    *,
    keyframe_interval_ms: int | None = None,
) -> Iterator[tuple[Session, Redacted]]:
    """Redact the sessions one after another, saying how each went."""
    redactor = request.redactor()
    for session in sessions:
        yield (
            session,
            redact_session(
                session,
                storage,
                redactor,
                start_ms=request.start_ms,
                end_ms=request.end_ms,
                keyframe_interval_ms=keyframe_interval_ms,
            ),
        )


# What one request of the API or the UI may cover; `manage.py redact` has no limit.
MAX_SESSIONS_PER_REQUEST = 500
Wrap = Callable[[Iterator[tuple[Session, Redacted]], int], Iterable[tuple[Session, Redacted]]]


def carry_out(
    project: Project,
    request: Request,
    user: Any,
    storage: Storage,
    *,
    via: str,
    keyframe_interval_ms: int | None = None,
    limit: int | None = MAX_SESSIONS_PER_REQUEST,
    wrap: Wrap | None = None,
) -> Redacted:
    """Redact the project's sessions the request covers, writing each redacted session
    to the audit log. `wrap` may wrap the per-session results (a progress bar). A
    storage failure stops it midway; sending the same request again finishes the job
    (redacting what is redacted changes nothing)."""
    sessions = list(sessions_in_range(project, request)[: limit + 1 if limit else None])
    if limit is not None and len(sessions) > limit:
        raise RedactionError(
            f"more than {limit} sessions were recorded in that range: narrow it, or run "
            "manage.py redact, which has no limit"
        )
    total = Redacted()
    results = redact_each(sessions, storage, request, keyframe_interval_ms=keyframe_interval_ms)
    for session, result in wrap(results, len(sessions)) if wrap else results:
        total.add(result)
        if result.sessions:
            detail = {**request.describe(), "events": result.events, "via": via}
            audit(user, Action.REDACT, project, session.id, **detail)
    return total
