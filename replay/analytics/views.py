"""The analytics pages: actions (a project's actions listed with what they matched in
the last 30 days, and an editor whose preview counts and shows examples as the matchers
change), funnels (built from actions or quick matchers, with the sessions behind every
bar) and heatmaps (clicks and scrolling drawn over a page as it was recorded)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from replay import csp
from replay.access import visible_projects
from replay.analytics.heatmaps import KINDS as HEATMAP_KINDS
from replay.analytics.heatmaps import WIDTHS
from replay.analytics.matchers import KINDS
from replay.friction import DETECTORS
from replay.models import Project, normalize_origin


def chosen_project(request: HttpRequest) -> tuple[list[Project], Project | None]:
    """The user's projects, and the one asked for (`?project=ID`) or the first."""
    projects = list(visible_projects(request.user).order_by("name"))
    chosen = request.GET.get("project", "")
    project = next((p for p in projects if str(p.pk) == chosen), projects[0] if projects else None)
    return projects, project


@login_required
@ensure_csrf_cookie  # the page defines actions through the API
def actions_page(request: HttpRequest) -> HttpResponse:
    projects, project = chosen_project(request)
    config = None
    if project is not None:
        config = {
            "project": project.pk,
            "actionsUrl": reverse("api-project-actions", args=[project.pk]),
            "previewUrl": reverse("api-project-actions-preview", args=[project.pk]),
            "kinds": list(KINDS),
            "detectors": [detector.name for detector in DETECTORS],
        }
    context = {"projects": projects, "project": project, "config": config}
    return render(request, "replay/actions.html", context)


@login_required
@ensure_csrf_cookie  # the page asks for funnels and saves them through the API
def funnels_page(request: HttpRequest) -> HttpResponse:
    projects, project = chosen_project(request)
    config = None
    if project is not None:
        config = {
            "project": project.pk,
            "funnelUrl": reverse("api-project-funnel", args=[project.pk]),
            "savedUrl": reverse("api-project-funnels", args=[project.pk]),
            "actionsUrl": reverse("api-project-actions", args=[project.pk]),
            "detectors": [detector.name for detector in DETECTORS],
        }
    context = {"projects": projects, "project": project, "config": config}
    return render(request, "replay/funnels.html", context)


@login_required
def heatmaps_page(request: HttpRequest) -> HttpResponse:
    projects, project = chosen_project(request)
    config = None
    origins: list[str] = []
    if project is not None:
        config = {
            "project": project.pk,
            "heatmapUrl": reverse("api-project-heatmap", args=[project.pk]),
            "pagesUrl": reverse("api-project-heatmap-pages", args=[project.pk]),
            "url": request.GET.get("url", ""),
            "width": request.GET.get("width", "desktop"),
            "kind": request.GET.get("kind", "click"),
            "widths": list(WIDTHS),
            "kinds": list(HEATMAP_KINDS),
        }
        allowed = (normalize_origin(o) for o in project.allowed_origins)
        origins = [o for o in allowed if o is not None]
    context = {"projects": projects, "project": project, "config": config}
    response = render(request, "replay/heatmaps.html", context)
    # The page is drawn as the player draws it: its assets may come from the origins
    # the project records, and from nowhere else.
    response[csp.HEADER] = csp.policy(origins)
    return response
