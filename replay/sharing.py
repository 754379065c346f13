"""Share links: a time window of one session that anyone holding the link can watch
without logging in, until the link expires or is revoked (README, "Sharing").

A share serves only what its window needs: the keyframe (or the real full snapshot) at
or before the window's start, and the events from there to the window's end; nothing
before that opening point, nothing after the end, nothing of any other session.
``/s/TOKEN`` is the player; ``/s/TOKEN/manifest``, ``/s/TOKEN/segments/SEQ`` and
``/s/TOKEN/keyframes/SEQ`` are what it loads. An expired or revoked link answers 410.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.gzip import gzip_page

from replay import csp
from replay.access import administers
from replay.audit import Action, audit
from replay.keyframes import load_keyframe
from replay.models import Keyframe, Segment, Session, ShareLink
from replay.playback import effective_segments, events_response, snapshot_time, storage_answers
from replay.search import BadRequest
from replay.segments import batches_from, segment_rows
from replay.storage import get_storage

DEFAULT_EXPIRY = timedelta(days=7)
MAX_EXPIRY = timedelta(days=90)


class Gone(Exception):
    """The link expired or was revoked."""


def may_share_publicly(user: Any, session: Session) -> bool:
    """Public links are for the project's admins, and for its viewers when the project
    lets them (`Project.viewers_share_publicly`)."""
    return session.project.viewers_share_publicly or administers(user, session.project)


def create(session: Session, user: Any, body: dict[str, Any]) -> ShareLink:
    """A share of `session` from {"start", "end"} (seconds from the session's start) and
    an optional "expires" (ISO 8601 with a zone) or "expires_in" (seconds)."""
    first, last = session.first_event_ms, session.last_event_ms
    if first is None or last is None:
        raise BadRequest("this session has nothing to share yet")
    try:
        start = float(body["start"])
        end = float(body["end"])
    except (KeyError, TypeError, ValueError):
        start = end = math.nan
    if not (math.isfinite(start) and math.isfinite(end)):
        raise BadRequest('send {"start": seconds, "end": seconds} from the session\'s start')
    if not 0 <= start < end:
        raise BadRequest("start must be at least 0 and before end")
    # The window ends with the session at the latest (a number past it means the end).
    duration = (last - first) / 1000
    if start > duration:
        raise BadRequest("start is after the session's end")
    end = min(end, duration)
    expires = _expiry(body)
    return ShareLink.objects.create(
        session=session,
        start_ms=first + round(start * 1000),
        end_ms=min(last, first + round(end * 1000)),
        expires_at=expires,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _expiry(body: dict[str, Any]) -> datetime:
    now = timezone.now()
    if body.get("expires") is not None:
        moment = parse_datetime(str(body["expires"]))
        if moment is None or moment.tzinfo is None:
            raise BadRequest("expires must be an ISO 8601 time with a zone")
    elif body.get("expires_in") is not None:
        try:
            moment = now + timedelta(seconds=float(body["expires_in"]))
        except (TypeError, ValueError, OverflowError):
            raise BadRequest("expires_in must be a number of seconds") from None
    else:
        moment = now + DEFAULT_EXPIRY
    if moment <= now:
        raise BadRequest("the expiry is in the past")
    if moment > now + MAX_EXPIRY:
        raise BadRequest(f"a share link lasts at most {MAX_EXPIRY.days} days")
    return moment


def describe(share: ShareLink, request: HttpRequest) -> dict[str, Any]:
    start = share.session.first_event_ms or share.start_ms
    return {
        "url": request.build_absolute_uri(reverse("share", args=[share.token])),
        "token": share.token,
        "start": (share.start_ms - start) / 1000,
        "end": (share.end_ms - start) / 1000,
        "expires_at": share.expires_at.isoformat(),
    }


def resolve(token: str) -> ShareLink:
    share = (
        ShareLink.objects.select_related("session", "session__project").filter(token=token).first()
    )
    if share is None:
        raise Http404("no such link")
    if share.revoked_at is not None or share.expires_at <= timezone.now():
        raise Gone("this link has expired or was revoked")
    return share


# -- what a share serves --


def _opening(share: ShareLink) -> tuple[int, Keyframe | None]:
    """Where the window's replay starts: the last keyframe or real full snapshot at or
    before the window's start (the later of the two)."""
    frame = (
        Keyframe.objects.filter(session=share.session, timestamp__lte=share.start_ms)
        .order_by("-timestamp")
        .first()
    )
    snapshot_at = (
        Segment.objects.filter(session=share.session, keyframe=True)
        .annotate(snapshot_at=Coalesce("snapshot_ts", "first_ts"))
        .filter(snapshot_at__lte=share.start_ms)
        .aggregate(latest=Max("snapshot_at"))["latest"]
    )
    frame_at = frame.timestamp if frame else None
    if frame_at is not None and (snapshot_at is None or frame_at >= snapshot_at):
        return frame_at, frame
    return (snapshot_at if snapshot_at is not None else share.start_ms), None


def _segments(share: ShareLink, opening: int, frame: Keyframe | None) -> list[tuple[Segment, int]]:
    chosen = []
    for row, first in effective_segments(segment_rows(share.session)):
        if frame is not None and row.seq_end <= frame.after_seq:
            continue
        if row.last_ts is not None and row.last_ts < opening:
            continue
        if row.first_ts is not None and row.first_ts > share.end_ms:
            break
        chosen.append((row, max(first, frame.after_seq + 1) if frame else first))
    return chosen


def manifest(share: ShareLink) -> dict[str, Any]:
    opening, frame = _opening(share)
    return {
        "session": None,
        "start": share.start_ms,
        "end": share.end_ms,
        "segments": [
            {
                "seq_start": row.seq_start,
                "seq_end": row.seq_end,
                "first_ts": max(row.first_ts, opening) if row.first_ts is not None else None,
                "last_ts": min(row.last_ts, share.end_ms) if row.last_ts is not None else None,
                "keyframe": row.keyframe and (snapshot_time(row) or 0) >= opening,
                "snapshot_ts": snapshot_time(row) if (snapshot_time(row) or 0) >= opening else None,
                "url": reverse("share-segment", args=[share.token, row.seq_start])
                + f"?from={first}",
            }
            for row, first in _segments(share, opening, frame)
        ],
        "keyframes": [
            {
                "after_seq": frame.after_seq,
                "timestamp": frame.timestamp,
                "url": reverse("share-keyframe", args=[share.token, frame.after_seq]),
            }
        ]
        if frame
        else [],
        "gaps": [],
    }


def _gone(exc: Gone) -> HttpResponse:
    return JsonResponse({"error": str(exc)}, status=410)


@gzip_page  # JSON for the player, compressed when the browser takes it
@storage_answers
def share_manifest(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        share = resolve(token)
    except Gone as exc:
        return _gone(exc)
    response = JsonResponse(manifest(share))
    response["Cache-Control"] = "private, no-store"
    return response


@gzip_page  # JSON for the player, compressed when the browser takes it
@storage_answers
def share_segment(request: HttpRequest, token: str, seq_start: int) -> HttpResponseBase:
    try:
        share = resolve(token)
    except Gone as exc:
        return _gone(exc)
    opening, frame = _opening(share)
    chosen = {row.seq_start: (row, first) for row, first in _segments(share, opening, frame)}
    if seq_start not in chosen:
        return JsonResponse({"error": "not part of this share"}, status=404)
    row, first = chosen[seq_start]
    try:
        first = max(first, int(request.GET.get("from", first)))
    except ValueError:
        return JsonResponse({"error": "from must be a batch number"}, status=400)
    events = [
        event
        for batch in batches_from(row, get_storage(), first)
        for event in batch.events
        if opening <= _stamp(event) <= share.end_ms
    ]
    # Not kept by the browser: a revoked link must stop working at once.
    return events_response(events, cache="no-store")


def _stamp(event: dict[str, Any]) -> float:
    stamp = event.get("timestamp")
    return float(stamp) if isinstance(stamp, int | float) else float("-inf")


@gzip_page  # JSON for the player, compressed when the browser takes it
@storage_answers
def share_keyframe(request: HttpRequest, token: str, after_seq: int) -> HttpResponseBase:
    try:
        share = resolve(token)
    except Gone as exc:
        return _gone(exc)
    _, frame = _opening(share)
    if frame is None or frame.after_seq != after_seq:
        return JsonResponse({"error": "not part of this share"}, status=404)
    return events_response(load_keyframe(frame, get_storage()), cache="no-store")


def share_player(request: HttpRequest, token: str) -> HttpResponse:
    """The player, for anyone holding the link."""
    try:
        share = resolve(token)
    except Gone:
        return render(request, "replay/share_gone.html", status=410)
    session = share.session
    audit(None, Action.VIEW, session.project, session.id, via="share link")
    config: dict[str, Any] = {
        "session": None,
        "manifestUrl": reverse("share-manifest", args=[token]),
        "shareUrl": None,
        "trackedUrl": None,
        "start": 0,
        "durationMs": share.end_ms - share.start_ms,
        "gaps": [],
    }
    response = render(
        request,
        "replay/player.html",
        {"session": session, "config": config, "gaps": [], "shared": share},
    )
    response[csp.HEADER] = csp.policy(csp.recorded_origins(session))
    return response
