"""Storing batches durably, exactly once: the step an acknowledgement waits for.

`commit_many` is the only code that advances sessions' `acked_seq`, for any number of
sessions at once (the WebSocket writers of a process commit together, once per flush
interval; the HTTP endpoint commits one). For each session it plans from the row as read
(see `ingest.plan`) and encodes a segment; the round's segments are written as one
object, a pack (see `replay.packs`: one storage request per round, however many sessions
it holds); and then, in one transaction for all of them, it locks the rows (in id
order, so processes never deadlock), checks that nobody moved `acked_seq` since it was
read, and indexes segment, gaps and counters (`ingest.indexing`). A session whose
row moved (another connection, or a beacon beside a WebSocket, stored some of the same
batches) is planned again from the new row, so a batch is indexed once whatever the
interleaving. A segment written but not indexed (its session lost such a race) is
overwritten with zeros in its pack. A crash between the write and the commit leaves a
pack nothing points into, which `replay.packs.drop_unreferenced` removes.

A round is shared by every session of the process, so nothing about one session may
fail it: planning, encoding and writing fail per session, and when the round's
transaction fails on one session's rows, each session is indexed in a transaction of
its own. Only a database that cannot be reached fails every session of the round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from ingest.indexing import SegmentRow, Staged, index_round
from ingest.plan import GapClaim, Received, plan_commit
from replay import metrics
from replay.codec import encode_segment
from replay.models import Pack, Session
from replay.packs import PackWriter, erase
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
_encoders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="segment-encode")

# The columns a commit reads before it decides what to store.
_READ = [
    "acked_seq",
    "received_bytes",
    "first_event_ms",
    "last_event_ms",
    "urls",
    "gap_open",
    "cut_reason",
]


@dataclass(frozen=True)
class Committed:
    acked: int
    cut_reason: str = ""


@dataclass(frozen=True)
class CommitRequest:
    session_id: str
    received: Sequence[Received]
    claims: Sequence[GapClaim] = field(default_factory=tuple)


class SessionGone(Exception):
    """The session row no longer exists (deleted while recording)."""


class SessionCut(Exception):
    """The session passed a limit; nothing more of it is stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def commit_batches(
    session_id: str,
    received: Sequence[Received],
    storage: Storage,
    claims: Sequence[GapClaim] = (),
    *,
    max_session_bytes: int,
) -> Committed:
    """One session's `commit_many`. Raises StorageError or SessionGone."""
    request = CommitRequest(session_id, received, claims)
    result = commit_many([request], storage, max_session_bytes=max_session_bytes)[0]
    if isinstance(result, Exception):
        raise result
    return result


def commit(requests: list[CommitRequest], storage: Storage) -> list[Committed | Exception]:
    """`commit_many` with the configured limit, counted in the metrics. A database
    failure fails every request of the round (they are retried by their clients)."""
    started = time.monotonic()
    try:
        results = commit_many(
            requests, storage, max_session_bytes=settings.REPLAY_MAX_SESSION_BYTES
        )
    except Exception:
        metrics.STORAGE_ERRORS.inc(len(requests))
        raise
    metrics.FLUSHES.inc(sum(1 for r in results if isinstance(r, Committed)))
    metrics.STORAGE_ERRORS.inc(sum(1 for r in results if isinstance(r, StorageError)))
    metrics.FLUSH_SECONDS.observe(time.monotonic() - started)
    return results


def commit_many(
    requests: Sequence[CommitRequest], storage: Storage, *, max_session_bytes: int
) -> list[Committed | Exception]:
    """Store what each request has above its session's `acked_seq`; for each request,
    the session's new `acked_seq` (and why it was cut, if it is), or the exception that
    stopped it (StorageError, SessionGone, or whatever failed while storing that session
    alone: one session's failure never fails another's). Requests for the same session
    (a connection closing as the one taking it over resends the same batches) are
    merged and get the same answer. A database that cannot be reached fails them all."""
    merged: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        merged.setdefault(request.session_id, []).append(index)
    unique = [
        CommitRequest(
            session_id,
            [r for i in indexes for r in requests[i].received],
            [c for i in indexes for c in requests[i].claims],
        )
        for session_id, indexes in merged.items()
    ]
    results: list[Committed | Exception | None] = [None] * len(unique)
    waiting = list(range(len(unique)))
    for _ in range(MAX_ATTEMPTS):
        if not waiting:
            break
        waiting = _attempt(unique, waiting, results, storage, max_session_bytes)
    for index in waiting:
        results[index] = StorageError(f"gave up after {MAX_ATTEMPTS} write races")
    answers: list[Committed | Exception] = [StorageError("not committed")] * len(requests)
    for result, indexes in zip(results, merged.values(), strict=True):
        for index in indexes:
            answers[index] = result if result is not None else StorageError("not committed")
    return answers


