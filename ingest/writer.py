"""The per-connection session writer: buffers batches, stores them, acknowledges.

Batches wait in memory for at most `flush_seconds` (or until `flush_bytes` have
gathered), then one segment is committed (see `ingest.commit`) and the client gets an
`ack` for the new `acked_seq`. Nothing is acknowledged before it is durable, so when a
flush fails the client still holds every unacknowledged batch and resends it after
reconnecting: the server's buffer never has to survive a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ingest.commit import GapClaim, Received, SessionCut, commit
from ingest.threads import run_blocking
from replay import metrics
from replay.codec import Batch
from replay.storage import Storage

log = logging.getLogger(__name__)


class SessionWriter:
    def __init__(
        self,
        session_id: str,
        acked: int,
        *,
        storage: Storage,
        flush_seconds: float,
        flush_bytes: int,
        on_ack: Callable[[int], Awaitable[None]],
        on_failure: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        self.session_id = session_id
        self.acked = acked
        self.received = acked
        self.storage = storage
        self.flush_seconds = flush_seconds
        self.flush_bytes = flush_bytes
        self.on_ack = on_ack
        self.on_failure = on_failure
        self.pending: list[Received] = []
        self.claims: list[GapClaim] = []
        self.pending_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(self, batch: Batch, size: int) -> None:
        if batch.seq <= self.acked:
            # A resend of something already stored: acknowledge it again.
            await self.on_ack(self.acked)
            return
        if batch.seq <= self.received:
            return  # already buffered; its ack follows the flush
        self.pending.append(Received(batch, size))
        self.received = batch.seq
        self.pending_bytes += size
        await self._schedule()

    async def add_gap(self, claim: GapClaim) -> None:
        if claim.end <= self.received:
            return
        self.claims.append(claim)
        self.received = claim.end
        await self._schedule()

    async def _schedule(self) -> None:
        if self.pending_bytes >= self.flush_bytes:
            # Flushing inline stops this connection from reading more frames until
            # storage has caught up: backpressure instead of unbounded memory.
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_seconds)
        self._timer = None
        try:
            await self.flush()
        except Exception as exc:
            await self.on_failure(exc)

    async def flush(self, *, send_ack: bool = True) -> None:
        """Commit everything buffered. On failure the batches stay buffered (the
        client will resend them anyway) and the exception propagates. Raises
        SessionCut, after acknowledging, when the session has passed its limit."""
        async with self._lock:
            pending, claims = self.pending, self.claims
            if not pending and not claims:
                return
            self.pending, self.claims, self.pending_bytes = [], [], 0
            try:
                committed = await run_blocking(
                    commit, self.session_id, pending, self.storage, claims
                )
            except BaseException:
                self.pending = pending + self.pending
                self.claims = claims + self.claims
                self.pending_bytes += sum(r.size for r in pending)
                raise
            self.acked = max(self.acked, committed.acked)
            self.received = max(self.received, self.acked)
        now = time.monotonic()
        for received in pending:
            metrics.ACK_LATENCY.observe(now - received.arrived)
        if send_ack:
            await self.on_ack(self.acked)
        if committed.cut_reason:
            raise SessionCut(committed.cut_reason)

    async def close(self) -> None:
        """Store what is buffered before the connection goes away. Nobody is left to
        acknowledge, but the next hello's `welcome` reports it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            await self.flush(send_ack=False)
        except SessionCut:
            pass
        except Exception:
            log.warning(
                "could not store the tail after disconnect; the client resends it",
                extra={"session": self.session_id},
                exc_info=True,
            )
