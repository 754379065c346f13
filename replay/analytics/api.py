"""The JSON API of actions (README, "Actions"):

    GET/POST /api/projects/ID/actions
    GET/PATCH/DELETE /api/projects/ID/actions/AID
    POST /api/projects/ID/actions/preview

Each action is answered as `{"id", "name", "matchers", "records_30d", "sessions_30d"}`.
The project's viewers and admins may read, preview and define actions; others get 404.
A malformed field gets a 400 naming it."""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from replay.access import visible_projects
from replay.analytics.actions import count
from replay.analytics.matchers import MatcherError, parse_all
from replay.api import api, error, tracked_summary
from replay.models import Action, Project, TrackedEvent
from replay.search import BadRequest

MAX_NAME = 200


def project_of(user: Any, project_id: int) -> Project | None:
    """The project, if the user is its viewer or admin."""
    return visible_projects(user).filter(pk=project_id).first()


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _matchers(raw: Any) -> list[Any]:
    try:
        parse_all(raw)
    except MatcherError as exc:
        raise BadRequest(str(exc)) from None
    return list(raw)


def valid_name(raw: Any) -> str:
    """A name for an action or a saved funnel, stripped, or a BadRequest."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("name: a non-empty string")
    if len(raw.strip()) > MAX_NAME:
        raise BadRequest(f"name: at most {MAX_NAME} characters")
    return raw.strip()


def answer(action: Action) -> dict[str, Any]:
    counts = count(action.project, parse_all(action.matchers))
    return {
        "id": action.pk,
        "name": action.name,
        "matchers": action.matchers,
        "records_30d": counts.records,
        "sessions_30d": counts.sessions,
    }


def _save(action: Action) -> None:
    try:
        with transaction.atomic():
            action.save()
    except IntegrityError:
        raise BadRequest(f"name: the project has an action named {action.name!r}") from None


@api("GET", "POST")
def project_actions(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    if request.method == "GET":
        actions = [
            answer(action)
            for action in Action.objects.filter(project=project).select_related("project")
        ]
        return JsonResponse({"actions": actions})
    body = json_body(request)
    unknown = sorted(set(body) - {"name", "matchers"})
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a field of an action")
    action = Action(
        project=project,
        name=valid_name(body.get("name")),
        matchers=_matchers(body.get("matchers")),
        created_by=user,
    )
    _save(action)
    return JsonResponse(answer(action), status=201)


@api("GET", "PATCH", "DELETE")
def project_action(
    request: HttpRequest, user: Any, project_id: int, action_id: int
) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    action = (
        Action.objects.filter(project=project)
        .select_related("project")
        .filter(pk=action_id)
        .first()
    )
    if action is None:
        return error(404, "no such action")
    if request.method == "DELETE":
        action.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        body = json_body(request)
        unknown = sorted(set(body) - {"name", "matchers"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: not a field of an action")
        if "name" in body:
            action.name = valid_name(body["name"])
        if "matchers" in body:
            action.matchers = _matchers(body["matchers"])
        _save(action)
    return JsonResponse(answer(action))


@api("POST")
def preview(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    """What matchers would match, without saving them: the counts and up to ten of the
    latest records, each with a player link."""
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    raw = json_body(request).get("matchers")
    try:
        matchers = parse_all(raw)
    except MatcherError as exc:
        raise BadRequest(str(exc)) from None
    counts = count(project, matchers, examples=10)
    rows = TrackedEvent.objects.filter(pk__in=counts.latest).select_related("session")
    by_id = {row.pk: row for row in rows}
    examples = [
        tracked_summary(by_id[row_id], by_id[row_id].session, request)
        for row_id in counts.latest
        if row_id in by_id
    ]
    return JsonResponse(
        {"records_30d": counts.records, "sessions_30d": counts.sessions, "examples": examples}
    )
