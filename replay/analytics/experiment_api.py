"""The JSON API of experiment reports (README, "Experiments"):

    POST /api/projects/ID/experiments/report
    GET  /api/projects/ID/experiments/sessions?q=DEFINITION&variant=V&part=converted|not_converted

The report answers each variant's exposures, conversions and statistics against the
control (`replay.analytics.experiments`), and the URLs of the lists of its converted and
not converted entities; a list gives each entity's session with a player link just
before its first exposure. The project's viewers and admins may ask; anyone else gets
404. A malformed field gets a 400 naming it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from replay.analytics.api import json_body, project_of
from replay.analytics.experiments import Entity, compute, listed, outcomes, parse
from replay.analytics.funnel_api import decoded, encoded
from replay.api import LEAD_SECONDS, api, error
from replay.models import Session
from replay.search import BadRequest, page_of

MAX_PAGE = 1000
PARTS = ("converted", "not_converted")


@api("POST")
def report(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    body = json_body(request)
    asked = parse(project, body)
    answer = compute(project, asked)
    base = reverse("api-project-experiment-sessions", args=[project_id])
    text = encoded(asked.definition, asked.funnel.since_ms, asked.funnel.until_ms)
    for variant in answer["variants"]:
        for part in PARTS:
            query = urlencode({"q": text, "variant": variant["variant"], "part": part})
            variant[part] = request.build_absolute_uri(f"{base}?{query}")
    return JsonResponse(answer)


@api("GET")
def report_sessions(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    asked = parse(project, decoded(request.GET.get("q", "")))
    part = request.GET.get("part")
    if part not in PARTS:
        raise BadRequest(f"part: one of {', '.join(PARTS)}")
    found = outcomes(project, asked)
    chosen = listed(found, request.GET.get("variant", ""), part == "converted")
    page, following = page_of(chosen, request, default=100, largest=MAX_PAGE)
    return JsonResponse(
        {"count": len(chosen), "sessions": linked(request, page), "next": following}
    )


def linked(request: HttpRequest, page: list[Entity]) -> list[dict[str, Any]]:
    """Each entity with the session of its first exposure and a player link a second
    before it."""
    starts = dict(
        Session.objects.filter(pk__in=[e.session for e in page]).values_list("pk", "first_event_ms")
    )
    rows = []
    for entity in page:
        start = starts.get(entity.session) or entity.exposed_at
        t = max(0.0, (entity.exposed_at - start) / 1000 - LEAD_SECONDS)
        player = request.build_absolute_uri(reverse("player", args=[entity.session]))
        rows.append(
            {
                "entity": entity.key,
                "session": entity.session,
                "ts": entity.exposed_at,
                "link": f"{player}?t={t:.1f}",
            }
        )
    return rows
