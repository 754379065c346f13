"""Wire protocol v1: parsing and building frames. Pure: no Django, no IO.

Every frame is one msgpack map with a `type` field. `parse_frame` validates a client
frame completely or raises `ProtocolError` carrying the close code the connection must
end with; the README documents the same rules (a test keeps the two in step).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any, Literal, NotRequired, TypedDict

import msgpack

from ingest.scan import EventScan, ScanError, scan_events
from replay.privacy import RecordingConfig

PROTOCOL_VERSION = 1
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class CloseCode(IntEnum):
    MALFORMED = 4400
    UNKNOWN_KEY = 4401
    FORBIDDEN = 4403
    HELLO_TIMEOUT = 4408
    TAKEN_OVER = 4409
    TOO_LARGE = 4413
    RATE_LIMITED = 4429
    STORAGE_UNAVAILABLE = 4503


HTTP_STATUS = {
    CloseCode.MALFORMED: 400,
    CloseCode.UNKNOWN_KEY: 401,
    CloseCode.FORBIDDEN: 403,
    CloseCode.HELLO_TIMEOUT: 408,
    CloseCode.TAKEN_OVER: 409,
    CloseCode.TOO_LARGE: 413,
    CloseCode.RATE_LIMITED: 429,
    CloseCode.STORAGE_UNAVAILABLE: 503,
}


class ProtocolError(Exception):
    """A frame or request the server refuses; `code` is the WebSocket close code."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{int(code)} {reason}")
        self.code = code
        self.reason = reason


class Viewport(TypedDict):
    width: int
    height: int


class Page(TypedDict):
    url: str
    referrer: NotRequired[str]
    viewport: NotRequired[Viewport]


class Hello(TypedDict):
    type: Literal["hello"]
    key: str
    session: str
    tab: str
    acked: int
    page: Page
    sdk: str
    user: NotRequired[str]


class BatchFrame(TypedDict):
    type: Literal["batch"]
    seq: int
    packed: bytes  # the msgpack of the events as received, stored without re-encoding
    scan: EventScan


class GapFrame(TypedDict):
    type: Literal["gap"]
    start: int
    end: int
    reason: str


class End(TypedDict):
    type: Literal["end"]


ClientFrame = Hello | BatchFrame | GapFrame | End


class HttpBatch(TypedDict):
    """The body of ``POST /ingest/batch``: a batch that carries its own credentials."""

    key: str
    session: str
    tab: str
    seq: int
    packed: bytes
    scan: EventScan
    page: NotRequired[Page]
    user: NotRequired[str]


class Limits(TypedDict):
    max_frame_bytes: int
    max_batch_events: int
    flush_ms: int


def _fail(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.MALFORMED, reason)


def _string(frame: dict[str, Any], name: str, *, max_length: int = 2048) -> str:
    value = frame.get(name)
    if not isinstance(value, str):
        raise _fail(f"{name} must be a string")
    if len(value) > max_length:
        raise _fail(f"{name} is longer than {max_length} characters")
    return value


def _integer(frame: dict[str, Any], name: str, *, minimum: int) -> int:
    value = frame.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(f"{name} must be an integer >= {minimum}")
    return value


def _session_id(frame: dict[str, Any], name: str) -> str:
    value = _string(frame, name)
    if not SESSION_ID.match(value):
        raise _fail(f"{name} must be 8-64 characters of A-Z a-z 0-9 _ -")
    return value


def parse_page(raw: object) -> Page:
    if not isinstance(raw, dict):
        raise _fail("page must be a map")
    page: Page = {"url": _string(raw, "url", max_length=8192)}
    if "referrer" in raw:
        page["referrer"] = _string(raw, "referrer", max_length=8192)
    if "viewport" in raw:
        viewport = raw["viewport"]
        if not isinstance(viewport, dict):
            raise _fail("page.viewport must be a map")
        page["viewport"] = {
            "width": _integer(viewport, "width", minimum=0),
            "height": _integer(viewport, "height", minimum=0),
        }
    return page


def scan(packed: bytes, *, max_events: int) -> EventScan:
    """`scan_events`, with its refusals as protocol errors."""
    try:
        return scan_events(packed, max_events=max_events)
    except ScanError as exc:
        raise ProtocolError(
            CloseCode.TOO_LARGE if exc.too_large else CloseCode.MALFORMED, str(exc)
        ) from None


def _no_extensions(code: int, data: bytes) -> object:
    raise ValueError(f"msgpack extension type {code} is not accepted")


