"""Storing batches durably, exactly once: the step an acknowledgement waits for.

`commit_batches` is the only code that advances a session's `acked_seq`. It writes the
segment object first and then, in one transaction, indexes it and moves `acked_seq`
forward only if nobody else moved it meanwhile (several connections, or a beacon
beside a WebSocket, may carry the same batches). On a lost race it re-reads `acked_seq`
and stores only what is still missing, so a batch is indexed once whatever the
interleaving. A crash between the object write and the commit leaves an unindexed
object that the retry overwrites (same key) or that nothing reads.

Everything between the old and the new `acked_seq` that is not stored is recorded as a
gap: batches the recorder reports dropping, sequence holes, and what is refused once the
session passes its byte limit (after which the session is cut: nothing more is stored).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F

from replay import metrics
from replay.codec import Batch, Event, encode_segment
from replay.models import Gap, Segment, Session
from replay.segments import segment_key
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

NAVIGATION_TAG = "replay/navigation"
IDENTIFY_TAG = "replay/identify"
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Received:
    """A batch as it arrived, with the size of its frame and when it came."""

    batch: Batch
    size: int
    arrived: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class GapClaim:
    """The recorder reports it dropped batches `start`..`end`."""

    start: int
    end: int
    reason: str


@dataclass(frozen=True)
class Committed:
    acked: int
    cut_reason: str = ""


class SessionGone(Exception):
    """The session row no longer exists (deleted while recording)."""


class SessionCut(Exception):
    """The session passed a limit; nothing more of it is stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Findings:
    """What a batch of events says about its session."""

    urls: list[str] = field(default_factory=list)
    user_id: str | None = None


def summarize(events: Iterable[Event]) -> Findings:
    """The URLs the events show (each page load's Meta and the recorder's SPA
    navigations) and the last user id given to `replay.identify`."""
    found = Findings()
    for event in events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        if event.get("type") == 4 and isinstance(data.get("href"), str):
            found.urls.append(data["href"])
        elif event.get("type") == 5 and isinstance(data.get("payload"), dict):
            payload = data["payload"]
            if data.get("tag") == NAVIGATION_TAG and isinstance(payload.get("href"), str):
                found.urls.append(payload["href"])
            elif data.get("tag") == IDENTIFY_TAG and isinstance(payload.get("id"), str):
                found.user_id = payload["id"][:200]
    return found


@dataclass
class Plan:
    """What one commit attempt will store, decided from the session as read."""

    fresh: list[Received]
    gaps: list[Gap]
    new_acked: int
    cut_reason: str = ""


def plan_commit(
    session: Session,
    ordered: list[Received],
    claims: Sequence[GapClaim],
    max_session_bytes: int,
) -> Plan:
    acked = session.acked_seq
    fresh = [r for r in ordered if r.batch.seq > acked]
    open_claims = [c for c in claims if c.end > acked]
    items: list[tuple[int, int, GapClaim | None]] = [
        (r.batch.seq, r.batch.seq, None) for r in fresh
    ]
    items += [(c.start, c.end, c) for c in open_claims]
    items.sort(key=lambda item: item[0])

    plan = Plan(fresh=[], gaps=[], new_acked=acked)
    budget = max_session_bytes - session.received_bytes
    by_seq = {r.batch.seq: r for r in fresh}
    last_ms = session.last_event_ms
    expected = acked + 1
    for start, end, claim in items:
        if end < expected:
            continue
        if claim is not None or start > expected:
            plan.gaps.append(
                Gap(
                    session_id=session.pk,
                    seq_start=max(start, expected) if claim else expected,
                    seq_end=end if claim else start - 1,
                    reason=Gap.Reason.CLIENT_DROPPED if claim else Gap.Reason.SEQUENCE_HOLE,
                    detail=claim.reason[:200] if claim else "",
                    start_ms=last_ms,
                )
            )
        if claim is None:
            received = by_seq[start]
            if received.size > budget:
                last_seq = max(item[1] for item in items)
                plan.cut_reason = f"session passed its limit of {max_session_bytes} bytes"
                plan.gaps.append(
                    Gap(
                        session_id=session.pk,
                        seq_start=start,
                        seq_end=last_seq,
                        reason=Gap.Reason.SESSION_LIMIT,
                        detail=plan.cut_reason,
                        start_ms=last_ms,
                    )
                )
                plan.new_acked = last_seq
                break
            budget -= received.size
            plan.fresh.append(received)
            stamps = [e["timestamp"] for e in received.batch.events]
            if stamps:
                for gap in plan.gaps:
                    if gap.end_ms is None and gap.reason != Gap.Reason.SESSION_LIMIT:
                        gap.end_ms = round(min(stamps))
                last_ms = round(max(stamps))
        expected = end + 1
        plan.new_acked = end
    return plan


