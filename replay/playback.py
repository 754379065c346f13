"""What the player loads: a session's manifest, then single segments and keyframes.

``GET /api/sessions/ID/manifest`` lists the segments in seq order with their time
ranges (`keyframe: true` where a segment holds a real full snapshot, a page load, and
`snapshot_ts` when that snapshot's Meta comes, which may be anywhere in the segment)
and the synthesized keyframes with their times. The player opens a moment by loading the
keyframe or page load before it (strictly: rrweb's Replayer shows an event only once the
playhead has passed its time) and the segments after it, instead of the whole
recording: ``GET .../segments/SEQ_START?from=SEQ`` (the segment's events, from batch
`from` on, so overlapping segments are never replayed twice) and ``GET .../keyframes/SEQ``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

import msgpack
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from replay.codec import Event
from replay.keyframes import load_keyframe
from replay.models import Keyframe, Segment, Session
from replay.search import BadRequest
from replay.segments import batches_from, segment_rows
from replay.storage import StorageError, get_storage
from replay.summaries import gap_summary


def json_value(value: object) -> str | None:
    """msgpack can carry what JSON cannot: binary strings come out as base64, extension
    values as null. Ingest refuses both (`ingest.values`); only what was stored before
    it did can hold them."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, msgpack.ExtType | msgpack.Timestamp):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_event(event: Event) -> str:
    """One event as JSON text. NaN and infinities, which JSON has no words for (ingest
    makes them null; older recordings may hold them), are written as null too."""
    try:
        return json.dumps(
            event, separators=(",", ":"), ensure_ascii=False, default=json_value, allow_nan=False
        )
    except ValueError:
        return dump_event(_finite(event))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


# A segment never changes once written; a viewer's browser may keep it a little.
KEEP_PRIVATELY = "private, max-age=300"


def unavailable(exc: StorageError) -> JsonResponse:
    """What a reader of stored events is answered when storage fails (or has lost an
    object the database indexes): 503, so the player tries again."""
    return JsonResponse({"error": f"storage is unavailable; try again: {exc}"}, status=503)


def storage_answers(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A view whose storage failures are answered `unavailable`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except StorageError as exc:
            return unavailable(exc)

    return wrapper


def events_response(events: list[Event], cache: str = KEEP_PRIVATELY) -> HttpResponse:
    body = "[" + ",".join(dump_event(e) for e in events) + "]"
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = cache
    return response


def snapshot_time(row: Segment) -> int | None:
    """When the segment's first real full snapshot starts (its Meta), or None. Segments
    stored before the time was kept fall back to their first event's."""
    if not row.keyframe:
        return None
    return row.snapshot_ts if row.snapshot_ts is not None else row.first_ts


def effective_segments(rows: list[Segment]) -> list[tuple[Segment, int]]:
    """Segments in seq order with the first batch each adds (after write races two
    segments may overlap; the later one then starts after the earlier one's end)."""
    found = []
    last = -1
    for row in rows:
        if row.seq_end <= last:
            continue
        found.append((row, max(row.seq_start, last + 1)))
        last = row.seq_end
    return found


def segment_entries(row: Segment, first: int, url: str) -> list[dict[str, Any]]:
    """What the manifest lists for one segment row, from batch `first` on: the segment,
    or, for a compacted block, its pieces (about ten seconds each, loaded one by one
    with `from` and `to`, so opening a moment never loads a whole block)."""
    if not row.pieces:
        entry = {
            "seq_start": row.seq_start,
            "seq_end": row.seq_end,
            "first_ts": row.first_ts,
            "last_ts": row.last_ts,
            "events": row.event_count,
            "size": row.size,
            "keyframe": row.keyframe,
            "snapshot_ts": snapshot_time(row),
            "url": f"{url}?from={first}",
        }
        return [entry]
    entries = []
    for start, end, first_ts, last_ts, count, page_load, *_ in row.pieces:
        if end < first:
            continue
        entries.append(
            {
                "seq_start": start,
                "seq_end": end,
                "first_ts": first_ts,
                "last_ts": last_ts,
                "events": count,
                "size": round(row.size * count / max(row.event_count, 1)),
                "keyframe": page_load is not None,
                "snapshot_ts": page_load,
                "url": f"{url}?from={max(start, first)}&to={end}",
            }
        )
    return entries


def manifest(session: Session, request: HttpRequest) -> dict[str, Any]:
    def url(name: str, seq: int) -> str:
        return reverse(name, args=[session.id, seq])

    return {
        "session": session.id,
        "start": session.first_event_ms,
        "end": session.last_event_ms,
        "segments": [
            entry
            for row, first in effective_segments(segment_rows(session))
            for entry in segment_entries(row, first, url("api-session-segment", row.seq_start))
        ],
        "keyframes": [
            {
                "after_seq": frame.after_seq,
                "timestamp": frame.timestamp,
                "size": frame.size,
                "url": url("api-session-keyframe", frame.after_seq),
            }
            for frame in session.keyframes.all()
        ],
        "gaps": [gap_summary(gap, session) for gap in session.gaps.all()],
    }


def segment_events(session: Session, seq_start: int, request: HttpRequest) -> HttpResponseBase:
    row = Segment.objects.filter(session=session, seq_start=seq_start).first()
    if row is None:
        return JsonResponse({"error": "no such segment"}, status=404)
    try:
        first = int(request.GET.get("from", seq_start))
        last = int(request.GET["to"]) if "to" in request.GET else None
    except ValueError:
        raise BadRequest("from and to must be batch numbers") from None
    batches = batches_from(row, get_storage(), first, last)
    return events_response([e for b in batches for e in b.events])


def keyframe_events(session: Session, after_seq: int) -> HttpResponseBase:
    frame = Keyframe.objects.filter(session=session, after_seq=after_seq).first()
    if frame is None:
        return JsonResponse({"error": "no such keyframe"}, status=404)
    return events_response(load_keyframe(frame, get_storage()))
