"""The JSON API of funnels (README, "Funnels"):

    POST /api/projects/ID/funnel
    GET  /api/projects/ID/funnel/sessions?q=DEFINITION&step=K&part=converted|dropped
    GET/POST /api/projects/ID/funnels, DELETE /api/projects/ID/funnels/FID (saved)

The answer to a funnel gives, for each bar, the URLs of the lists behind its converted
and dropped parts; those URLs carry the definition with its time range fixed, so a list
is always exactly the entities its bar counted. The project's viewers and admins may
query; anyone else gets 404."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from replay.analytics.api import json_body, project_of, valid_name
from replay.analytics.funnel_query import Result, bars, behind, parse_query, run
from replay.api import LEAD_SECONDS, api, error
from replay.models import SavedFunnel, Session
from replay.search import BadRequest, page_of

MAX_PAGE = 1000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def encoded(definition: dict[str, Any], since_ms: int, until_ms: int) -> str:
    """A definition for a list's URL, with its time range fixed: the list is then
    exactly what was counted, whenever it is opened."""
    fixed = {**definition, "since": _iso(since_ms), "until": _iso(until_ms)}
    text = json.dumps(fixed, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decoded(raw: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        raise BadRequest("q: not a definition (use the URLs the report answers)") from None


def _steps(request: HttpRequest, project_id: int, result: Result, value: str | None) -> Any:
    reached = [r for r in result.reached if value is None or r.value == value]
    steps = bars(result.query, reached)
    base = reverse("api-project-funnel-sessions", args=[project_id])
    query_text = encoded(result.query.definition, result.query.since_ms, result.query.until_ms)
    for step in steps:
        for part in ("converted", "dropped"):
            if part == "dropped" and step["index"] == 1:
                step[part] = None
                continue
            query = {"q": query_text, "step": step["index"], "part": part}
            if value is not None:
                query["value"] = value
            step[part] = request.build_absolute_uri(f"{base}?{urlencode(query)}")
    return steps


@api("POST")
def funnel(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    body = json_body(request)
    result = run(project, parse_query(project, body))
    answer: dict[str, Any] = {"steps": _steps(request, project_id, result, None), "breakdown": []}
    if result.query.breakdown is not None:
        values = sorted({r.value for r in result.reached})
        counts = {v: sum(1 for r in result.reached if r.value == v) for v in values}
        for value in sorted(values, key=lambda v: (-counts[v], v)):
            answer["breakdown"].append(
                {"value": value, "steps": _steps(request, project_id, result, value)}
            )
    return JsonResponse(answer)


@api("GET")
def funnel_sessions(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    """The entities behind a bar, each with the session and a player link at its moment:
    for converted, the step's; for dropped, the last step it completed."""
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    query = parse_query(project, decoded(request.GET.get("q", "")))
    try:
        step = int(request.GET.get("step", ""))
    except ValueError:
        raise BadRequest("step: a step number") from None
    if not 1 <= step <= len(query.labels):
        raise BadRequest(f"step: 1 to {len(query.labels)}")
    part = request.GET.get("part")
    if part not in ("converted", "dropped") or (part == "dropped" and step == 1):
        raise BadRequest("part: converted, or dropped for a step after the first")
    chosen = behind(run(project, query), step, part, request.GET.get("value"))
    page, following = page_of(chosen, request, default=100, largest=MAX_PAGE)
    starts = dict(
        Session.objects.filter(pk__in={r.sessions[i] for r, i in page}).values_list(
            "pk", "first_event_ms"
        )
    )
    listed = []
    for reached, index in page:
        ts, session_id = reached.moment(index)
        start = starts.get(session_id) or ts
        t = max(0.0, (ts - start) / 1000 - LEAD_SECONDS)
        player = request.build_absolute_uri(reverse("player", args=[session_id]))
        listed.append(
            {
                "entity": reached.entity,
                "session": session_id,
                "ts": ts,
                "step": index + 1,
                "link": f"{player}?t={t:.1f}",
            }
        )
    return JsonResponse({"count": len(chosen), "sessions": listed, "next": following})


def _saved(funnel: SavedFunnel) -> dict[str, Any]:
    return {"id": funnel.pk, "name": funnel.name, "definition": funnel.definition}


@api("GET", "POST")
def saved_funnels(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    """A project's saved funnels; POST `{"name", "definition"}` saves one (the
    definition is checked as a query would be, and saved as given, so that its default
    time range keeps moving), or replaces the one of that name."""
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    if request.method == "GET":
        funnels = SavedFunnel.objects.filter(project=project)
        return JsonResponse({"funnels": [_saved(f) for f in funnels]})
    body = json_body(request)
    if not isinstance(body, dict) or set(body) != {"name", "definition"}:
        raise BadRequest("the body must be an object with name and definition")
    name = valid_name(body["name"])
    try:
        parse_query(project, body["definition"])
    except BadRequest as exc:
        raise BadRequest(f"definition.{exc}") from None
    saved, created = SavedFunnel.objects.update_or_create(
        project=project,
        name=name,
        defaults={"definition": body["definition"], "created_by": user},
    )
    return JsonResponse(_saved(saved), status=201 if created else 200)


@api("DELETE")
def saved_funnel(request: HttpRequest, user: Any, project_id: int, funnel_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    deleted, _ = SavedFunnel.objects.filter(project=project, pk=funnel_id).delete()
    if not deleted:
        return error(404, "no such funnel")
    return HttpResponse(status=204)
