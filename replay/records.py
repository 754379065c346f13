"""Computing and storing a session's event-tracking records and friction moments.

`track_session` runs the extractor (`replay.tracking`) over the session's stored events
and the friction detectors (`replay.friction`, with the project's thresholds) over all
its records, and stores the result in one transaction. The keyframer calls it for
sessions that went quiet or have not been tracked for a while (`tracking_due`).

A pass costs what is new, not the whole session: after each pass the extractor (its DOM
mirror, its state and its signals) and the records so far are saved as a checkpoint
(`TrackingCheckpoint`, a database row: it is rewritten every few minutes while a session
records, too often for a storage request each), and the next pass feeds only the
batches after it. Compaction drops it once the session is complete. Records
that may still change while the session goes on (a page view's scroll depth so far, a
page view waiting for its title) are stored as provisional and replaced by every pass,
and so is the friction, which the detectors compute again over all records. Without a
usable checkpoint (the first pass, `manage.py reprocess`, a redaction, a checkpoint from
another version) the session is computed from its start and its rows replaced whole.

What a session may keep is capped (`replay.quota`, `replay.signals`): friction is looked
for only before the session first went over a cap, at most MAX_RECORDS of each type, and
what went over is counted on the session (`records_dropped`).
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from replay.fingerprints import record_fingerprint
from replay.friction import detect
from replay.models import Session, TrackedEvent, TrackingCheckpoint
from replay.quota import MAX_RECORDS
from replay.segments import read_segment, segment_rows
from replay.storage import Storage
from replay.tracking import (
    CLICK,
    CONSOLE,
    CUSTOM,
    ERROR,
    FRICTION,
    INPUT,
    NETWORK,
    Extractor,
    Record,
)

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


# Bumped whenever the extractor's state changes shape: older checkpoints are not used.
CHECKPOINT_VERSION = 4


@dataclass
class Checkpoint:
    """Where the last pass stopped: the extractor after batch `seq`, and every record
    (not friction, not provisional) it produced up to there. Written by this server
    in the session's `TrackingCheckpoint` row and read only by it."""

    version: int
    seq: int
    last_ts: int | None
    extractor: Extractor
    records: list[Record]


def _load_checkpoint(session: Session) -> Checkpoint | None:
    data = TrackingCheckpoint.objects.filter(session_id=session.pk).values_list("data", flat=True)
    found = data.first()
    if found is None:
        return None
    try:
        checkpoint = pickle.loads(zlib.decompress(bytes(found)))
    except Exception:  # a damaged row: compute from the start
        return None
    if not isinstance(checkpoint, Checkpoint) or checkpoint.version != CHECKPOINT_VERSION:
        return None
    return checkpoint


def _save_checkpoint(session: Session, checkpoint: Checkpoint) -> None:
    TrackingCheckpoint.objects.update_or_create(
        session_id=session.pk, defaults={"data": zlib.compress(pickle.dumps(checkpoint), 1)}
    )


def _batches_after(session: Session, storage: Storage, after: int, until: int) -> Any:
    """The stored batches with seq in (after, until], in order, each once."""
    last = after
    for row in segment_rows(session):
        if row.seq_end <= last:
            continue
        if row.seq_start > until:
            break
        for batch in read_segment(row, storage).batches:
            if last < batch.seq <= until:
                last = batch.seq
                yield batch


@dataclass
class Pass:
    new: list[Record]  # records of the batches fed in this pass
    provisional: list[Record]
    friction: list[Record]
    seq: int  # the last batch fed
    whole: bool  # computed from the session's start
    dropped: dict[str, int]  # records past the caps, by kind (`replay.quota`)


