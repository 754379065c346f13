"""Ingest over plain HTTP: ``POST /ingest/batch`` (one batch, for
`navigator.sendBeacon` on ``pagehide`` and for networks that block WebSockets) and
``GET /ingest/config`` (a project's privacy options, asked before recording starts).

The body is msgpack (``Content-Type: application/msgpack``) or JSON
(``application/json``, or ``text/plain`` because that is what `sendBeacon` can send
without a CORS preflight). The answer ``{"acked": n}`` has the same meaning as a
WebSocket `ack`: every batch up to n is in durable storage; a batch that started a new
session also names it and gives its secret (`ingest.sessions`). Every request gets an
answer: errors answer ``{"error": {"code", "reason", "retry"}}`` with the HTTP status
`ingest.failures` gives, 500 for a failure of our own. Only once the key's project
allows the request's origin may the page read the answer (CORS).

Channels HTTP consumers rather than Django views: they are routed beside the WebSocket
by the ASGI router and need none of the session or CSRF middleware. How long a body may
take to arrive, and how large it may be before it is read, is `ingest.server`'s to
enforce.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from ingest import protocol
from ingest.arrival import after_what_precedes
from ingest.cleaning import clean_received
from ingest.commit import CommitRequest, SessionCut, commit
from ingest.failures import refusal
from ingest.plan import Received
from ingest.protocol import CloseCode, HttpBatch, ProtocolError
from ingest.sessions import Opened, authorize, open_session, scope_header
from ingest.threads import run_blocking
from replay import devtools, metrics
from replay.models import Project
from replay.privacy import RecordingConfig
from replay.storage import get_storage

log = logging.getLogger(__name__)

JSON_TYPES = {"application/json", "text/plain"}
MSGPACK_TYPES = {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes | None]:
    """The body's fields and its events as msgpack bytes; for a JSON body the events stay
    among the fields (None here), packed once the key is checked (`parse_http_batch`)."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in JSON_TYPES:
        raw = protocol.loads_json(body)
        if not isinstance(raw, dict):
            raise ProtocolError(CloseCode.MALFORMED, "the body must be a map")
        return raw, None
    if media_type in MSGPACK_TYPES:
        return protocol.read_frame(body)
    raise ProtocolError(
        CloseCode.MALFORMED, "Content-Type must be application/msgpack or application/json"
    )


def parse_http_batch(fields: dict[str, Any], events: bytes | None) -> HttpBatch:
    if events is None:
        events = protocol.pack_json_events(fields.get("events"))
    else:
        limit = settings.REPLAY_MAX_FRAME_BYTES
        events = protocol.inflated_events(fields, events, limit=limit)
    return protocol.parse_http_batch(fields, events, max_events=settings.REPLAY_MAX_BATCH_EVENTS)


def key_of(fields: dict[str, Any]) -> str:
    key = fields.get("key")
    if not isinstance(key, str) or len(key) > 200 or not key.isascii():
        raise ProtocolError(CloseCode.UNKNOWN_KEY, "unknown or disabled project key")
    return key


@dataclass(frozen=True)
class Stored:
    acked: int
    session: str
    secret: str  # a new session's secret, when this batch started one

    def answer(self) -> dict[str, Any]:
        if not self.secret:
            return {"acked": self.acked}
        return {"acked": self.acked, "session": self.session, "secret": self.secret}


def opened_for(project: Project, batch: HttpBatch, user_agent: str) -> Opened:
    """Continue the batch's session (or start one, see `ingest.sessions.open_session`)."""
    opened = open_session(
        project,
        batch["session"],
        secret=batch.get("secret"),
        tab=batch["tab"],
        page=batch.get("page"),
        user=batch.get("user"),
        user_agent=user_agent,
    )
    if opened.cut_reason:
        raise SessionCut(opened.cut_reason)
    return opened


def store(opened: Opened, batch: HttpBatch, size: int) -> Stored:
    """Commit the batch into its opened session."""
    metrics.BATCHES_RECEIVED.inc()
    metrics.BYTES_RECEIVED.inc(size)
    metrics.EVENTS_RECEIVED.inc(batch["scan"].count)
    scanned = Received.scanned(batch["seq"], batch["packed"], batch["scan"], size)
    policy = devtools.Policy.of(opened.config)
    received = [clean_received(scanned, opened.scrubber, policy=policy)]
    committed = commit([CommitRequest(opened.session_id, received)], get_storage())[0]
    if isinstance(committed, Exception):
        raise committed
    if committed.cut_reason:
        raise SessionCut(committed.cut_reason)
    return Stored(committed.acked, opened.session_id, opened.secret)


