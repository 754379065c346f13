"""The JSON API (README.md, "JSON API"). Authenticated by ``Authorization: Bearer
<token>`` (tokens from ``manage.py createtoken``) or by a logged-in browser session, in
which case unsafe methods need Django's CSRF token. A session the caller cannot see is
answered 404, exactly like one that does not exist."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.gzip import gzip_page

from replay import devtools, playback, sharing
from replay.access import (
    administered_projects,
    administers,
    user_from_bearer,
    visible_projects,
    visible_sessions,
)
from replay.audit import Action, audit
from replay.models import Segment, Session, ShareLink, TrackedEvent
from replay.playback import dump_event
from replay.redaction import RedactionError, Request, carry_out
from replay.retention import user_sessions
from replay.search import BadRequest, filter_sessions, order_sessions, page_of
from replay.segments import delete_session, iter_events, iter_segment_events, segment_rows
from replay.storage import StorageError, get_storage
from replay.summaries import gap_summary, session_summary
from replay.tracking import (
    CLICK,
    CONSOLE,
    CUSTOM,
    ERROR,
    FRICTION,
    IDENTIFY,
    INPUT,
    NETWORK,
    PAGE_VIEW,
    SCROLL,
)

View = Callable[..., HttpResponseBase]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_LIMIT = 500


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def api(*methods: str) -> Callable[[View], View]:
    """An API view: authenticated as the module says, bad input answered 400, an unknown
    session 404, storage failing 503; its answers compressed when the client takes gzip
    (they are JSON, with no secret of the caller's to leak by their compressed size, as a
    page with a CSRF token would)."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @gzip_page
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                response = error(405, f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            user = user_from_bearer(request)
            if user is None:
                if "Authorization" in request.headers:
                    return error(401, "invalid or revoked token")
                if not request.user.is_authenticated:
                    return error(401, "log in or send Authorization: Bearer <token>")
                user = request.user
                if request.method not in SAFE_METHODS:
                    refused = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
                        request, lambda r: HttpResponse(), (), {}
                    )
                    if refused is not None:
                        return error(403, "CSRF token missing or incorrect")
            try:
                return view(request, user, *args, **kwargs)
            except BadRequest as exc:
                return error(400, str(exc))
            except Session.DoesNotExist:
                return error(404, "no such session")
            except StorageError as exc:  # (a missing segment too: it is one)
                return playback.unavailable(exc)

        return wrapper

    return decorate


@api("GET")
def list_sessions(request: HttpRequest, user: Any) -> HttpResponse:
    sessions = filter_sessions(visible_sessions(user), request).select_related("project")
    ordered = order_sessions(sessions, request)
    page, next_url = page_of(ordered, request, default=50, largest=MAX_LIMIT)
    return JsonResponse({"sessions": [session_summary(s, request) for s in page], "next": next_url})


@api("DELETE")
def user_sessions_view(request: HttpRequest, user: Any, user_id: str) -> HttpResponse:
    """Delete every session of one of the site's users, in the projects `user` is an
    admin of."""
    sessions = user_sessions(user_id, administered_projects(user)).select_related("project")
    deleted = 0
    try:
        for session in sessions:
            audit(user, Action.DELETE, session.project, session.id, user_id=user_id)
            delete_session(session, get_storage())
            deleted += 1
    except StorageError as exc:
        return error(503, f"storage is unavailable after {deleted} sessions; send it again: {exc}")
    return JsonResponse({"user_id": user_id, "deleted": deleted})