def _run(session: Session, storage: Storage, until: int, *, whole: bool) -> tuple[Pass, Checkpoint]:
    checkpoint = None if whole else _load_checkpoint(session)
    if checkpoint is not None and checkpoint.seq != session.tracked_seq:
        checkpoint = None  # rows and checkpoint disagree: start over
    if checkpoint is None:
        extractor = Extractor(session.project.slow_request_ms)
        checkpoint = Checkpoint(CHECKPOINT_VERSION, -1, None, extractor, [])
        whole = True
    extractor = checkpoint.extractor
    new: list[Record] = []
    for batch in _batches_after(session, storage, checkpoint.seq, until):
        for event in batch.events:
            new += extractor.feed(event)
            stamp = event.get("timestamp")
            if isinstance(stamp, int | float):
                checkpoint.last_ts = int(stamp)
        checkpoint.seq = batch.seq
    checkpoint.records += new
    provisional = extractor.provisional(checkpoint.last_ts) if checkpoint.last_ts else []
    for record in provisional:
        record.data["provisional"] = True
    thresholds = session.project.friction_thresholds or {}
    friction, over = _friction([*checkpoint.records, *provisional], extractor, thresholds)
    dropped = extractor.quota.dropped | ({FRICTION: over} if over else {})
    return Pass(new, provisional, friction, checkpoint.seq, whole, dropped), checkpoint


def _friction(
    records: list[Record], extractor: Extractor, thresholds: dict[str, Any]
) -> tuple[list[Record], int]:
    """The session's friction, and how much more was found than is kept. Looked for only
    before the session went over a cap (`Extractor.cut`): past it, what is missing would
    make moments that did not happen (a click whose answer was not kept looks dead). At
    most MAX_RECORDS of each type, the first."""
    cut = extractor.cut
    if cut is not None:
        records = [r for r in records if r.ts < cut]
    found = detect(records, extractor.signals, thresholds)
    kept: list[Record] = []
    counts: dict[str, int] = {}
    for record in found:
        kind = str(record.data.get("type"))
        if (cut is None or record.ts < cut) and counts.get(kind, 0) < MAX_RECORDS:
            counts[kind] = counts.get(kind, 0) + 1
            kept.append(record)
    return kept, len(found) - len(kept)


def _row(session: Session, record: Record) -> TrackedEvent:
    data: dict[str, Any] = record.data
    name = key = ""
    if record.kind == FRICTION:
        name = str(data.get("type", ""))
    elif record.kind == CUSTOM:
        name = str(data.get("name", ""))
    elif record.kind == ERROR:
        name = str(data.get("message", ""))
        key = record_fingerprint(data)
    elif record.kind == CONSOLE:
        name = str(data.get("level", ""))
    elif record.kind == NETWORK:
        status = data.get("status")
        name = "failed" if data.get("failed") or not status else str(status)
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
        fingerprint=key,
        data=data,
    )


def track_session(session: Session, storage: Storage, *, whole: bool = False) -> Tracked:
    """Bring the session's rows up to what is stored: from the last checkpoint, or with
    `whole` (or without a usable checkpoint) from the start, replacing every row."""
    fresh = Session.objects.filter(pk=session.pk).select_related("project").first()
    if fresh is None:
        return Tracked(0, 0, 0.0)
    done, checkpoint = _run(fresh, storage, fresh.acked_seq, whole=whole)
    score = sum(WEIGHTS.get(str(r.data.get("type")), 1.0) for r in done.friction)
    with transaction.atomic():
        # Only if no other pass stored rows since this one read where they stood (the
        # update takes the row's lock and checks again): two passes racing on one
        # session never both add what they found.
        moved = Session.objects.filter(pk=fresh.pk, tracked_seq=fresh.tracked_seq).update(
            tracked_seq=done.seq,
            tracked_at=timezone.now(),
            friction_count=len(done.friction),
            friction_score=score,
            records_dropped=done.dropped,
        )
        if not moved:
            return Tracked(0, 0, 0.0)  # deleted, or another pass was first
        rows = TrackedEvent.objects.filter(session=fresh)
        if done.whole:
            rows.delete()
            added = checkpoint.records
        else:
            rows.filter(Q(kind=FRICTION) | Q(data__provisional=True)).delete()
            added = done.new
        fresh_rows = [*added, *done.provisional, *done.friction]
        TrackedEvent.objects.bulk_create([_row(fresh, r) for r in fresh_rows], batch_size=500)
        _save_checkpoint(fresh, checkpoint)  # with the rows it matches, or not at all
    total = TrackedEvent.objects.filter(session=fresh).count()
    return Tracked(total, len(done.friction), score)
