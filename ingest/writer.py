"""Per-connection session writers and the committer that stores them together.

A `SessionWriter` buffers one connection's batches. The process's `Committer` wakes every
`REPLAY_FLUSH_SECONDS` (or sooner, when a writer has gathered `REPLAY_FLUSH_BYTES` or
must flush now), takes what every writer buffered, and commits it all in one round: one
worker-thread hop and one database transaction however many sessions there are (group
commit, see `ingest.commit.commit_many`). Each writer then acknowledges what became
durable. Nothing is acknowledged before that, so when a round fails the clients still
hold every unacknowledged batch and resend it after reconnecting: the server's buffer
never has to survive a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from channels.layers import get_channel_layer
from django.conf import settings

from ingest.commit import CommitRequest, Committed, SessionCut, commit
from ingest.compactor import Compactor
from ingest.keyframer import Keyframer
from ingest.plan import GapClaim, Received
from ingest.threads import run_blocking
from replay import metrics
from replay.storage import Storage, get_storage

log = logging.getLogger(__name__)


@dataclass
class _Taken:
    """What a writer handed to one round, kept to put back if the round fails."""

    received: list[Received]
    claims: list[GapClaim]
    # Flushes waiting for this round; one may join while the round runs.
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class SessionWriter:
    def __init__(
        self,
        session_id: str,
        acked: int,
        *,
        committer: Committer,
        on_ack: Callable[[int], Awaitable[None]],
        on_failure: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        self.session_id = session_id
        self.acked = acked
        self.received = acked
        self.committer = committer
        self.on_ack = on_ack
        self.on_failure = on_failure
        self.pending: list[Received] = []
        self.claims: list[GapClaim] = []
        self.pending_bytes = 0
        self.waiters: list[asyncio.Future[None]] = []
        self.in_flight: _Taken | None = None
        self.closed = False
        committer.register(self)

    async def add(self, received: Received) -> None:
        seq = received.batch.seq
        if seq <= self.acked:
            # A resend of something already stored: acknowledge it again.
            await self.on_ack(self.acked)
            return
        if seq <= self.received:
            return  # already buffered; its ack follows the next round
        self.pending.append(received)
        self.received = seq
        self.pending_bytes += received.size
        if self.pending_bytes >= 4 * self.committer.flush_bytes:
            # Storage is not keeping up: stop reading this connection until it has.
            await self.flush()
        elif self.pending_bytes >= self.committer.flush_bytes:
            self.committer.wake()

    async def add_gap(self, claim: GapClaim) -> None:
        if claim.end <= self.received:
            return
        self.claims.append(claim)
        self.received = claim.end

    def has_pending(self) -> bool:
        return bool(self.pending or self.claims)

    def take(self) -> _Taken:
        taken = _Taken(self.pending, self.claims, self.waiters)
        self.pending, self.claims, self.pending_bytes, self.waiters = [], [], 0, []
        self.in_flight = taken
        return taken

    async def settle(self, taken: _Taken, result: Committed | Exception) -> None:
        """The round's outcome for what `take` handed over."""
        self.in_flight = None
        if isinstance(result, Exception):
            # Keep the batches: a later flush (on close) may still store them.
            self.pending = taken.received + self.pending
            self.claims = taken.claims + self.claims
            self.pending_bytes += sum(r.size for r in taken.received)
            for waiter in taken.waiters:
                if not waiter.done():
                    waiter.set_exception(result)
            if not taken.waiters and not self.closed:
                await self.on_failure(result)
            return
        self.acked = max(self.acked, result.acked)
        self.received = max(self.received, self.acked)
        now = time.monotonic()
        for received in taken.received:
            metrics.ACK_LATENCY.observe(now - received.arrived)
        cut = SessionCut(result.cut_reason) if result.cut_reason else None
        for waiter in taken.waiters:
            if not waiter.done():
                waiter.set_exception(cut) if cut else waiter.set_result(None)
        if not self.closed:
            await self.on_ack(self.acked)
            if cut and not taken.waiters:
                await self.on_failure(cut)

    async def flush(self) -> None:
        """Wait until everything buffered now is stored (or raise why it is not;
        SessionCut after acknowledging when the session passed its limit)."""
        waiter = asyncio.get_running_loop().create_future()
        if self.has_pending():
            self.waiters.append(waiter)
            self.committer.wake()
        elif self.in_flight is not None:
            self.in_flight.waiters.append(waiter)
        else:
            return
        await waiter

    async def close(self) -> None:
        """Store what is buffered before the connection goes away. Nobody is left to
        acknowledge, but the next hello's `welcome` reports it."""
        self.closed = True
        try:
            await self.flush()
        except SessionCut:
            pass
        except Exception:
            log.warning(
                "could not store the tail after disconnect; the client resends it",
                extra={"session": self.session_id},
                exc_info=True,
            )
        finally:
            self.committer.unregister(self)


