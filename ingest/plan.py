"""Deciding what a commit stores: which batches are new, which are gaps, where the
session's byte limit cuts it. Works on the session row as read; no IO."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.scan import EventScan
from replay.codec import PackedBatch
from replay.models import Gap, Session


@dataclass(frozen=True)
class Received:
    """A batch as it arrived: its events' bytes and what the scan found in them (see
    ingest.scan), the size of its frame, and when it came."""

    batch: PackedBatch
    size: int
    urls: tuple[str, ...] = ()
    user_id: str | None = None
    snapshot: bool = False
    snapshot_ts: int | float | None = None  # see ingest.scan.EventScan
    arrived: float = field(default_factory=time.monotonic)

    @classmethod
    def scanned(cls, seq: int, packed: bytes, scan: EventScan, size: int) -> Received:
        batch = PackedBatch(seq, packed, scan.count, scan.first_ts, scan.last_ts)
        return cls(batch, size, scan.urls, scan.user_id, scan.snapshot, scan.snapshot_ts)


@dataclass(frozen=True)
class GapClaim:
    """The recorder reports it dropped batches `start`..`end`."""

    start: int
    end: int
    reason: str


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
            first_ts, last_ts = received.batch.first_ts, received.batch.last_ts
            if first_ts is not None and last_ts is not None:
                for gap in plan.gaps:
                    if gap.end_ms is None and gap.reason != Gap.Reason.SESSION_LIMIT:
                        gap.end_ms = round(first_ts)
                last_ms = round(last_ts)
        expected = end + 1
        plan.new_acked = end
    return plan
