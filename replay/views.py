"""The web UI: session list, player, projects, and the demo shop."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from replay import csp, sharing
from replay.access import administered_projects, visible_projects, visible_sessions
from replay.audit import Action, audit
from replay.models import Project
from replay.redaction import RedactionError, carry_out
from replay.redaction import Request as RedactionRequest
from replay.search import (
    FRICTION_TYPES,
    NETWORK_STATUSES,
    BadRequest,
    filter_sessions,
    order_sessions,
)
from replay.storage import StorageError, get_storage
from replay.summaries import gap_summary

DEMO_PROJECT = "Demo shop"


def home(request: HttpRequest) -> HttpResponse:
    return redirect("sessions")


@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    sessions = visible_sessions(request.user).select_related("project")
    problem = None
    try:
        sessions = filter_sessions(sessions, request)
    except BadRequest as exc:
        problem = str(exc)
    try:
        ordered = order_sessions(sessions, request)
    except BadRequest as exc:
        problem, ordered = str(exc), sessions.order_by("-created_at", "id")
    page = Paginator(ordered, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "page": page,
        "problem": problem,
        "filters": request.GET,
        "query": query.urlencode(),
        "projects": visible_projects(request.user),
        "friction_types": FRICTION_TYPES,
        "network_statuses": NETWORK_STATUSES,
    }
    return render(request, "replay/sessions.html", context)


@login_required
@ensure_csrf_cookie  # the player posts shared links (api/sessions/ID/share)
def player(request: HttpRequest, session_id: str) -> HttpResponse:
    session = get_object_or_404(
        visible_sessions(request.user).select_related("project"), pk=session_id
    )
    try:
        start = max(0.0, float(request.GET.get("t", "")))
    except ValueError:
        start = None
    audit(request.user, Action.VIEW, session.project, session.id)
    gaps = list(session.gaps.all())
    config = {
        "session": session.id,
        "manifestUrl": reverse("api-session-manifest", args=[session.id]),
        "shareUrl": reverse("api-session-share", args=[session.id]),
        "trackedUrl": reverse("api-session-tracked", args=[session.id]),
        "devtoolsUrl": reverse("api-session-devtools", args=[session.id]),
        # For the devtools drawer's bug report.
        "user": session.user_id,
        "userAgent": session.user_agent,
        "start": start,
        "durationMs": session.duration_ms,
        "gaps": [gap_summary(gap, session) for gap in gaps],
    }
    context = {
        "session": session,
        "config": config,
        "gaps": gaps,
        "public_links": sharing.may_share_publicly(request.user, session),
    }
    response = render(request, "replay/player.html", context)
    # The replayed page may load its own assets, from where it was recorded.
    response[csp.HEADER] = csp.policy(csp.recorded_origins(session))
    return response


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.user).annotate(session_count=Count("sessions"))
    administered = set(administered_projects(request.user).values_list("pk", flat=True))
    recorder_url = request.build_absolute_uri(settings.STATIC_URL + "replay/recorder.js")
    context = {"projects": projects, "administered": administered, "recorder_url": recorder_url}
    return render(request, "replay/projects.html", context)


@login_required
def project_audit(
    request: HttpRequest, project_id: int, extra: dict[str, Any] | None = None
) -> HttpResponse:
    """Who viewed, shared, exported, redacted or deleted the project's sessions, and the
    redaction form; for its admins."""
    project = get_object_or_404(administered_projects(request.user), pk=project_id)
    entries = project.audit.all()[:500]
    context = {"project": project, "entries": entries, "form": {}, **(extra or {})}
    return render(request, "replay/audit.html", context)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@login_required
def project_redact(request: HttpRequest, project_id: int) -> HttpResponse:
    """The audit page's redaction form (the same as `POST /api/projects/ID/redact`);
    times are UTC."""
    project = get_object_or_404(administered_projects(request.user), pk=project_id)
    if request.method != "POST":
        return redirect("project-audit", project_id=project.pk)
    form = request.POST
    body = {
        "selectors": _lines(form.get("selectors", "")),
        "patterns": _lines(form.get("patterns", "")),
        "start": form["start"] + "Z" if form.get("start") else None,
        "end": form["end"] + "Z" if form.get("end") else None,
        "sessions": form.get("sessions", "").replace(",", " ").split(),
    }
    try:
        done = carry_out(
            project,
            RedactionRequest.parse(body),
            request.user,
            get_storage(),
            via="the audit page",
        )
    except (RedactionError, StorageError) as exc:
        return project_audit(request, project.pk, {"failure": str(exc), "form": form})
    return project_audit(request, project.pk, {"done": done})


def demo(request: HttpRequest) -> HttpResponse:
    """A small shop that records itself into the demo project."""
    project = Project.objects.filter(name=DEMO_PROJECT, enabled=True).first()
    if project is None:
        raise Http404("The demo project does not exist: run `make run` or `manage.py bootstrap`.")
    return render(request, "replay/demo.html", {"project": project})
