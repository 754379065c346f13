"""Computing and storing a session's event-tracking records and friction moments.

`track_session` reads the session's stored events from the start, runs the extractor
(`replay.tracking`) and the friction detectors (`replay.friction`, with the project's
thresholds), and replaces the session's rows in one transaction, so running it again
(after more events arrived, or after a detector changed: `manage.py reprocess`) leaves
exactly one set of records. The keyframer calls it for sessions that went quiet or
have not been tracked for a while (`tracking_due`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from replay.friction import FRICTION, detect
from replay.models import Session, TrackedEvent
from replay.segments import iter_events
from replay.storage import Storage
from replay.tracking import CLICK, CUSTOM, ERROR, INPUT, Extractor, Record

# Records of a session are computed once it has been quiet this long, and at least this
# often while it goes on recording: each pass reads the session from its start, so a
# large session is done less often while it records.
QUIET = timedelta(seconds=10)
EVERY = timedelta(minutes=2)
LARGE_BYTES = 10 * 1024 * 1024
EVERY_LARGE = timedelta(minutes=20)
# How much each kind of friction weighs in a session's friction score.
WEIGHTS = {
    "rage_click": 3.0,
    "error_click": 3.0,
    "dead_click": 2.0,
    "form_abandonment": 2.0,
    "thrashed_cursor": 1.0,
    "quick_back": 1.0,
    "excessive_scrolling": 1.0,
}


@dataclass(frozen=True)
class Tracked:
    records: int
    friction: int
    score: float


def tracking_due(sessions: QuerySet[Session]) -> QuerySet[Session]:
    """The sessions whose records lag behind what is stored, and that went quiet or
    were last tracked long ago."""
    now = timezone.now()
    behind = Q(tracked_seq__lt=F("acked_seq")) & Q(first_event_ms__isnull=False)
    small = Q(stored_bytes__lt=LARGE_BYTES)
    waited = (
        Q(updated_at__lte=now - QUIET)
        | Q(tracked_at__isnull=True)
        | (small & Q(tracked_at__lte=now - EVERY))
        | Q(tracked_at__lte=now - EVERY_LARGE)
    )
    return sessions.filter(behind & waited)


def compute(session: Session, storage: Storage) -> list[Record]:
    """Every record and friction moment of the session's stored events, in time order."""
    extractor = Extractor()
    records: list[Record] = []
    last = None
    for event in iter_events(session, storage):
        records += extractor.feed(event)
        stamp = event.get("timestamp")
        if isinstance(stamp, int | float):
            last = int(stamp)
    if last is not None:
        records += extractor.close(last)
    thresholds = session.project.friction_thresholds or {}
    friction = detect(records, extractor.signals, thresholds)
    return sorted([*records, *friction], key=lambda r: r.ts)


def _row(session: Session, record: Record) -> TrackedEvent:
    data: dict[str, Any] = record.data
    name = ""
    if record.kind == FRICTION:
        name = str(data.get("type", ""))
    elif record.kind == CUSTOM:
        name = str(data.get("name", ""))
    elif record.kind == ERROR:
        name = str(data.get("message", ""))
    selector = str(data.get("selector") or "") if record.kind in (CLICK, INPUT, FRICTION) else ""
    return TrackedEvent(
        session=session,
        project_id=session.project_id,
        tab=session.tab,
        ts=record.ts,
        kind=record.kind,
        name=name[:200],
        url=record.url[:2000],
        selector=selector[:1000],
        text=str(data.get("text") or "")[:200],
        detector=str(data.get("detector") or ""),
        data=data,
    )


def track_session(session: Session, storage: Storage) -> Tracked:
    """Compute the session's records and replace its rows with them."""
    acked = Session.objects.filter(pk=session.pk).values_list("acked_seq", flat=True).first()
    if acked is None:
        return Tracked(0, 0, 0.0)
    records = compute(session, storage)
    friction = [r for r in records if r.kind == FRICTION]
    score = sum(WEIGHTS.get(str(r.data.get("type")), 1.0) for r in friction)
    with transaction.atomic():
        if not Session.objects.select_for_update().filter(pk=session.pk).exists():
            return Tracked(0, 0, 0.0)  # deleted meanwhile
        TrackedEvent.objects.filter(session=session).delete()
        TrackedEvent.objects.bulk_create([_row(session, r) for r in records], batch_size=500)
        Session.objects.filter(pk=session.pk).update(
            tracked_seq=acked,
            tracked_at=timezone.now(),
            friction_count=len(friction),
            friction_score=score,
        )
    return Tracked(len(records), len(friction), score)