def unpack(data: bytes) -> dict[str, Any]:
    """One msgpack map, or ProtocolError(4400). Extension types are refused: events
    must be what JSON can carry."""
    try:
        frame = msgpack.unpackb(data, raw=False, ext_hook=_no_extensions)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise _fail(f"not valid msgpack: {exc}") from None
    if not isinstance(frame, dict):
        raise _fail("a frame must be a msgpack map")
    return frame


def read_frame(data: bytes) -> tuple[dict[str, Any], bytes | None]:
    """A frame's fields, with the `events` value left as bytes (see ingest.scan)."""
    reader = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1), ext_hook=_no_extensions)
    reader.feed(data)
    try:
        size = reader.read_map_header()
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.OutOfData):
        raise _fail("a frame must be a msgpack map") from None
    fields: dict[str, Any] = {}
    events = None
    try:
        for _ in range(size):
            key = reader.unpack()
            if key == "events":
                start = reader.tell()
                reader.skip()
                events = data[start : reader.tell()]
            elif isinstance(key, str):
                fields[key] = reader.unpack()
            else:
                raise _fail("frame keys must be strings")
    except msgpack.OutOfData:
        raise _fail("the frame is truncated") from None
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise _fail(f"not valid msgpack: {exc}") from None
    if reader.tell() != len(data):
        raise _fail("extra bytes after the frame")
    return fields, events


def parse_frame(data: bytes, *, max_frame_bytes: int, max_events: int) -> ClientFrame:
    if len(data) > max_frame_bytes:
        raise ProtocolError(CloseCode.TOO_LARGE, f"frame is larger than {max_frame_bytes} bytes")
    frame, events = read_frame(data)
    kind = frame.get("type")
    if kind == "hello":
        hello: Hello = {
            "type": "hello",
            "key": _string(frame, "key", max_length=200),
            "session": _session_id(frame, "session"),
            "tab": _session_id(frame, "tab"),
            "acked": _integer(frame, "acked", minimum=-1),
            "page": parse_page(frame.get("page")),
            "sdk": _string(frame, "sdk", max_length=100),
        }
        if frame.get("user") is not None:
            hello["user"] = _string(frame, "user", max_length=200)
        return hello
    if kind == "batch":
        seq = _integer(frame, "seq", minimum=0)
        if events is None:
            raise _fail("events must be a list")
        return {
            "type": "batch",
            "seq": seq,
            "packed": events,
            "scan": scan(events, max_events=max_events),
        }
    if kind == "gap":
        start = _integer(frame, "from", minimum=0)
        end = _integer(frame, "to", minimum=start)
        return {"type": "gap", "start": start, "end": end, "reason": _string(frame, "reason")}
    if kind == "end":
        return {"type": "end"}
    raise _fail(f"unknown frame type {kind!r}")


def parse_http_batch(body: object, *, max_events: int) -> HttpBatch:
    if not isinstance(body, dict):
        raise _fail("the body must be a map")
    events = body.get("events")
    if not isinstance(events, list):
        raise _fail("events must be a list")
    packed = msgpack.packb(events, use_bin_type=True)
    batch: HttpBatch = {
        "key": _string(body, "key", max_length=200),
        "session": _session_id(body, "session"),
        "tab": _session_id(body, "tab"),
        "seq": _integer(body, "seq", minimum=0),
        "packed": packed,
        "scan": scan(packed, max_events=max_events),
    }
    if body.get("page") is not None:
        batch["page"] = parse_page(body["page"])
    if body.get("user") is not None:
        batch["user"] = _string(body, "user", max_length=200)
    return batch


def pack(frame: dict[str, Any]) -> bytes:
    """Server frames keep `type` first, as the protocol promises."""
    ordered = {"type": frame["type"], **frame}
    packed: bytes = msgpack.packb(ordered, use_bin_type=True)
    return packed


def welcome(session: str, acked: int, limits: Limits, config: RecordingConfig) -> bytes:
    """`config`: the project's privacy options (`replay.privacy`), which the recorder
    follows from this connection on."""
    return pack(
        {"type": "welcome", "session": session, "acked": acked, "limits": limits, "config": config}
    )


def ack(seq: int) -> bytes:
    return pack({"type": "ack", "seq": seq})


def snapshot() -> bytes:
    """Ask the recorder for a fresh full snapshot (the server cannot synthesize one)."""
    return pack({"type": "snapshot"})


def error(code: CloseCode, reason: str, *, retry: bool = True) -> bytes:
    """`retry` false tells the recorder not to reconnect for this session."""
    return pack({"type": "error", "code": int(code), "reason": reason, "retry": retry})