def _attempt(
    requests: Sequence[CommitRequest],
    waiting: list[int],
    results: list[Committed | Exception | None],
    storage: Storage,
    max_session_bytes: int,
) -> list[int]:
    """One round over the waiting requests; returns those that lost a race."""
    ids = {requests[i].session_id for i in waiting}
    rows = {s.pk: s for s in Session.objects.filter(pk__in=ids).only(*_READ)}
    staged: list[Staged] = []
    for index in waiting:
        request = requests[index]
        session = rows.get(request.session_id)
        if session is None:
            results[index] = SessionGone(request.session_id)
            continue
        if session.cut_reason:
            results[index] = Committed(session.acked_seq, session.cut_reason)
            continue
        unique = {r.batch.seq: r for r in request.received}
        ordered = [unique[seq] for seq in sorted(unique)]
        try:
            plan = plan_commit(session, ordered, request.claims, max_session_bytes)
        except Exception as exc:
            results[index] = _failed(session.pk, exc)
            continue
        if plan.new_acked == session.acked_seq and not plan.gaps:
            results[index] = Committed(session.acked_seq)
            continue
        staged.append(Staged(index, session, plan))

    _write_segments(staged, storage, results)
    ready = [s for s in staged if results[s.index] is None]
    if not ready:
        return []
    try:
        winners = _index_if_unmoved(ready)
    except (OperationalError, InterfaceError):
        raise  # the database itself is out of reach: every session waits for it
    except Exception:
        # Something in one session's rows failed the round's transaction: index each
        # session in a transaction of its own, so that only that one fails.
        winners = []
        for entry in ready:
            try:
                winners += _index_if_unmoved([entry])
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:
                results[entry.index] = _failed(entry.session.pk, exc)
    won = {id(entry) for entry in winners}
    lost = [entry for entry in ready if id(entry) not in won]
    _erase_unindexed(lost, storage)
    for entry in winners:
        results[entry.index] = Committed(entry.plan.new_acked, entry.plan.cut_reason)
    return [entry.index for entry in lost if results[entry.index] is None]


def _failed(session_id: str, exc: Exception) -> Exception:
    log.error("storing a session failed", extra={"session": session_id}, exc_info=exc)
    return exc


def _index_if_unmoved(entries: list[Staged]) -> list[Staged]:
    """Index the entries whose rows nobody moved since they were read, in one
    transaction; the winners."""
    with transaction.atomic():
        locked = dict(
            Session.objects.select_for_update()
            .filter(pk__in=[s.session.pk for s in entries])
            .order_by("pk")
            .values_list("pk", "acked_seq")
        )
        winners = [s for s in entries if locked.get(s.session.pk) == s.session.acked_seq]
        index_round(winners)
    return winners


def _encode(entry: Staged) -> tuple[SegmentRow, bytes] | None:
    if not entry.plan.fresh:
        return None
    session_id = entry.session.pk
    batches = [r.batch for r in entry.plan.fresh]
    data = encode_segment(session_id, batches)
    firsts = [b.first_ts for b in batches if b.first_ts is not None]
    lasts = [b.last_ts for b in batches if b.last_ts is not None]
    segment = SegmentRow(
        session_id=session_id,
        seq_start=batches[0].seq,
        seq_end=batches[-1].seq,
        first_ts=round(min(firsts)) if firsts else None,
        last_ts=round(max(lasts)) if lasts else None,
        event_count=sum(b.count for b in batches),
        received_bytes=sum(r.size for r in entry.plan.fresh),
        size=len(data),
        key="",  # the round's pack, once written
        offset=None,
        keyframe=any(r.snapshot for r in entry.plan.fresh),
        snapshot_ts=next(
            (round(r.snapshot_ts) for r in entry.plan.fresh if r.snapshot_ts is not None), None
        ),
    )
    return segment, data


def _encode_or_fail(entry: Staged) -> tuple[SegmentRow, bytes] | Exception | None:
    try:
        return _encode(entry)
    except Exception as exc:
        return exc


def _write_segments(
    staged: list[Staged], storage: Storage, results: list[Committed | Exception | None]
) -> None:
    """Encode each staged plan's batches, and store them all in one pack; an encoding
    failure stops only its own request. Compression releases the interpreter lock, so
    encoding in the pool uses the other cores."""
    encoded = (
        list(_encoders.map(_encode_or_fail, staged))
        if len(staged) > 1
        else [_encode_or_fail(s) for s in staged]
    )
    writing: list[tuple[Staged, SegmentRow, bytes]] = []
    for entry, pair in zip(staged, encoded, strict=True):
        if isinstance(pair, Exception):
            results[entry.index] = _failed(entry.session.pk, pair)
        elif pair is not None:
            writing.append((entry, *pair))
    if not writing:
        return
    pack = PackWriter(Pack.Kind.ROUND)
    try:
        placed = [pack.add(data) for _, _, data in writing]
        pack.write(storage)
    except StorageError as exc:
        for entry, _, _ in writing:
            results[entry.index] = exc
        return
    for (entry, segment, _), (key, offset) in zip(writing, placed, strict=True):
        entry.segment = replace(segment, key=key, offset=offset)


def _erase_unindexed(entries: list[Staged], storage: Storage) -> None:
    # Another writer indexed these batches first, or indexing them failed: nothing
    # points at their parts, which must not outlive a deletion of the session.
    parts = [(e.segment.key, e.segment.offset, e.segment.size) for e in entries if e.segment]
    try:
        erase([(key, offset, size) for key, offset, size in parts if offset is not None], storage)
    except StorageError:
        # The pack is removed with its round's other parts, at the latest.
        log.warning("could not erase unindexed segments", exc_info=True)
