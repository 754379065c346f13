"""Reading a batch's events without building them: validation and the few facts ingest
needs, straight from the msgpack bytes. Pure: no Django, no IO.

Decoding every event into Python objects cost most of the server's time at a few
thousand sessions (the objects, and the collector walking them), yet storing a batch
needs only to know that it is a list of maps with an integer `type` and a numeric
`timestamp`, its time range, and the page URLs and user id some events carry. So the
scanner reads those fields and skips over everything else in C (`Unpacker.skip`); the
bytes are then stored as they came. Work that needs whole events (the DOM mirror, event
tracking) decodes them once, off the path an acknowledgement waits on.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from replay.rrweb import CUSTOM, FULL_SNAPSHOT, META

# Timestamps are milliseconds since 1970; beyond these bounds a clock is wrong or a
# client is hostile, and a date made from the number could not be shown.
MAX_TIMESTAMP_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z

NAVIGATION_TAG = "replay/navigation"
IDENTIFY_TAG = "replay/identify"


class ScanError(ValueError):
    """The bytes are not a list of rrweb events. `too_large` when only the count is."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large


@dataclass(frozen=True)
class EventScan:
    count: int
    first_ts: int | float | None
    last_ts: int | float | None
    urls: tuple[str, ...]  # each page load's Meta href and the recorder's SPA navigations
    user_id: str | None  # the last id given to replay.identify
    snapshot: bool = False  # holds a full snapshot (a page load or checkout)
    # When the first of them starts: its Meta's time when the Meta comes just before it
    # in the batch, else its own. A replay opened later than this can start there.
    snapshot_ts: int | float | None = None


def _timestamp(value: object) -> bool:
    """A number of milliseconds from 1970 to 2100 (NaN compares false, so fails)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return 0 <= value <= MAX_TIMESTAMP_MS


def _facts(kind: int, data: object) -> tuple[str | None, str | None]:
    """(url, user id) that one Meta or custom event carries."""
    if not isinstance(data, dict):
        return None, None
    if kind == META:
        href = data.get("href")
        return (href, None) if isinstance(href, str) else (None, None)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return None, None
    if data.get("tag") == NAVIGATION_TAG and isinstance(payload.get("href"), str):
        return payload["href"], None
    if data.get("tag") == IDENTIFY_TAG and isinstance(payload.get("id"), str):
        return None, payload["id"][:200]
    return None, None


def scan_events(packed: bytes, *, max_events: int) -> EventScan:
    """Validate a msgpack array of events and read its facts, or raise ScanError."""
    reader = msgpack.Unpacker(raw=False, max_buffer_size=max(len(packed), 1))
    reader.feed(packed)
    try:
        count = reader.read_array_header()
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.OutOfData):
        raise ScanError("events must be a list") from None
    if count > max_events:
        raise ScanError(f"more than {max_events} events in one batch", too_large=True)
    first = last = None
    urls: list[str] = []
    user_id = None
    snapshot = False
    snapshot_ts = None
    previous: tuple[int | None, int | float | None] = (None, None)  # last event's type, time
    try:
        for index in range(count):
            try:
                fields = reader.read_map_header()
            except (ValueError, TypeError, msgpack.UnpackException):
                raise ScanError(f"event {index} is not a map") from None
            kind = stamp = None
            data_span = None
            for _ in range(fields):
                key = reader.unpack()
                if key == "type":
                    kind = reader.unpack()
                elif key == "timestamp":
                    stamp = reader.unpack()
                elif key == "data":
                    start = reader.tell()
                    reader.skip()
                    data_span = (start, reader.tell())
                else:
                    reader.skip()
            if not isinstance(kind, int) or isinstance(kind, bool):
                raise ScanError(f"event {index} has no integer type")
            if not _timestamp(stamp):
                raise ScanError(f"event {index} has no timestamp in milliseconds from 1970 to 2100")
            assert isinstance(stamp, int | float)
            if kind == FULL_SNAPSHOT and not snapshot:
                snapshot = True
                snapshot_ts = previous[1] if previous[0] == META else stamp
            previous = (kind, stamp)
            first = stamp if first is None or stamp < first else first
            last = stamp if last is None or stamp > last else last
            if kind in (META, CUSTOM) and data_span is not None:
                data = msgpack.unpackb(packed[data_span[0] : data_span[1]], raw=False)
                url, user = _facts(kind, data)
                if url:
                    urls.append(url)
                if user:
                    user_id = user
    except msgpack.OutOfData:
        raise ScanError("events are truncated") from None
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        if isinstance(exc, ScanError):
            raise
        raise ScanError(f"events are not valid msgpack: {exc}") from None
    if reader.tell() != len(packed):
        raise ScanError("extra bytes after the events")
    return EventScan(count, first, last, tuple(urls), user_id, snapshot, snapshot_ts)
