"""The WebSocket consumer at /ingest/ws: protocol v1 (see README.md, "Wire protocol").

It stays thin: frames are parsed by `ingest.protocol`, sessions are opened by
`ingest.sessions`, and batches go to a `SessionWriter`. Every refusal is a
`ProtocolError` and is turned into an `error` frame plus a close code in one place,
`_fail`; a refusal never touches another connection's session.

Takeover: each connection joins the channel-layer group of its session after telling
the group it is there. An older connection of the same session, in this process or any
other sharing the channel layer, hears that, closes with 4409, and stores what it had
buffered on the way out; the client resends whatever the new `welcome` does not cover,
and commits are idempotent by sequence number, so nothing is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import transaction

from ingest import protocol
from ingest.arrival import after_what_precedes
from ingest.cleaning import (
    STRICT,
    clean_packed,
    clean_packed_with,
    clean_pool,
    clean_received,
    drop_pool,
)
from ingest.cleaning import needed as cleaning_needed
from ingest.commit import SessionCut
from ingest.failures import refusal
from ingest.limits import TokenBucket
from ingest.plan import GapClaim, Received
from ingest.protocol import ClientFrame, CloseCode, Hello, ProtocolError
from ingest.sessions import Opened, authorize, open_session, scope_header
from ingest.threads import run_blocking
from ingest.writer import SessionWriter, committer, group_name
from replay import devtools, metrics
from replay.models import Session
from replay.scrub import Scrubber

log = logging.getLogger(__name__)

# Frames larger than this are decoded in a worker thread, not on the event loop.
_INLINE_DECODE_BYTES = 128 * 1024


def limits() -> protocol.Limits:
    return {
        "max_frame_bytes": settings.REPLAY_MAX_FRAME_BYTES,
        "max_batch_events": settings.REPLAY_MAX_BATCH_EVENTS,
        "flush_ms": round(settings.REPLAY_FLUSH_SECONDS * 1000),
    }


def _open(hello: Hello, origin: str | None, user_agent: str) -> Opened:
    project = authorize(hello["key"], origin)
    return open_session(
        project,
        hello["session"],
        secret=hello.get("secret"),
        tab=hello["tab"],
        page=hello["page"],
        user=hello.get("user"),
        user_agent=user_agent,
    )


def _mark_ended(session_id: str) -> None:
    with transaction.atomic():
        Session.objects.filter(pk=session_id).update(ended=True)


class IngestConsumer(AsyncWebsocketConsumer):
    writer: SessionWriter | None = None
    scrubber: Scrubber | None = None  # the project's, when it scrubs recordings
    policy = STRICT  # what of requests the project records
    # The session was recording before this connection: batches it skips may be on their
    # way by another path (`ingest.arrival`).
    resumed = False
    closing = False
    group: str | None = None
    _watchdog: asyncio.Task[None] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections around every message, at the cost
        # of a hop to a worker thread. This consumer never uses the database on the
        # event loop (see ingest.threads), and at thousands of frames a second that hop
        # was a large share of the server's time.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.frames = TokenBucket(settings.REPLAY_FRAMES_PER_SECOND, settings.REPLAY_FRAMES_BURST)
        self.last_frame = time.monotonic()
        self.log_extra: dict[str, Any] = {"client": (self.scope.get("client") or ["?"])[0]}
        await self.accept()
        self._watchdog = asyncio.create_task(self._expect_hello())

    async def _expect_hello(self) -> None:
        await asyncio.sleep(settings.REPLAY_HELLO_TIMEOUT)
        if self.writer is None:
            await self._fail(ProtocolError(CloseCode.HELLO_TIMEOUT, "no hello in time"))

    async def _watch_idle(self) -> None:
        """Closes a connection that has gone quiet: idle tabs should not hold sockets."""
        idle = settings.REPLAY_IDLE_TIMEOUT
        while not self.closing:
            quiet = time.monotonic() - self.last_frame
            if quiet >= idle:
                reason = f"idle for {idle:g} seconds"
                await self._fail(ProtocolError(CloseCode.HELLO_TIMEOUT, reason))
                return
            await asyncio.sleep(idle - quiet)

    async def disconnect(self, code: int) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.group is not None:
            with contextlib.suppress(Exception):  # the group expires on its own
                await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.writer is not None:
            metrics.SESSIONS_OPEN.dec()
            await self.writer.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        self.last_frame = time.monotonic()
        try:
            if not self.frames.take():
                raise ProtocolError(CloseCode.RATE_LIMITED, "too many frames per second")
            if bytes_data is None:
                raise ProtocolError(CloseCode.MALFORMED, "frames must be binary msgpack")
            frame = await self._parse(bytes_data)
            await self._handle(frame, len(bytes_data))
        except Exception as exc:  # whatever went wrong, this connection alone is closed
            await self._fail(exc)

    async def _parse(self, data: bytes) -> ClientFrame:
        options = {
            "max_frame_bytes": settings.REPLAY_MAX_FRAME_BYTES,
            "max_events": settings.REPLAY_MAX_BATCH_EVENTS,
        }
        if len(data) <= _INLINE_DECODE_BYTES or len(data) > options["max_frame_bytes"]:
            return protocol.parse_frame(data, **options)
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: protocol.parse_frame(data, **options)
        )

    async def _handle(self, frame: ClientFrame, size: int) -> None:
        if self.writer is None:
            if frame["type"] != "hello":
                raise ProtocolError(CloseCode.MALFORMED, "the first frame must be hello")
            await self._start(frame)
            return
        if frame["type"] == "batch":
            metrics.BATCHES_RECEIVED.inc()
            metrics.BYTES_RECEIVED.inc(size)
            metrics.EVENTS_RECEIVED.inc(frame["scan"].count)
            received = Received.scanned(frame["seq"], frame["packed"], frame["scan"], size)
            if self.resumed and frame["seq"] > self.writer.received + 1:
                # Skips ahead: the batches between may come by another path (the
                # previous page's beacons) and are waited for a while.
                await after_what_precedes(self.writer.session_id, self.writer.acked, frame["seq"])
            received = await self._clean(received, self.scrubber, self.policy)
            await self.writer.add(received)
        elif frame["type"] == "gap":
            await self.writer.add_gap(GapClaim(frame["start"], frame["end"], frame["reason"]))
        elif frame["type"] == "end":
            await self.writer.flush()
            await run_blocking(_mark_ended, self.writer.session_id)
            self.closing = True
            await self.close(code=1000)
        else:
            raise ProtocolError(CloseCode.MALFORMED, "hello was already received")

    async def _start(self, hello: Hello) -> None:
        origin = scope_header(self.scope, b"origin")
        user_agent = scope_header(self.scope, b"user-agent") or ""
        opened = await run_blocking(_open, hello, origin, user_agent)
        self.log_extra["session"] = opened.session_id
        if opened.cut_reason:
            raise SessionCut(opened.cut_reason)
        if hello["acked"] > opened.acked:
            log.warning(
                "client saw a higher ack than the server holds",
                extra={
                    **self.log_extra,
                    "client_acked": hello["acked"],
                    "server_acked": opened.acked,
                },
            )
        self.scrubber = opened.scrubber
        self.policy = devtools.Policy.of(opened.config)
        self.resumed = not opened.created
        await self._announce(group_name(opened.session_id))
        self.writer = SessionWriter(
            opened.session_id,
            opened.acked,
            committer=committer(),
            on_ack=self._send_ack,
            on_failure=self._writer_failed,
        )
        metrics.SESSIONS_OPEN.inc()
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.create_task(self._watch_idle())
        welcome = protocol.welcome(
            opened.session_id, opened.acked, limits(), opened.config, opened.secret
        )
        await self._send_frame(welcome)

    async def _clean(
        self, received: Received, scrubber: Scrubber | None, policy: devtools.Policy
    ) -> Received:
        packed = received.batch.packed
        if cleaning_needed(packed, scrubber):  # most batches are not: no work, no worker
            loop = asyncio.get_running_loop()
            patterns = None if scrubber is None else scrubber.patterns
            try:
                packed = await loop.run_in_executor(
                    clean_pool(), clean_packed_with, packed, patterns, policy
                )
            except BrokenProcessPool:
                drop_pool()
                packed = await loop.run_in_executor(None, clean_packed, packed, scrubber, policy)
        return clean_received(received, scrubber, packed, policy)

    async def _send_frame(self, data: bytes) -> None:
        try:
            await self.send(bytes_data=data)
        except Exception:  # the peer has gone (Daphne raises autobahn's Disconnected)
            self.closing = True

    async def _announce(self, group: str) -> None:
        """Tell older connections of this session that this one owns it now, then join
        the group to hear of newer ones. If the channel layer fails, recording goes on:
        commits are idempotent, so an older connection left open loses nothing."""
        try:
            await self.channel_layer.group_send(
                group, {"type": "session.takeover", "by": self.channel_name}
            )
            await self.channel_layer.group_add(group, self.channel_name)
            self.group = group
        except Exception:
            log.warning(
                "could not announce the session to the channel layer",
                extra=self.log_extra,
                exc_info=True,
            )

    async def session_takeover(self, event: dict[str, Any]) -> None:
        """Another connection of this session said hello: it owns the session now."""
        if event["by"] != self.channel_name and not self.closing:
            metrics.TAKEOVERS.inc()
            await self._fail(
                ProtocolError(CloseCode.TAKEN_OVER, "a newer connection took over this session")
            )

    async def session_snapshot(self, event: dict[str, Any]) -> None:
        """The keyframer cannot synthesize a keyframe: ask the recorder for a snapshot."""
        if not self.closing:
            await self._send_frame(protocol.snapshot())

    async def _send_ack(self, seq: int) -> None:
        if not self.closing:
            metrics.ACKS.inc()
            await self._send_frame(protocol.ack(seq))

    async def _writer_failed(self, exc: BaseException) -> None:
        await self._fail(exc)

    async def _fail(self, exc: BaseException) -> None:
        """Close this connection as `ingest.failures` says `exc` must be told."""
        if self.closing:
            return
        refused = refusal(exc)
        if refused.code is None:
            log.error("ingest connection failed", extra=self.log_extra, exc_info=exc)
        elif refused.code == CloseCode.STORAGE_UNAVAILABLE:
            log.warning("storage unavailable", extra=self.log_extra, exc_info=exc)
        self.closing = True
        metrics.REJECTIONS.labels(code=str(refused.close_code)).inc()
        log.info(
            "closing ingest connection",
            extra={**self.log_extra, "code": refused.close_code, "reason": refused.reason},
        )
        await self._send_frame(protocol.error(refused.body()))
        await self.close(code=refused.close_code)
