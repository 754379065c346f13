"""Wire protocol v1: parsing and building frames. Pure: no Django, no IO.

Every frame is one msgpack map with a `type` field. `parse_frame` validates a client
frame completely or raises `ProtocolError` carrying the close code the connection must
end with; the README documents the same rules (a test keeps the two in step).
"""

from __future__ import annotations

import json
import re
import zlib
from enum import IntEnum
from typing import Any, Literal, NotRequired, TypedDict

import msgpack

from ingest.scan import EventScan, ScanError, scan_events
from ingest.values import ValueProblem, checked
from replay.privacy import RecordingConfig

PROTOCOL_VERSION = 1
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # whole strings only: see _session_id
# Batch numbers: far more than a 12-hour session sends, and within every column type.
MAX_SEQ = 2**31 - 1
MAX_VIEWPORT = 100_000  # pixels


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
    secret: NotRequired[str]  # absent: a recorder older than session secrets


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
    secret: NotRequired[str]


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
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, from a JSON body
            raise _fail(f"{name} is not valid Unicode") from None
    return value


def _integer(frame: dict[str, Any], name: str, *, minimum: int, maximum: int = MAX_SEQ) -> int:
    value = frame.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise _fail(f"{name} must be an integer from {minimum} to {maximum}")
    return value


def _session_id(frame: dict[str, Any], name: str) -> str:
    value = _string(frame, name)
    if not SESSION_ID.fullmatch(value):
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
            "width": _integer(viewport, "width", minimum=0, maximum=MAX_VIEWPORT),
            "height": _integer(viewport, "height", minimum=0, maximum=MAX_VIEWPORT),
        }
    return page


def checked_events(packed: bytes, *, max_events: int) -> tuple[bytes, EventScan]:
    """A batch's events as they are stored (`ingest.values`: what JSON cannot carry is
    refused or normalized) and what `scan_events` found in them; refusals as protocol
    errors."""
    try:
        packed = checked(packed)
        return packed, scan_events(packed, max_events=max_events)
    except ValueProblem as exc:
        raise _fail(str(exc)) from None
    except ScanError as exc:
        raise ProtocolError(
            CloseCode.TOO_LARGE if exc.too_large else CloseCode.MALFORMED, str(exc)
        ) from None


def _no_extensions(code: int, data: bytes) -> object:
    raise ValueError(f"msgpack extension type {code} is not accepted")


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
    except msgpack.StackError:
        raise _fail("the frame nests deeper than msgpack reads") from None
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise _fail(f"not valid msgpack: {exc}") from None
    if reader.tell() != len(data):
        raise _fail("extra bytes after the frame")
    return fields, events


