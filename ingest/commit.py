"""Storing batches durably, exactly once: the step an acknowledgement waits for.

`commit_batches` is the only code that advances a session's `acked_seq`. It writes the
segment object first and then, in one transaction, indexes it and moves `acked_seq`
forward only if nobody else moved it meanwhile (several connections, or a beacon
beside a WebSocket, may carry the same batches). On a lost race it re-reads `acked_seq`
and stores only what is still missing, so a batch is indexed once whatever the
interleaving. A crash between the object write and the commit leaves an unindexed
object that the retry overwrites (same key) or that nothing reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

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
    """A batch as it arrived, with the size of its frame."""

    batch: Batch
    size: int


@dataclass(frozen=True)
class GapClaim:
    """The recorder reports it dropped batches `start`..`end`."""

    start: int
    end: int
    reason: str


class SessionGone(Exception):
    """The session row no longer exists (deleted while recording)."""


@dataclass
class Findings:
    """What a batch of events says about its session."""

    urls: list[str]
    user_id: str | None = None


def summarize(events: Iterable[Event]) -> Findings:
    """The URLs the events show (each page load's Meta and the recorder's SPA
    navigations) and the last user id given to `replay.identify`."""
    found = Findings(urls=[])
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


def _gaps(session_id: str, acked: int, fresh: list[Received], claims: list[GapClaim]) -> list[Gap]:
    """Gap rows for everything between `acked` and the new high-water mark that
    neither arrives in `fresh` nor was already accounted for."""
    items: list[tuple[int, int, GapClaim | None]] = [
        (r.batch.seq, r.batch.seq, None) for r in fresh
    ]
    items += [(c.start, c.end, c) for c in claims]
    items.sort(key=lambda item: item[0])
    expected = acked + 1
    rows = []
    for start, end, claim in items:
        if claim is not None:
            if end >= expected:
                rows.append(
                    Gap(
                        session_id=session_id,
                        seq_start=max(start, expected),
                        seq_end=end,
                        reason=Gap.Reason.CLIENT_DROPPED,
                        detail=claim.reason[:200],
                    )
                )
        elif start > expected:
            rows.append(
                Gap(
                    session_id=session_id,
                    seq_start=expected,
                    seq_end=start - 1,
                    reason=Gap.Reason.SEQUENCE_HOLE,
                )
            )
        expected = max(expected, end + 1)
    return rows


def commit_batches(
    session_id: str,
    received: Sequence[Received],
    storage: Storage,
    claims: Sequence[GapClaim] = (),
) -> int:
    """Store whatever of `received` is above the session's `acked_seq`, record gaps,
    and return the new `acked_seq`. Raises StorageError (nothing acknowledged) or
    SessionGone."""
    unique = {r.batch.seq: r for r in received}
    ordered = [unique[seq] for seq in sorted(unique)]
    for _ in range(MAX_ATTEMPTS):
        try:
            acked = Session.objects.values_list("acked_seq", flat=True).get(pk=session_id)
        except Session.DoesNotExist:
            raise SessionGone(session_id) from None
        fresh = [r for r in ordered if r.batch.seq > acked]
        open_claims = [c for c in claims if c.end > acked]
        if not fresh and not open_claims:
            return acked
        new_acked = max([r.batch.seq for r in fresh] + [c.end for c in open_claims])
        segment = _write_segment(session_id, fresh, storage) if fresh else None
        if _index(
            session_id,
            acked,
            new_acked,
            fresh,
            segment,
            _gaps(session_id, acked, fresh, open_claims),
        ):
            return new_acked
        if segment is not None:
            _discard_unindexed(segment, storage)
    raise StorageError(f"session {session_id}: gave up after {MAX_ATTEMPTS} write races")


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


def _index(
    session_id: str,
    acked: int,
    new_acked: int,
    fresh: list[Received],
    segment: Segment | None,
    gaps: list[Gap],
) -> bool:
    with transaction.atomic():
        counts = (
            {
                "event_count": F("event_count") + segment.event_count,
                "received_bytes": F("received_bytes") + segment.received_bytes,
                "stored_bytes": F("stored_bytes") + segment.size,
                "segment_count": F("segment_count") + 1,
            }
            if segment
            else {}
        )
        moved = Session.objects.filter(pk=session_id, acked_seq=acked).update(
            acked_seq=new_acked, **counts
        )
        if not moved:
            return False
        if segment is not None:
            # The conditional update above holds the row, so this read-modify-write of
            # the session's summary cannot interleave with another commit.
            session = Session.objects.get(pk=session_id)
            if segment.first_ts is not None and segment.last_ts is not None:
                first = session.first_event_ms
                last = session.last_event_ms
                session.first_event_ms = (
                    segment.first_ts if first is None else min(first, segment.first_ts)
                )
                session.last_event_ms = (
                    segment.last_ts if last is None else max(last, segment.last_ts)
                )
            found = summarize(e for r in fresh for e in r.batch.events)
            for url in found.urls:
                session.add_url(url)
            if found.user_id:
                session.user_id = found.user_id
            session.save(
                update_fields=["first_event_ms", "last_event_ms", "urls", "user_id", "updated_at"]
            )
            segment.save()
        Gap.objects.bulk_create(gaps)
    return True


def _discard_unindexed(segment: Segment, storage: Storage) -> None:
    # Another writer indexed these batches first. Its segment may have the very same
    # key (same seq range), in which case the object is the winner's and stays.
    if Segment.objects.filter(key=segment.key).exists():
        return
    try:
        storage.delete(segment.key)
    except StorageError:
        log.warning("could not remove unindexed segment %s", segment.key, exc_info=True)
