"""Finding sessions: the filters shared by the JSON API and the session list page.

Query parameters: ``project`` (name), ``user`` (exact user id), ``url`` (part of any
visited URL), ``since``/``until`` (ISO 8601, on the session's start), ``min_duration``/
``max_duration`` (seconds).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from replay.models import Session


class BadRequest(Exception):
    """A filter value that cannot be understood; answered with 400 and this message."""


def number(request: HttpRequest, name: str, default: float | None = None) -> float | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def _moment(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise BadRequest(f"{name} must be an ISO 8601 date and time")
    return moment


def filter_sessions(sessions: QuerySet[Session], request: HttpRequest) -> QuerySet[Session]:
    """Filters shared by the API and the session list page."""
    if project := request.GET.get("project"):
        sessions = sessions.filter(project__name=project)
    if user := request.GET.get("user"):
        sessions = sessions.filter(user_id=user)
    if url := request.GET.get("url"):
        sessions = sessions.filter(urls__icontains=url)
    if since := _moment(request, "since"):
        sessions = sessions.filter(created_at__gte=since)
    if until := _moment(request, "until"):
        sessions = sessions.filter(created_at__lt=until)
    sessions = sessions.annotate(length_ms=F("last_event_ms") - F("first_event_ms"))
    if (shortest := number(request, "min_duration")) is not None:
        sessions = sessions.filter(length_ms__gte=shortest * 1000)
    if (longest := number(request, "max_duration")) is not None:
        sessions = sessions.filter(length_ms__lte=longest * 1000)
    return sessions
