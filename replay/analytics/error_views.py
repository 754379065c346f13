"""The error groups page, `/errors` (README, "Error groups"): a project's errors grouped
by fingerprint with their counts, sessions, users, last time seen, status and a daily
trend drawn on the server; one group's detail (its stack, browsers, trend, and the
sessions it happened in, SESSIONS_PAGE at a time, each playing a second before it); and
marking a group resolved or open again."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from replay.analytics import charts
from replay.analytics.error_api import GROUPS_PAGE, SESSIONS_PAGE, iso, occurrences
from replay.analytics.error_groups import STATUSES, decide, groups, trend
from replay.analytics.views import chosen_project
from replay.search import BadRequest

DAYS = (1, 7, 14, 30, 90)


def _span(days: int) -> tuple[int, int]:
    """The last `days` calendar days (UTC), today included."""
    today = timezone.now().astimezone(UTC).date()
    since = datetime.combine(today - timedelta(days=days - 1), time.min, UTC)
    until = datetime.combine(today + timedelta(days=1), time.min, UTC)
    return int(since.timestamp() * 1000), int(until.timestamp() * 1000)


def _page_url(request: HttpRequest, number: int) -> str:
    """This page's URL with the list's page `number` (1 and on), no group open. (Not
    `offset`, which the open group's list of sessions reads.)"""
    query = request.GET.copy()
    query.pop("group", None)
    query.pop("offset", None)
    query["page"] = str(number)
    return "?" + query.urlencode()


def _sessions_url(request: HttpRequest, offset: int) -> str:
    """This page's URL, its group open, with that group's sessions from `offset`."""
    query = request.GET.copy()
    query.pop("offset", None)
    if offset > 0:
        query["offset"] = str(offset)
    return "?" + query.urlencode() + "#group"


@login_required
def errors_page(request: HttpRequest) -> HttpResponse:
    projects, project = chosen_project(request)
    context: dict[str, Any] = {"projects": projects, "project": project, "day_choices": DAYS}
    if project is None:
        return render(request, "replay/errors.html", context)
    if request.method == "POST":
        with contextlib.suppress(BadRequest):  # (only the page's own buttons post here)
            decide(project, request.POST.get("group", ""), request.POST.get("status"), request.user)
        return HttpResponseRedirect(request.get_full_path())
    params = request.GET
    days = int(params["days"]) if params.get("days", "").isdigit() else 14
    days = days if days in DAYS else 14
    status = params.get("status", "")
    text = params.get("q", "").strip()
    since, until = _span(days)
    found = groups(project, since, until)
    counts = {s: sum(g.status == s for g in found) for s in STATUSES}
    if status in STATUSES:
        found = [g for g in found if g.status == status]
    if text:
        found = [g for g in found if text.lower() in g.message.lower()]
    number = int(params["page"]) if params.get("page", "").isdigit() else 1
    number = number if 1 <= number <= max(1, -(-len(found) // GROUPS_PAGE)) else 1
    offset = (number - 1) * GROUPS_PAGE
    shown = found[offset : offset + GROUPS_PAGE]
    rows = []
    for group in shown:
        days_counts = [d["count"] for d in trend(group, since, until)]
        rows.append(
            {
                "group": group,
                "spark": charts.spark(days_counts),
                "last_seen": iso(group.last),
                "first_seen": iso(group.first),
            }
        )
    context.update(
        days=days, status=status, q=text, rows=rows, counts=counts, total=sum(counts.values())
    )
    context["page_size"] = GROUPS_PAGE
    more = offset + GROUPS_PAGE < len(found)
    context["pages"] = {
        "number": number,
        "first": offset + 1,
        "last": offset + len(shown),
        "of": len(found),
        "previous": _page_url(request, number - 1) if number > 1 else None,
        "next": _page_url(request, number + 1) if more else None,
    }
    chosen = params.get("group")
    current = next((g for g in found if g.fingerprint == chosen), None)
    if current is not None:
        daily = trend(current, since, until)
        listed, following = occurrences(request, project, current, since, until)
        at = int(params["offset"]) if params.get("offset", "").isdigit() else 0
        context["current"] = {
            "group": current,
            "trend": charts.bars([d["day"][5:] for d in daily], [d["count"] for d in daily]),
            "browsers": current.browsers.most_common(),
            "sessions": listed,
            "first": at + 1,
            "last": at + len(listed),
            "previous": _sessions_url(request, at - SESSIONS_PAGE) if at > 0 else None,
            "next": _sessions_url(request, at + SESSIONS_PAGE) if following else None,
        }
        context["sessions_page"] = SESSIONS_PAGE
    return render(request, "replay/errors.html", context)
