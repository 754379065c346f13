"""The JSON API of error groups (README, "Error groups"):

    GET  /api/projects/ID/errors?since=&until=&status=&q=&limit=&offset=
    GET  /api/projects/ID/errors/FINGERPRINT/sessions?since=&until=&limit=&offset=
    POST /api/projects/ID/errors/FINGERPRINT  {"status": "resolved" | "open"}

The list answers `{"groups": [{"id", "fingerprint", "message", "kind", "count",
"sessions", "users", "first_seen", "last_seen", "status", "resolved_at", "trend",
"browsers", "stack", "sessions_url"}], "total", "next"}`, the most recently seen first,
`limit` groups (100 unless given, at most 500) from `offset`, with the URL of the next
page (null on the last) and how many groups the filters found. The project's viewers and
admins may read and mark groups; anyone else gets 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from replay.analytics.api import json_body, project_of
from replay.analytics.error_groups import (
    STATUSES,
    Group,
    decide,
    groups,
    sessions_of,
    span,
    trend,
)
from replay.api import LEAD_SECONDS, api, error
from replay.models import Project, Session
from replay.search import BadRequest, page_of

MAX_PAGE = 500
GROUPS_PAGE = 100  # groups in a page unless asked (the API's default, and /errors's page)
SESSIONS_PAGE = 50  # a group's sessions in a page unless asked (and in /errors's group)


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def summary(request: HttpRequest, project_id: int, group: Group, since: int, until: int) -> Any:
    query = urlencode({"since": iso(since), "until": iso(until)})
    url = reverse("api-project-error-sessions", args=[project_id, group.fingerprint])
    return {
        "id": group.fingerprint,
        "fingerprint": group.fingerprint,
        "message": group.message,
        "kind": group.kind,
        "count": group.count,
        "sessions": group.sessions,
        "users": group.users,
        "first_seen": iso(group.first),
        "last_seen": iso(group.last),
        "status": group.status,
        "resolved_at": iso(group.resolved_at),
        "trend": trend(group, since, until),
        "browsers": dict(group.browsers.most_common()),
        "stack": group.stack,
        "sessions_url": request.build_absolute_uri(f"{url}?{query}"),
    }


def chosen(
    request: HttpRequest, project_id: int, user: Any, key: str | None = None
) -> tuple[Any, int, int, list[Group]]:
    """The project (None for an outsider), the range and its groups (only the one of
    `key`, if given), as filtered."""
    project = project_of(user, project_id)
    if project is None:
        return None, 0, 0, []
    since, until = span(request.GET)
    found = groups(project, since, until, key)
    status = request.GET.get("status")
    if status:
        if status not in STATUSES:
            raise BadRequest(f"status: one of {', '.join(STATUSES)}")
        found = [g for g in found if g.status == status]
    if text := request.GET.get("q", "").strip().lower():
        found = [g for g in found if text in g.message.lower()]
    return project, since, until, found


@api("GET")
def error_groups(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project, since, until, found = chosen(request, project_id, user)
    if project is None:
        return error(404, "no such project")
    page, following = page_of(found, request, default=GROUPS_PAGE, largest=MAX_PAGE)
    listed = [summary(request, project_id, g, since, until) for g in page]
    return JsonResponse({"groups": listed, "total": len(found), "next": following})


def occurrences(
    request: HttpRequest, project: Project, group: Group, since: int, until: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the group's sessions in the range, the most recent first, each with a
    player link a second before its first occurrence of the error there."""
    ordered = sessions_of(project, group.fingerprint, since, until)
    page, following = page_of(ordered, request, default=SESSIONS_PAGE, largest=MAX_PAGE)
    rows = Session.objects.filter(pk__in=[pk for pk, _ in page])
    about = {s.pk: s for s in rows}
    listed = []
    for pk, ts in page:
        session = about.get(pk)
        if session is None:
            continue
        start = session.first_event_ms or ts
        t = max(0.0, (ts - start) / 1000 - LEAD_SECONDS)
        player = request.build_absolute_uri(reverse("player", args=[pk]))
        listed.append(
            {
                "session": pk,
                "user": session.user_id,
                "ts": ts,
                "time": iso(ts),
                "user_agent": session.user_agent,
                "link": f"{player}?t={t:.1f}",
            }
        )
    return listed, following


@api("POST")
def error_group(request: HttpRequest, user: Any, project_id: int, key: str) -> HttpResponse:
    """Marks the group resolved (it shows regressed if it happens again) or open."""
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    status = json_body(request).get("status")
    decide(project, key, status, user)
    return JsonResponse({"id": key, "status": status})


@api("GET")
def error_sessions(request: HttpRequest, user: Any, project_id: int, key: str) -> HttpResponse:
    project, since, until, found = chosen(request, project_id, user, key)
    if project is None:
        return error(404, "no such project")
    if not found:
        return error(404, "no such error group in this range")
    listed, following = occurrences(request, project, found[0], since, until)
    return JsonResponse({"count": found[0].sessions, "sessions": listed, "next": following})