def commit_batches(
    session_id: str,
    received: Sequence[Received],
    storage: Storage,
    claims: Sequence[GapClaim] = (),
    *,
    max_session_bytes: int,
) -> Committed:
    """Store whatever of `received` is above the session's `acked_seq`, record gaps,
    and return the new `acked_seq` (and why the session was cut, if it just was, or is).
    Raises StorageError (nothing acknowledged) or SessionGone."""
    unique = {r.batch.seq: r for r in received}
    ordered = [unique[seq] for seq in sorted(unique)]
    for _ in range(MAX_ATTEMPTS):
        session = Session.objects.filter(pk=session_id).only(*_READ).first()
        if session is None:
            raise SessionGone(session_id)
        if session.cut_reason:
            return Committed(session.acked_seq, session.cut_reason)
        plan = plan_commit(session, ordered, claims, max_session_bytes)
        if plan.new_acked == session.acked_seq and not plan.gaps:
            return Committed(session.acked_seq)
        segment = _write_segment(session_id, plan.fresh, storage) if plan.fresh else None
        if _index(session, plan, segment):
            return Committed(plan.new_acked, plan.cut_reason)
        if segment is not None:
            _discard_unindexed(segment, storage)
    raise StorageError(f"session {session_id}: gave up after {MAX_ATTEMPTS} write races")


def commit(
    session_id: str, pending: list[Received], storage: Storage, claims: list[GapClaim]
) -> Committed:
    """`commit_batches` with the configured limit, counted in the metrics."""
    started = time.monotonic()
    try:
        committed = commit_batches(
            session_id,
            pending,
            storage,
            claims,
            max_session_bytes=settings.REPLAY_MAX_SESSION_BYTES,
        )
    except Exception:
        metrics.STORAGE_ERRORS.inc()
        raise
    metrics.FLUSHES.inc()
    metrics.FLUSH_SECONDS.observe(time.monotonic() - started)
    return committed


_READ = [
    "acked_seq",
    "received_bytes",
    "first_event_ms",
    "last_event_ms",
    "urls",
    "gap_open",
    "cut_reason",
]


def _write_segment(session_id: str, fresh: list[Received], storage: Storage) -> Segment:
    batches = [r.batch for r in fresh]
    data = encode_segment(session_id, batches)
    key = segment_key(session_id, batches[0].seq, batches[-1].seq)
    storage.put(key, data)
    stamps = [e["timestamp"] for b in batches for e in b.events]
    return Segment(
        session_id=session_id,
        seq_start=batches[0].seq,
        seq_end=batches[-1].seq,
        first_ts=round(min(stamps)) if stamps else None,
        last_ts=round(max(stamps)) if stamps else None,
        event_count=len(stamps),
        received_bytes=sum(r.size for r in fresh),
        size=len(data),
        key=key,
    )


def _index(session: Session, plan: Plan, segment: Segment | None) -> bool:
    """One transaction: move `acked_seq` if it is still what was read, and index the
    segment and gaps. Returns False when another commit got there first."""
    changes: dict[str, object] = {"acked_seq": plan.new_acked}
    if segment is not None:
        changes.update(
            event_count=F("event_count") + segment.event_count,
            received_bytes=F("received_bytes") + segment.received_bytes,
            stored_bytes=F("stored_bytes") + segment.size,
            segment_count=F("segment_count") + 1,
        )
        if segment.first_ts is not None and segment.last_ts is not None:
            # Only commits change these, and the conditional update below fails if one
            # ran since they were read, so values computed from that read are current.
            first, last = session.first_event_ms, session.last_event_ms
            changes["first_event_ms"] = (
                segment.first_ts if first is None else min(first, segment.first_ts)
            )
            changes["last_event_ms"] = (
                segment.last_ts if last is None else max(last, segment.last_ts)
            )
        found = summarize(e for r in plan.fresh for e in r.batch.events)
        urls = list(session.urls)
        for url in found.urls:
            session.add_url(url)
        if session.urls != urls:
            changes["urls"] = session.urls
        if found.user_id:
            changes["user_id"] = found.user_id
    missing = sum(
        g.seq_end - g.seq_start + 1 for g in plan.gaps if g.reason != Gap.Reason.SESSION_LIMIT
    )
    if missing:
        changes["missing_batches"] = F("missing_batches") + missing
    closes_open_gap = session.gap_open and segment is not None and segment.first_ts is not None
    still_open = any(g.end_ms is None and g.reason != Gap.Reason.SESSION_LIMIT for g in plan.gaps)
    if closes_open_gap or still_open:
        changes["gap_open"] = still_open
    if plan.cut_reason:
        changes["cut_reason"] = plan.cut_reason
    with transaction.atomic():
        moved = Session.objects.filter(pk=session.pk, acked_seq=session.acked_seq).update(**changes)
        if not moved:
            return False
        if closes_open_gap and segment is not None:
            Gap.objects.filter(session_id=session.pk, end_ms__isnull=True).exclude(
                reason=Gap.Reason.SESSION_LIMIT
            ).update(end_ms=segment.first_ts)
        if segment is not None:
            segment.save()
        if plan.gaps:
            _save_gaps(session.pk, plan.gaps)
    return True


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


def _discard_unindexed(segment: Segment, storage: Storage) -> None:
    # Another writer indexed these batches first. Its segment may have the very same
    # key (same seq range), in which case the object is the winner's and stays.
    if Segment.objects.filter(key=segment.key).exists():
        return
    try:
        storage.delete(segment.key)
    except StorageError:
        log.warning("could not remove unindexed segment", extra={"key": segment.key}, exc_info=True)