class Committer:
    """Commits the buffered batches of every writer on one event loop, together."""

    def __init__(self, storage: Storage, flush_seconds: float, flush_bytes: int) -> None:
        self.storage = storage
        self.flush_seconds = flush_seconds
        self.flush_bytes = flush_bytes
        self.writers: set[SessionWriter] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.keyframer = Keyframer(
            storage,
            settings.REPLAY_KEYFRAME_SECONDS,
            recording=lambda: [w.session_id for w in self.writers],
            request_snapshot=request_snapshot,
        )
        self._keyframes: asyncio.Task[None] | None = None
        self.compactor = Compactor(storage)
        self._compaction: asyncio.Task[None] | None = None

    def register(self, writer: SessionWriter) -> None:
        self.writers.add(writer)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        if self._keyframes is None or self._keyframes.done():
            self._keyframes = loop.create_task(self.keyframer.run())
        if self._compaction is None or self._compaction.done():
            self._compaction = loop.create_task(self.compactor.run())

    def unregister(self, writer: SessionWriter) -> None:
        self.writers.discard(writer)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        # Rounds start every flush interval (not an interval after the last one ended),
        # so a batch waits at most one interval plus one round. A wake (a writer with
        # enough bytes, or one that must flush now) runs an extra round in between
        # without moving the schedule.
        next_tick = time.monotonic() + self.flush_seconds
        while self.writers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - time.monotonic()))
            if not self._wake.is_set():
                next_tick = max(next_tick + self.flush_seconds, time.monotonic())
            self._wake.clear()
            try:
                await self.round()
            except Exception:  # a bug must not stop every session's commits
                log.exception("commit round failed")

    async def round(self) -> None:
        due = [w for w in self.writers if w.has_pending()]
        if not due:
            return
        taken = [w.take() for w in due]
        requests = [
            CommitRequest(w.session_id, t.received, t.claims)
            for w, t in zip(due, taken, strict=True)
        ]
        results: list[Committed | Exception]
        try:
            results = await run_blocking(commit, requests, self.storage)
        except Exception as exc:
            log.warning("commit round failed", extra={"sessions": len(requests)}, exc_info=True)
            results = [exc] * len(requests)
        await asyncio.gather(*(w.settle(t, r) for w, t, r in zip(due, taken, results, strict=True)))


async def request_snapshot(session_id: str) -> None:
    """Ask the connection recording the session for a real full snapshot."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group_name(session_id), {"type": "session.snapshot"})


def group_name(session_id: str) -> str:
    """The channel-layer group of a session's connections (takeover, snapshots)."""
    return f"session.{session_id}"


_committers: WeakKeyDictionary[asyncio.AbstractEventLoop, Committer] = WeakKeyDictionary()


def committer() -> Committer:
    """The committer of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    found = _committers.get(loop)
    storage = get_storage()
    if found is None or (found.flush_seconds, found.storage) != (
        settings.REPLAY_FLUSH_SECONDS,
        storage,
    ):
        found = _committers[loop] = Committer(
            storage, settings.REPLAY_FLUSH_SECONDS, settings.REPLAY_FLUSH_BYTES
        )
    return found