@api("POST")
def project_redact(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    """Redact the project's stored sessions by selector or pattern over a time range
    (README, "Retroactive redaction"); for the project's admins."""
    project = visible_projects(user).filter(pk=project_id).first()
    if project is None:
        return error(404, "no such project")
    if not administers(user, project):
        return error(403, "only the project's admins may redact its sessions")
    try:
        redaction = Request.parse(json.loads(request.body or b"{}"))
        done = carry_out(
            project,
            redaction,
            user,
            get_storage(),
            via="api",
        )
    except RedactionError as exc:
        return error(400, str(exc))
    except ValueError:
        return error(400, "the body must be JSON")
    except StorageError as exc:
        return error(503, f"storage is unavailable; send the same request again: {exc}")
    return JsonResponse(
        {
            "sessions": done.sessions,
            "segments": done.segments,
            "events": done.events,
            "keyframes": done.keyframes,
        }
    )


@api("POST")
def session_share(request: HttpRequest, user: Any, session_id: str) -> HttpResponse:
    """With {"t": seconds}: a link to the session at a moment, for people who can see it.
    With {"start", "end"} (and "expires" or "expires_in"): a public link to that time
    window, for anyone holding it (`replay.sharing`). The audit log notes both."""
    session = visible_sessions(user).select_related("project").get(pk=session_id)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return error(400, 'send {"t": seconds} or {"start": seconds, "end": seconds}')
    if "start" in body or "end" in body:
        if not sharing.may_share_publicly(user, session):
            return error(403, "only the project's admins may make public links (see the project)")
        share = sharing.create(session, user, body)
        described = sharing.describe(share, request)
        window = {"start": described["start"], "end": described["end"]}
        audit(user, Action.SHARE, session.project, session.id, public=True, **window)
        return JsonResponse(described, status=201)
    try:
        at = max(0.0, float(body.get("t", 0)))
    except (ValueError, TypeError):
        return error(400, 'send {"t": seconds from the start}')
    url = request.build_absolute_uri(reverse("player", args=[session.id])) + f"?t={at:.1f}"
    audit(user, Action.SHARE, session.project, session.id, t=round(at, 1))
    return JsonResponse({"url": url})


@api("DELETE")
def share_revoke(request: HttpRequest, user: Any, token: str) -> HttpResponse:
    """Revoke a public share link: its creator or the project's admins."""
    share = ShareLink.objects.select_related("session__project").filter(token=token).first()
    if share is None or not visible_sessions(user).filter(pk=share.session_id).exists():
        return error(404, "no such share link")
    project = share.session.project
    if share.created_by_id != user.pk and not administers(user, project):
        return error(403, "only who shared it or the project's admins may revoke it")
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        audit(user, Action.SHARE, project, share.session_id, revoked=True)
    return HttpResponse(status=204)


@api("GET", "DELETE")
def session_detail(request: HttpRequest, user: Any, session_id: str) -> HttpResponse:
    session = visible_sessions(user).select_related("project").get(pk=session_id)
    if request.method == "DELETE":
        if not administers(user, session.project):
            return error(403, "only the project's admins delete its sessions")
        audit(user, Action.DELETE, session.project, session.id)
        try:
            delete_session(session, get_storage())
        except StorageError as exc:
            return error(503, f"storage is unavailable, nothing was deleted from the index: {exc}")
        return HttpResponse(status=204)
    summary = session_summary(session, request)
    summary["segments"] = [
        {
            "seq_start": s.seq_start,
            "seq_end": s.seq_end,
            "first_ts": s.first_ts,
            "last_ts": s.last_ts,
            "event_count": s.event_count,
            "size": s.size,
            "keyframe": s.keyframe,
        }
        for s in session.segments.all()
    ]
    summary["gaps"] = [gap_summary(gap, session) for gap in session.gaps.all()]
    return JsonResponse(summary)


# A record's link opens the player this long before the moment, so it is seen coming.
LEAD_SECONDS = 1.0


def tracked_summary(row: TrackedEvent, session: Session, request: HttpRequest) -> dict[str, Any]:
    start = session.first_event_ms or row.ts
    t = max(0.0, (row.ts - start) / 1000)
    player = request.build_absolute_uri(reverse("player", args=[session.id]))
    return {
        "session": session.id,
        "kind": row.kind,
        "ts": row.ts,
        "t": round(t, 3),
        "url": row.url,
        "name": row.name,
        "selector": row.selector,
        "text": row.text,
        "detector": row.detector,
        "data": row.data,
        "link": f"{player}?t={max(0.0, t - LEAD_SECONDS):.1f}",
    }


# Kinds of records a session's list may be asked for (`kind=`).
RECORD_KINDS = frozenset(
    [PAGE_VIEW, CLICK, INPUT, SCROLL, CUSTOM, IDENTIFY, ERROR, CONSOLE, NETWORK, FRICTION]
)
TRACKED_PAGE, TRACKED_MAX_PAGE = 1000, 5000


@api("GET")
def session_tracked(request: HttpRequest, user: Any, session_id: str) -> HttpResponse:
    """The session's event-tracking records and friction moments, in time order, each
    with a link to the player just before it: a page of them (`limit`, `offset`; `next`
    is the next page's URL), of the kinds asked for (`kind=click,friction`; all by
    default)."""
    session = visible_sessions(user).get(pk=session_id)
    rows = TrackedEvent.objects.filter(session=session).order_by("ts", "id")
    if kinds := [kind for kind in request.GET.get("kind", "").split(",") if kind]:
        if unknown := sorted(set(kinds) - RECORD_KINDS):
            known = ", ".join(sorted(RECORD_KINDS))
            raise BadRequest(f"unknown kind {unknown[0]!r}: one of {known}")
        rows = rows.filter(kind__in=kinds)
    page, next_url = page_of(rows, request, default=TRACKED_PAGE, largest=TRACKED_MAX_PAGE)
    return JsonResponse(
        {
            "records": [tracked_summary(row, session, request) for row in page],
            "next": next_url,
            "tracked_seq": session.tracked_seq,
            "complete": session.tracked_seq >= session.acked_seq,
        }
    )


@api("GET")
def session_devtools(request: HttpRequest, user: Any, session_id: str) -> HttpResponse:
    """What the page's console and network did, and its errors, for the player's
    devtools drawer (README, "Console and network"): `replay.devtools.collect` over the
    session's stored events."""
    session = visible_sessions(user).select_related("project").get(pk=session_id)
    found = devtools.collect(iter_events(session, get_storage()), session.project.slow_request_ms)
    found["slow_ms"] = session.project.slow_request_ms
    found["start"] = session.first_event_ms
    return JsonResponse(found)


def _event_chunks(rows: list[Segment]) -> Iterator[bytes]:
    """The export as JSON text, one chunk per segment."""
    storage = get_storage()
    separator = b""
    yield b"["
    for events in iter_segment_events(rows, storage):
        if events:
            text = ",".join(dump_event(e) for e in events)
            yield separator + text.encode()
            separator = b","
    yield b"]"


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Storage reads and decoding happen in a worker thread, one segment at a time, so a
    # long session streams out without being held in memory whole.
    while (chunk := await sync_to_async(_next_chunk, thread_sensitive=False)(chunks)) is not None:
        yield chunk


async def _gzipped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """One gzip stream of the chunks, flushed after each. (Django's GZipMiddleware
    makes a gzip member of each chunk of an asynchronous stream, and browsers read only
    the first member.)"""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    async for chunk in chunks:
        yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


@api("GET")
def session_manifest(request: HttpRequest, user: Any, session_id: str) -> HttpResponseBase:
    session = visible_sessions(user).get(pk=session_id)
    response = JsonResponse(playback.manifest(session, request))
    response["Cache-Control"] = "private, no-store"
    return response


@api("GET")
def session_segment(
    request: HttpRequest, user: Any, session_id: str, seq_start: int
) -> HttpResponseBase:
    return playback.segment_events(visible_sessions(user).get(pk=session_id), seq_start, request)


@api("GET")
def session_keyframe(
    request: HttpRequest, user: Any, session_id: str, after_seq: int
) -> HttpResponseBase:
    return playback.keyframe_events(visible_sessions(user).get(pk=session_id), after_seq)


@api("GET")
def session_events(request: HttpRequest, user: Any, session_id: str) -> HttpResponseBase:
    session = visible_sessions(user).select_related("project").get(pk=session_id)
    audit(user, Action.EXPORT, session.project, session.id)
    chunks = _async_chunks(_event_chunks(segment_rows(session)))
    gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    response = StreamingHttpResponse(
        _gzipped(chunks) if gzip else chunks, content_type="application/json"
    )
    if gzip:
        response["Content-Encoding"] = "gzip"  # the api decorator's gzip leaves it so
    patch_vary_headers(response, ["Accept-Encoding"])
    response["Content-Disposition"] = f'inline; filename="{session.id}.events.json"'
    response["Cache-Control"] = "private, no-store"
    return response