# How a client may compress a batch's events (the browser's CompressionStream formats),
# and the zlib window bits that read each.
ENCODINGS = {"deflate-raw": -15, "gzip": 31}
# What compressed events are once inflated: msgpack (the default) or UTF-8 JSON text.
FORMATS = ("msgpack", "json")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def loads_json(data: bytes | str) -> object:
    """JSON as clients write it (no NaN or Infinity); refusals as protocol errors."""
    try:
        return json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise _fail("the JSON nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"not valid JSON: {exc}") from None


def inflated_events(frame: dict[str, Any], events: bytes | None, *, limit: int) -> bytes | None:
    """A batch's events as msgpack bytes: as sent, or, when the frame names an
    `encoding`, its `events` (binary) inflated, never to more than `limit` bytes: a
    batch that would inflate further is refused (4413) once `limit` bytes are out, so a
    decompression bomb costs no more memory than the largest batch allowed. With
    `format: "json"` the inflated bytes are the events' JSON text, packed here."""
    encoding, form = frame.get("encoding"), frame.get("format", "msgpack")
    if form not in FORMATS:
        raise _fail(f"format must be one of {', '.join(FORMATS)}, not {form!r}")
    if encoding is None and form != "msgpack":
        raise _fail("a format other than msgpack needs an encoding")
    if encoding is None or events is None:
        return events
    if encoding not in ENCODINGS:
        raise _fail(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    try:
        compressed = msgpack.unpackb(events, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        raise _fail("events must be binary when an encoding is named") from None
    if not isinstance(compressed, bytes):
        raise _fail("events must be binary when an encoding is named")
    reader = zlib.decompressobj(ENCODINGS[encoding])
    try:
        packed = reader.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise _fail(f"events are not valid {encoding} data: {exc}") from None
    if len(packed) > limit or reader.unconsumed_tail:
        raise ProtocolError(CloseCode.TOO_LARGE, f"the batch inflates to more than {limit} bytes")
    if not reader.eof or reader.unused_data:
        raise _fail(f"events are not one whole {encoding} stream")
    return pack_json_events(loads_json(packed)) if form == "json" else packed


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
        if frame.get("secret") is not None:
            hello["secret"] = _string(frame, "secret", max_length=100)
        return hello
    if kind == "batch":
        seq = _integer(frame, "seq", minimum=0)
        events = inflated_events(frame, events, limit=max_frame_bytes)
        if events is None:
            raise _fail("events must be a list")
        packed, scanned = checked_events(events, max_events=max_events)
        return {"type": "batch", "seq": seq, "packed": packed, "scan": scanned}
    if kind == "gap":
        start = _integer(frame, "from", minimum=0)
        end = _integer(frame, "to", minimum=start)
        return {"type": "gap", "start": start, "end": end, "reason": _string(frame, "reason")}
    if kind == "end":
        return {"type": "end"}
    raise _fail(f"unknown frame type {kind!r}")


def pack_json_events(events: object) -> bytes:
    """Events decoded from JSON, as msgpack. A lone surrogate (which ``JSON.stringify``
    writes for a broken JavaScript string) is packed as its code unit, for
    `ingest.values` to normalize as it does the same string sent as msgpack."""
    if not isinstance(events, list):
        raise _fail("events must be a list")
    try:
        packed: bytes = msgpack.packb(events, use_bin_type=True, unicode_errors="surrogatepass")
    except (OverflowError, ValueError, TypeError) as exc:  # 2**70, nesting past msgpack's
        raise _fail(f"events cannot be stored: {exc}") from None
    return packed


def parse_http_batch(body: dict[str, Any], events: bytes | None, *, max_events: int) -> HttpBatch:
    """A batch posted over HTTP: its fields, and its events as msgpack bytes."""
    if events is None:
        raise _fail("events must be a list")
    packed, scanned = checked_events(events, max_events=max_events)
    batch: HttpBatch = {
        "key": _string(body, "key", max_length=200),
        "session": _session_id(body, "session"),
        "tab": _session_id(body, "tab"),
        "seq": _integer(body, "seq", minimum=0),
        "packed": packed,
        "scan": scanned,
    }
    if body.get("page") is not None:
        batch["page"] = parse_page(body["page"])
    if body.get("user") is not None:
        batch["user"] = _string(body, "user", max_length=200)
    if body.get("secret") is not None:
        batch["secret"] = _string(body, "secret", max_length=100)
    return batch


def pack(frame: dict[str, Any]) -> bytes:
    """Server frames keep `type` first, as the protocol promises."""
    ordered = {"type": frame["type"], **frame}
    packed: bytes = msgpack.packb(ordered, use_bin_type=True)
    return packed


def welcome(
    session: str, acked: int, limits: Limits, config: RecordingConfig, secret: str = ""
) -> bytes:
    """`config`: the project's privacy options (`replay.privacy`), which the recorder
    follows from this connection on. `secret`: given when this hello started a new
    session (`session`), the credential the recorder needs to continue it."""
    frame: dict[str, Any] = {
        "type": "welcome",
        "session": session,
        "acked": acked,
        "limits": limits,
        "config": config,
    }
    if secret:
        frame["secret"] = secret
    return pack(frame)


def ack(seq: int) -> bytes:
    return pack({"type": "ack", "seq": seq})


def snapshot() -> bytes:
    """Ask the recorder for a fresh full snapshot (the server cannot synthesize one)."""
    return pack({"type": "snapshot"})


def error(body: dict[str, object]) -> bytes:
    """The `error` frame sent before closing: `code`, `reason`, and `retry` (false tells
    the recorder not to reconnect for this session), as `ingest.failures` decides."""
    return pack({"type": "error", **body})
