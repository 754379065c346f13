"""``GET /api/events``: event-tracking records across sessions (README, "JSON API"), as
JSON pages or as CSV, for the projects the caller can see.

Filters: ``kind`` (one or more, comma-separated), ``name`` (a friction type, custom
event name or error message, exactly), ``url`` and ``selector`` (parts of them),
``since``/``until`` (ISO 8601, on the record's time), ``user`` (the session's user id),
``project`` (name), ``session``, ``network_status`` and ``console_level`` (as the
session list takes them, `replay.search`). Pages of ``limit`` (1-1000, default 100) from
``offset``, oldest first; JSON answers carry the next page's URL, CSV answers a
``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from replay.access import visible_projects
from replay.api import RECORD_KINDS, api
from replay.models import TrackedEvent
from replay.search import BadRequest, console_condition, moment, network_condition, page_of
from replay.spreadsheets import csv_text

MAX_LIMIT = 1000
COLUMNS = [
    "time",
    "session",
    "project",
    "user",
    "kind",
    "name",
    "url",
    "selector",
    "text",
    "detector",
    "link",
]


def _records(request: HttpRequest, user: Any) -> QuerySet[TrackedEvent]:
    records = TrackedEvent.objects.filter(project__in=visible_projects(user))
    if kinds := request.GET.get("kind"):
        wanted = {k.strip() for k in kinds.split(",") if k.strip()}
        if not wanted <= RECORD_KINDS:
            raise BadRequest(f"kind must be among {', '.join(sorted(RECORD_KINDS))}")
        records = records.filter(kind__in=wanted)
    if name := request.GET.get("name"):
        records = records.filter(name=name)
    if url := request.GET.get("url"):
        records = records.filter(url__icontains=url)
    if selector := request.GET.get("selector"):
        records = records.filter(selector__icontains=selector)
    if since := moment(request, "since"):
        records = records.filter(ts__gte=round(since.timestamp() * 1000))
    if until := moment(request, "until"):
        records = records.filter(ts__lt=round(until.timestamp() * 1000))
    if user_id := request.GET.get("user"):
        records = records.filter(session__user_id=user_id)
    if project := request.GET.get("project"):
        records = records.filter(project__name=project)
    if session := request.GET.get("session"):
        records = records.filter(session_id=session)
    if status := request.GET.get("network_status"):
        records = records.filter(network_condition(status))
    if levels := request.GET.get("console_level"):
        records = records.filter(console_condition(levels))
    return records.select_related("session", "project").order_by("ts", "id")


def _row(record: TrackedEvent, request: HttpRequest) -> dict[str, Any]:
    session = record.session
    start = session.first_event_ms or record.ts
    t = max(0.0, (record.ts - start) / 1000)
    player = request.build_absolute_uri(reverse("player", args=[session.id]))
    return {
        "time": datetime.fromtimestamp(record.ts / 1000, tz=UTC).isoformat(),
        "ts": record.ts,
        "t": round(t, 3),
        "session": session.id,
        "project": record.project.name,
        "user": session.user_id,
        "kind": record.kind,
        "name": record.name,
        "url": record.url,
        "selector": record.selector,
        "text": record.text,
        "detector": record.detector,
        "data": record.data,
        "link": f"{player}?t={max(0.0, t - 1):.1f}",
    }


@api("GET")
def list_events(request: HttpRequest, user: Any) -> HttpResponse:
    wants_csv = request.GET.get("format") == "csv"
    if request.GET.get("format") not in (None, "", "json", "csv"):
        raise BadRequest("format must be json or csv")
    page, next_url = page_of(_records(request, user), request, default=100, largest=MAX_LIMIT)
    rows = [_row(record, request) for record in page]
    if not wants_csv:
        return JsonResponse({"events": rows, "next": next_url})
    response = HttpResponse(csv_text(COLUMNS, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="events.csv"'
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response
