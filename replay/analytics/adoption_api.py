"""The JSON API of feature adoption (README, "Feature adoption"):

    POST /api/projects/ID/adoption  {"feature": STEP, "interval": "day"|"week"|"month",
                                     "since": ISO, "until": ISO}

answers `{"intervals": [{"start", "active_users", "adopters", "rate",
"cumulative_adopters", "retained"}], "stickiness": [N1, ..., N7], "anonymous"}`. The
project's viewers and admins may ask; anyone else gets 404. A malformed field gets a 400
naming it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from replay.analytics.adoption import compute, parse
from replay.analytics.api import json_body, project_of
from replay.api import api, error


@api("POST")
def adoption(request: HttpRequest, user: Any, project_id: int) -> HttpResponse:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    body = json_body(request)
    return JsonResponse(compute(project, parse(project, body)))