def answer_headers(
    *,
    content_type: bool = True,
    cache: bytes = b"no-store",
    allowed_origin: str | None = None,
) -> list[tuple[bytes, bytes]]:
    """`allowed_origin`: the request's origin once the project allows it; only then may
    the page read the answer (CORS)."""
    headers = [(b"cache-control", cache), (b"vary", b"Origin")]
    if content_type:
        headers.append((b"content-type", b"application/json"))
    if allowed_origin:
        headers.append((b"access-control-allow-origin", allowed_origin.encode("latin-1")))
    return headers


class BatchConsumer(AsyncHttpConsumer):
    received_bytes = 0
    refused = False
    # The request's Origin once the key's project allows it: answers from then on may
    # be read by the page; refusals before that (a wrong key or origin) may not.
    allowed_origin: str | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        chunk = message.get("body", b"")
        self.received_bytes += len(chunk)
        if self.received_bytes > settings.REPLAY_MAX_FRAME_BYTES:
            if not self.refused:
                self.refused = True
                await self._refuse(
                    ProtocolError(CloseCode.TOO_LARGE, "body is larger than the frame limit")
                )
            if not message.get("more_body"):
                raise StopConsumer()
            return
        await super().http_request(message)

    async def _answer(self, status: int, payload: dict[str, Any]) -> None:
        headers = answer_headers(allowed_origin=self.allowed_origin)
        await self.send_response(status, json.dumps(payload).encode(), headers=headers)

    async def _refuse(self, exc: BaseException) -> None:
        refused = refusal(exc)
        if refused.code is None:
            log.error("batch request failed", exc_info=exc)
        metrics.REJECTIONS.labels(code=str(refused.close_code)).inc()
        await self._answer(refused.status, {"error": refused.body()})

    async def handle(self, body: bytes) -> None:
        method = self.scope.get("method", "")
        if method == "OPTIONS":
            # A preflight carries no key to check; the post that follows is checked.
            headers = [
                *answer_headers(
                    content_type=False,
                    allowed_origin=scope_header(self.scope, b"origin"),
                ),
                (b"access-control-allow-methods", b"POST"),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", b"86400"),
            ]
            await self.send_response(204, b"", headers=headers)
            return
        if method != "POST":
            await self._answer(405, {"error": {"code": 405, "reason": "use POST", "retry": False}})
            return
        origin = scope_header(self.scope, b"origin")
        try:
            fields, events = parse_body(scope_header(self.scope, b"content-type") or "", body)
            project = await run_blocking(authorize, key_of(fields), origin)
            self.allowed_origin = origin
            batch = parse_http_batch(fields, events)
            user_agent = scope_header(self.scope, b"user-agent") or ""
            opened = await run_blocking(opened_for, project, batch, user_agent)
            if not opened.created:  # a batch that starts its session follows nothing
                await after_what_precedes(opened.session_id, opened.acked, batch["seq"])
            stored = await run_blocking(store, opened, batch, len(body))
        except Exception as exc:  # every request gets an answer, whatever went wrong
            await self._refuse(exc)
        else:
            await self._answer(200, stored.answer())


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
                405, json.dumps({"error": error}).encode(), headers=answer_headers()
            )
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("key") or [""])[0]
        # Browsers send no Origin with a same-origin GET; the Referer names the page.
        origin = scope_header(self.scope, b"origin")
        page_origin = origin or _origin_of(scope_header(self.scope, b"referer"))
        try:
            config = await run_blocking(recording_config, key, page_origin)
        except Exception as exc:
            refused = refusal(exc)
            if refused.code is None:
                log.error("config request failed", exc_info=exc)
            metrics.REJECTIONS.labels(code=str(refused.close_code)).inc()
            payload = json.dumps({"error": refused.body()}).encode()
            await self.send_response(refused.status, payload, headers=answer_headers())
        else:
            cache = f"private, max-age={CONFIG_MAX_AGE_SECONDS}".encode()
            headers = answer_headers(cache=cache, allowed_origin=origin)
            await self.send_response(200, json.dumps(config).encode(), headers=headers)
