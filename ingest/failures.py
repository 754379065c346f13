"""The one place that turns each kind of failure into what an ingest client is told: a
close code and `error` frame over WebSocket, an HTTP status and JSON error over HTTP
(README, "Close codes"). Both transports ask `refusal` and nothing else decides."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError

from ingest.commit import SessionCut, SessionGone
from ingest.protocol import HTTP_STATUS, CloseCode, ProtocolError
from replay.storage import StorageError

# Refusals after which the recorder must not reconnect for this session.
FINAL = frozenset({CloseCode.UNKNOWN_KEY, CloseCode.FORBIDDEN, CloseCode.TAKEN_OVER})

# A failure nobody foresaw: WebSocket's "internal error" close code, HTTP's 500.
INTERNAL_CLOSE_CODE = 1011


@dataclass(frozen=True)
class Refusal:
    code: CloseCode | None  # None: an unexpected failure of the server's own
    reason: str
    retry: bool  # whether reconnecting (or posting again) can help

    @property
    def close_code(self) -> int:
        return INTERNAL_CLOSE_CODE if self.code is None else int(self.code)

    @property
    def status(self) -> int:
        return 500 if self.code is None else HTTP_STATUS[self.code]

    def body(self) -> dict[str, object]:
        """The `error` frame's fields, and the JSON error of an HTTP answer."""
        return {"code": self.close_code, "reason": self.reason, "retry": self.retry}


def refusal(exc: BaseException) -> Refusal:
    """What the client is told about `exc`. Callers log unexpected failures (code None)
    with their traceback; nothing about them reaches the client but that they happened."""
    if isinstance(exc, ProtocolError):
        return Refusal(exc.code, exc.reason, exc.code not in FINAL)
    if isinstance(exc, SessionCut):
        return Refusal(CloseCode.TOO_LARGE, exc.reason, retry=False)
    if isinstance(exc, SessionGone):
        return Refusal(CloseCode.FORBIDDEN, "the session was deleted", retry=False)
    if isinstance(exc, StorageError | DatabaseError):
        return Refusal(
            CloseCode.STORAGE_UNAVAILABLE, "storage is unavailable, retry later", retry=True
        )
    return Refusal(None, "internal error, retry later", retry=True)
