"""The JSON API of heatmaps (README, "Heatmaps"):

    GET /api/projects/ID/heatmap?url=GLOB&width=W&kind=K&since=&until=
    GET /api/projects/ID/heatmap/sessions?(the same)&selector=S
    GET /api/projects/ID/heatmap/pages?url=GLOB&width=W&since=&until=

The first answers a click map (each element's clicks and their places; for kind rage,
dead or error, those friction moments) or a scroll map (kind scroll); every element
gives the URL of the list of sessions that clicked it. The second lists them, newest
first, each with a player link just before its first such click. The third lists the
page views a heatmap may be drawn over, newest first, each with the moment to open. A
malformed parameter gets a 400 naming it; anyone but the project's viewers and admins
gets 404."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from replay.analytics.api import project_of
from replay.analytics.heatmaps import (
    Query,
    clicked_sessions,
    clicks,
    matching,
    parse,
    records,
    scrolling,
)
from replay.api import LEAD_SECONDS, api, error
from replay.models import Session
from replay.search import BadRequest, page_of

MAX_PAGE = 1000
MAX_PAGES = 20  # page views offered as backgrounds


def _query_params(query: Query) -> dict[str, str]:
    return {"url": query.url, "width": query.width, "kind": query.kind}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@api("GET")
def heatmap(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    query = parse(request.GET)
    if query.kind == "scroll":
        return JsonResponse(scrolling(project, query))
    answer = clicks(project, query)
    base = reverse("api-project-heatmap-sessions", args=[project_id])
    fixed = {**_query_params(query), "since": _iso(query.since_ms), "until": _iso(query.until_ms)}
    for element in answer["elements"]:
        wanted = urlencode({**fixed, "selector": element["selector"]})
        element["sessions"] = request.build_absolute_uri(f"{base}?{wanted}")
    return JsonResponse(answer)


def _link(request: HttpRequest, session_id: str, ts: int, start: int | None) -> str:
    t = max(0.0, (ts - (start or ts)) / 1000 - LEAD_SECONDS)
    player = request.build_absolute_uri(reverse("player", args=[session_id]))
    return f"{player}?t={t:.1f}"


@api("GET")
def heatmap_sessions(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    query = parse(request.GET)
    if query.kind == "scroll":
        raise BadRequest("kind: sessions are listed for clicks (click, rage, dead, error)")
    if "selector" not in request.GET:
        raise BadRequest("selector: the element's selector, as the heatmap names it")
    found = clicked_sessions(project, query, request.GET["selector"])
    page, following = page_of(found, request, default=100, largest=MAX_PAGE)
    sessions = Session.objects.filter(pk__in=[s for s, _, _ in page])
    starts, users = {}, {}
    for pk, first, user_id in sessions.values_list("pk", "first_event_ms", "user_id"):
        starts[pk], users[pk] = first, user_id
    listed = [
        {
            "session": session_id,
            "user": users.get(session_id, ""),
            "ts": ts,
            "clicks": count,
            "link": _link(request, session_id, ts, starts.get(session_id)),
        }
        for session_id, ts, count in page
    ]
    return JsonResponse({"count": len(found), "sessions": listed, "next": following})


@api("GET")
def heatmap_pages(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    """Page views of the URL at the width, newest first: what the page is drawn from."""
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    query = replace(parse({**request.GET.dict(), "kind": "click"}), kind="pageview")
    views = records(project, query).order_by("-ts")
    rows = views.values_list("url", "session_id", "ts", "data__vw")
    chosen: list[tuple[str, str, int, Any]] = []
    for row in matching(query, rows.iterator(chunk_size=500)):
        chosen.append(row)
        if len(chosen) == MAX_PAGES:
            break
    starts = dict(
        Session.objects.filter(pk__in=[r[1] for r in chosen]).values_list("pk", "first_event_ms")
    )
    pages = []
    for url, session_id, ts, width in chosen:
        start = starts.get(session_id) or ts
        pages.append(
            {
                "session": session_id,
                "url": url,
                "ts": ts,
                "vw": width,
                "t": round((ts - start) / 1000, 3),
                "manifest": request.build_absolute_uri(
                    reverse("api-session-manifest", args=[session_id])
                ),
            }
        )
    return JsonResponse({"pages": pages})
