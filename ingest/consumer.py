"""The WebSocket consumer at /ingest/ws: protocol v1 (see README.md, "Wire protocol").

It stays thin: frames are parsed by `ingest.protocol`, sessions are opened by
`ingest.sessions`, and batches go to a `SessionWriter`. Every refusal is a
`ProtocolError` and is turned into an `error` frame plus a close code in one place,
`_fail`; a refusal never touches another connection's session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, transaction

from ingest import protocol
from ingest.commit import GapClaim, SessionGone
from ingest.protocol import ClientFrame, CloseCode, Hello, ProtocolError
from ingest.sessions import Opened, authorize, open_session
from ingest.threads import run_blocking
from ingest.writer import SessionWriter
from replay.codec import Batch
from replay.models import Session
from replay.storage import StorageError, get_storage

log = logging.getLogger(__name__)

# Frames larger than this are decoded in a worker thread, not on the event loop.
_INLINE_DECODE_BYTES = 128 * 1024


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


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
    closing = False
    _hello_deadline: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.accept()
        self._hello_deadline = asyncio.create_task(self._expect_hello())

    async def _expect_hello(self) -> None:
        await asyncio.sleep(settings.REPLAY_HELLO_TIMEOUT)
        if self.writer is None:
            await self._fail(CloseCode.HELLO_TIMEOUT, "no hello in time")

    async def disconnect(self, code: int) -> None:
        if self._hello_deadline is not None:
            self._hello_deadline.cancel()
        if self.writer is not None:
            await self.writer.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            if bytes_data is None:
                raise ProtocolError(CloseCode.MALFORMED, "frames must be binary msgpack")
            frame = await self._parse(bytes_data)
            await self._handle(frame, len(bytes_data))
        except ProtocolError as exc:
            await self._fail(exc.code, exc.reason)
        except (StorageError, DatabaseError):
            log.warning("storage unavailable", exc_info=True)
            await self._fail(CloseCode.STORAGE_UNAVAILABLE, "storage is unavailable, retry later")
        except SessionGone:
            await self._fail(CloseCode.FORBIDDEN, "the session was deleted")

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
            await self.writer.add(Batch(frame["seq"], frame["events"]), size)
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
        if self._hello_deadline is not None:
            self._hello_deadline.cancel()
        origin = header(self.scope, b"origin")
        user_agent = header(self.scope, b"user-agent") or ""
        opened = await run_blocking(_open, hello, origin, user_agent)
        if hello["acked"] > opened.acked:
            log.warning(
                "session %s: client saw ack %d but the server holds %d",
                opened.session_id,
                hello["acked"],
                opened.acked,
            )
        self.writer = SessionWriter(
            opened.session_id,
            opened.acked,
            storage=get_storage(),
            flush_seconds=settings.REPLAY_FLUSH_SECONDS,
            flush_bytes=settings.REPLAY_FLUSH_BYTES,
            on_ack=self._send_ack,
            on_failure=self._writer_failed,
        )
        await self.send(bytes_data=protocol.welcome(opened.session_id, opened.acked, limits()))

    async def _send_ack(self, seq: int) -> None:
        if not self.closing:
            await self.send(bytes_data=protocol.ack(seq))

    async def _writer_failed(self, exc: BaseException) -> None:
        if isinstance(exc, SessionGone):
            await self._fail(CloseCode.FORBIDDEN, "the session was deleted")
        else:
            log.warning("flush failed", exc_info=exc)
            await self._fail(CloseCode.STORAGE_UNAVAILABLE, "storage is unavailable, retry later")

    async def _fail(self, code: CloseCode, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        log.info("closing ingest connection: %d %s", code, reason)
        await self.send(bytes_data=protocol.error(code, reason))
        await self.close(code=int(code))
