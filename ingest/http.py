"""``POST /ingest/batch``: one batch over plain HTTP, for `navigator.sendBeacon` on
``pagehide`` and for networks that block WebSockets.

The body is msgpack (``Content-Type: application/msgpack``) or JSON
(``application/json``, or ``text/plain`` because that is what `sendBeacon` can send
without a CORS preflight). The answer ``{"acked": n}`` has the same meaning as a
WebSocket `ack`: every batch up to n is in durable storage. Errors answer
``{"error": {"code": <close code>, "reason": ...}}`` with the matching HTTP status.

A Channels HTTP consumer rather than a Django view: it is routed beside the WebSocket
by the ASGI router, needs none of the session or CSRF middleware, and can refuse an
oversized body while it is still arriving.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.db import DatabaseError

from ingest import protocol
from ingest.commit import CommitRequest, SessionCut, SessionGone, commit
from ingest.plan import Received
from ingest.protocol import HTTP_STATUS, CloseCode, HttpBatch, ProtocolError
from ingest.scrubbing import scrub_received
from ingest.sessions import authorize, open_session, scope_header
from ingest.threads import run_blocking
from replay import metrics
from replay.storage import StorageError, get_storage

log = logging.getLogger(__name__)

JSON_TYPES = {"application/json", "text/plain"}
MSGPACK_TYPES = {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}


def parse_body(content_type: str, body: bytes) -> HttpBatch:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in JSON_TYPES:
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(CloseCode.MALFORMED, f"not valid JSON: {exc}") from None
    elif media_type in MSGPACK_TYPES:
        raw = protocol.unpack(body)
    else:
        raise ProtocolError(
            CloseCode.MALFORMED, "Content-Type must be application/msgpack or application/json"
        )
    return protocol.parse_http_batch(raw, max_events=settings.REPLAY_MAX_BATCH_EVENTS)


def store(batch: HttpBatch, origin: str | None, user_agent: str, size: int) -> int:
    """Open (or continue) the session and commit the batch; the new `acked_seq`."""
    project = authorize(batch["key"], origin)
    opened = open_session(
        project,
        batch["session"],
        tab=batch["tab"],
        page=batch.get("page"),
        user=batch.get("user"),
        user_agent=user_agent,
    )
    if opened.cut_reason:
        raise SessionCut(opened.cut_reason)
    metrics.BATCHES_RECEIVED.inc()
    metrics.BYTES_RECEIVED.inc(size)
    metrics.EVENTS_RECEIVED.inc(batch["scan"].count)
    received = [Received.scanned(batch["seq"], batch["packed"], batch["scan"], size)]
    if opened.scrubber is not None:
        received = [scrub_received(received[0], opened.scrubber)]
    committed = commit([CommitRequest(opened.session_id, received)], get_storage())[0]
    if isinstance(committed, Exception):
        raise committed
    if committed.cut_reason:
        raise SessionCut(committed.cut_reason)
    return committed.acked


class BatchConsumer(AsyncHttpConsumer):
    received_bytes = 0
    refused = False

    async def http_request(self, message: dict[str, Any]) -> None:
        chunk = message.get("body", b"")
        self.received_bytes += len(chunk)
        if self.received_bytes > settings.REPLAY_MAX_FRAME_BYTES:
            if not self.refused:
                self.refused = True
                await self._answer_error(CloseCode.TOO_LARGE, "body is larger than the frame limit")
            if not message.get("more_body"):
                raise StopConsumer()
            return
        await super().http_request(message)

    def _headers(self, content_type: bool = True) -> list[tuple[bytes, bytes]]:
        headers = [(b"cache-control", b"no-store")]
        if content_type:
            headers.append((b"content-type", b"application/json"))
        origin = scope_header(self.scope, b"origin")
        if origin:
            # The project check happens on the POST itself (the key is in the body);
            # echoing the origin only lets the page read the answer.
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"vary", b"Origin"),
            ]
        return headers

    async def _answer(self, status: int, payload: dict[str, Any]) -> None:
        await self.send_response(status, json.dumps(payload).encode(), headers=self._headers())

    async def _answer_error(self, code: CloseCode, reason: str, *, retry: bool = True) -> None:
        metrics.REJECTIONS.labels(code=str(int(code))).inc()
        error = {"code": int(code), "reason": reason, "retry": retry}
        await self._answer(HTTP_STATUS[code], {"error": error})

    async def handle(self, body: bytes) -> None:
        method = self.scope.get("method", "")
        if method == "OPTIONS":
            headers = [
                *self._headers(content_type=False),
                (b"access-control-allow-methods", b"POST"),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", b"86400"),
            ]
            await self.send_response(204, b"", headers=headers)
            return
        if method != "POST":
            await self._answer(405, {"error": {"code": 405, "reason": "use POST"}})
            return
        origin = scope_header(self.scope, b"origin")
        try:
            batch = parse_body(scope_header(self.scope, b"content-type") or "", body)
            acked = await run_blocking(
                store, batch, origin, scope_header(self.scope, b"user-agent") or "", len(body)
            )
        except ProtocolError as exc:
            await self._answer_error(exc.code, exc.reason)
        except (StorageError, DatabaseError):
            log.warning("storage unavailable", exc_info=True)
            await self._answer_error(
                CloseCode.STORAGE_UNAVAILABLE, "storage is unavailable, retry later"
            )
        except SessionGone:
            await self._answer_error(CloseCode.FORBIDDEN, "the session was deleted", retry=False)
        except SessionCut as exc:
            await self._answer_error(CloseCode.TOO_LARGE, exc.reason, retry=False)
        else:
            await self._answer(200, {"acked": acked})
