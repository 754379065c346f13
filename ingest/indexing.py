"""Indexing a round's segments, the last step of a commit (`ingest.commit`): inside the
round's transaction, with the session rows locked and unchanged since the commit read
them, each session's counters, URLs, user and open gap are updated, its segment row is
inserted and its gaps are saved (a gap joined to the one before it when they touch)."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any

from django.db import connection
from django.utils import timezone

from ingest.plan import Plan
from replay.models import Gap, Segment, Session


@dataclass(frozen=True)
class SegmentRow:
    """An index row for `replay.models.Segment`, inserted without building models."""

    session_id: str
    seq_start: int
    seq_end: int
    first_ts: int | None
    last_ts: int | None
    event_count: int
    received_bytes: int
    size: int
    key: str
    offset: int | None  # where it starts in its pack (`replay.packs`)
    keyframe: bool  # holds a real full snapshot: the player can start there
    snapshot_ts: int | None  # when the first of them starts (its Meta)
    compacted: bool = False  # ingest writes segments; compaction writes blocks


@dataclass(eq=False)
class Staged:
    """One session's part of a round: its row as read, its plan, and its segment once
    written."""

    index: int
    session: Session
    plan: Plan
    segment: SegmentRow | None = None


_UPDATE = """
UPDATE replay_session SET
    acked_seq = %s,
    event_count = event_count + %s,
    received_bytes = received_bytes + %s,
    stored_bytes = stored_bytes + %s,
    segment_count = segment_count + %s,
    missing_batches = missing_batches + %s,
    first_event_ms = %s,
    last_event_ms = %s,
    urls = %s,
    user_id = COALESCE(NULLIF(%s, ''), user_id),
    gap_open = %s,
    cut_reason = %s,
    updated_at = %s
WHERE id = %s
"""


def index_round(winners: list[Staged]) -> None:
    """Inside the round's transaction, with the rows locked and unchanged since they
    were read: values computed from that read are current (only commits change them)."""
    urls_field = Session._meta.get_field("urls")
    # Raw SQL gets no field adaptation: format the time as the backend stores it.
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = []
    for entry in winners:
        session, plan, segment = entry.session, entry.plan, entry.segment
        first, last = session.first_event_ms, session.last_event_ms
        user_id = ""
        for received in plan.fresh:
            for url in received.urls:
                session.add_url(url)
            user_id = received.user_id or user_id
        if segment is not None and segment.first_ts is not None and segment.last_ts is not None:
            first = segment.first_ts if first is None else min(first, segment.first_ts)
            last = segment.last_ts if last is None else max(last, segment.last_ts)
        counted = [g for g in plan.gaps if g.reason != Gap.Reason.SESSION_LIMIT]
        closes_open_gap = session.gap_open and segment is not None and segment.first_ts is not None
        still_open = any(g.end_ms is None for g in counted)
        if closes_open_gap:
            Gap.objects.filter(session_id=session.pk, end_ms__isnull=True).exclude(
                reason=Gap.Reason.SESSION_LIMIT
            ).update(end_ms=segment.first_ts if segment else None)
        if plan.gaps:
            _save_gaps(session.pk, plan.gaps)
        rows.append(
            (
                plan.new_acked,
                segment.event_count if segment else 0,
                segment.received_bytes if segment else 0,
                segment.size if segment else 0,
                1 if segment else 0,
                sum(g.seq_end - g.seq_start + 1 for g in counted),
                first,
                last,
                urls_field.get_db_prep_save(session.urls, connection),
                user_id,
                still_open or (session.gap_open and not closes_open_gap),
                plan.cut_reason,
                now,
                session.pk,
            )
        )
    segments = [e.segment for e in winners if e.segment is not None]
    with connection.cursor() as cursor:
        cursor.executemany(_UPDATE, rows)
        if segments:
            cursor.executemany(_insert_segment(), [_segment_values(s, now) for s in segments])


def _insert_segment() -> str:
    quote = connection.ops.quote_name
    columns = [*(f.name for f in fields(SegmentRow)), "created_at"]
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {quote(Segment._meta.db_table)} ({names}) VALUES ({marks})"


def _segment_values(row: SegmentRow, now: object) -> tuple[Any, ...]:
    return (*astuple(row), now)


def _save_gaps(session_id: str, gaps: list[Gap]) -> None:
    """Store gaps, joining each to the one before it when they touch and say the same
    thing: a recorder reports a long outage in several pieces, the viewer sees one."""
    previous = Gap.objects.filter(session_id=session_id).order_by("-seq_end").first()
    fresh: list[Gap] = []
    for gap in gaps:
        if (
            previous is not None
            and previous.seq_end + 1 == gap.seq_start
            and (previous.reason, previous.detail) == (gap.reason, gap.detail)
        ):
            previous.seq_end = gap.seq_end
            previous.end_ms = gap.end_ms
            if previous.pk is not None:
                previous.save(update_fields=["seq_end", "end_ms"])
            continue
        fresh.append(gap)
        previous = gap
    Gap.objects.bulk_create(fresh)
