"""Deciding what a commit stores: which batches are new, which are gaps, where the
session's byte limit cuts it, and what the events say about the session (its URLs, its
user). Works on the session row as read; no IO."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from replay.codec import Batch, Event
from replay.models import Gap, Session

NAVIGATION_TAG = "replay/navigation"
IDENTIFY_TAG = "replay/identify"


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
