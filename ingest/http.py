"""Ingest over plain HTTP: ``POST /ingest/batch`` (one batch, for
`navigator.sendBeacon` on ``pagehide`` and for networks that block WebSockets) and
``GET /ingest/config`` (a project's privacy options, asked before recording starts).

The body is msgpack (``Content-Type: application/msgpack``) or JSON
(``application/json``, or ``text/plain`` because that is what `sendBeacon` can send
without a CORS preflight). The answer ``{"acked": n}`` has the same meaning as a
WebSocket `ack`: every batch up to n is in durable storage. Errors answer
``{"error": {"code": <close code>, "reason": ...}}`` with the matching HTTP status.

Channels HTTP consumers rather than Django views: they are routed beside the WebSocket
by the ASGI router, need none of the session or CSRF middleware, and the batch endpoint
can refuse an oversized body while it is still arriving.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.db import DatabaseError

from ingest import protocol
from ingest.cleaning import clean_received
from ingest.commit import CommitRequest, SessionCut, SessionGone, commit
from ingest.plan import Received
from ingest.protocol import HTTP_STATUS, CloseCode, HttpBatch, ProtocolError
from ingest.sessions import authorize, open_session, scope_header
from ingest.threads import run_blocking
from replay import metrics
from replay.privacy import RecordingConfig
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
    scanned = Received.scanned(batch["seq"], batch["packed"], batch["scan"], size)
    received = [clean_received(scanned, opened.scrubber)]
    committed = commit([CommitRequest(opened.session_id, received)], get_storage())[0]
    if isinstance(committed, Exception):
        raise committed
    if committed.cut_reason:
        raise SessionCut(committed.cut_reason)
    return committed.acked


def answer_headers(
    scope: dict[str, Any], *, content_type: bool = True, cache: bytes = b"no-store"
) -> list[tuple[bytes, bytes]]:
    headers = [(b"cache-control", cache)]
    if content_type:
        headers.append((b"content-type", b"application/json"))
    origin = scope_header(scope, b"origin")
    if origin:
        # The project check happens on the request itself (the key is in it); echoing
        # the origin only lets the page read the answer.
        headers += [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
        ]
    return headers


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
        return answer_headers(self.scope, content_type=content_type)

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


# Page loads within this many seconds reuse the browser's copy of a project's options;
# pages already recording get any change in their next `welcome`.
CONFIG_MAX_AGE_SECONDS = 60


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def recording_config(key: str, origin: str | None) -> RecordingConfig:
    return authorize(key, origin).recording_config()


class ConfigConsumer(AsyncHttpConsumer):
    """``GET /ingest/config?key=KEY``: the project's privacy options (`replay.privacy`),
    asked by the recorder before it records anything, so that a page that must not be
    recorded (sampled out, Do Not Track, no consent, an excluded URL) never opens a
    session. The same options come in every `welcome`."""

    async def handle(self, body: bytes) -> None:
        if self.scope.get("method") != "GET":
            error = {"code": 405, "reason": "use GET", "retry": False}
            await self.send_response(
                405, json.dumps({"error": error}).encode(), headers=answer_headers(self.scope)
            )
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("key") or [""])[0]
        # Browsers send no Origin with a same-origin GET; the Referer names the page.
        origin = scope_header(self.scope, b"origin") or _origin_of(
            scope_header(self.scope, b"referer")
        )
        try:
            config = await run_blocking(recording_config, key, origin)
        except ProtocolError as exc:
            await self._error(exc.code, exc.reason, retry=False)
        except DatabaseError:
            log.warning("database unavailable", exc_info=True)
            await self._error(CloseCode.STORAGE_UNAVAILABLE, "unavailable, retry later")
        else:
            cache = f"private, max-age={CONFIG_MAX_AGE_SECONDS}".encode()
            headers = answer_headers(self.scope, cache=cache)
            await self.send_response(200, json.dumps(config).encode(), headers=headers)

    async def _error(self, code: CloseCode, reason: str, *, retry: bool = True) -> None:
        metrics.REJECTIONS.labels(code=str(int(code))).inc()
        error = {"code": int(code), "reason": reason, "retry": retry}
        payload = json.dumps({"error": error}).encode()
        await self.send_response(HTTP_STATUS[code], payload, headers=answer_headers(self.scope))
