"""Who may record, and opening a session: the checks shared by the WebSocket consumer
and the HTTP batch endpoint (blocking ORM code, run in worker threads)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ingest.protocol import CloseCode, Page, ProtocolError
from replay.models import Project, Session


@dataclass(frozen=True)
class Opened:
    session_id: str
    project_id: int
    acked: int
    created: bool


def authorize(key: str, origin: str | None) -> Project:
    """The enabled project that owns `key` and allows `origin`, or ProtocolError."""
    project = Project.objects.filter(key=key).first()
    if project is None or not project.enabled:
        raise ProtocolError(CloseCode.UNKNOWN_KEY, "unknown or disabled project key")
    if not project.allows_origin(origin):
        raise ProtocolError(CloseCode.FORBIDDEN, f"origin {origin or '(none)'} is not allowed")
    return project


def open_session(
    project: Project,
    session_id: str,
    *,
    tab: str,
    page: Page | None,
    user: str | None,
    user_agent: str,
) -> Opened:
    """Create the session or continue it (a new page load, a reconnect). A session id
    that belongs to another project is refused rather than mixed in."""
    viewport = page.get("viewport") if page else None
    session, created = Session.objects.get_or_create(
        pk=session_id,
        defaults={
            "project": project,
            "tab": tab,
            "user_id": user or "",
            "user_agent": user_agent[:1000],
            "viewport_width": viewport["width"] if viewport else None,
            "viewport_height": viewport["height"] if viewport else None,
            "urls": [page["url"]] if page and page["url"] else [],
        },
    )
    if session.project_id != project.pk:
        raise ProtocolError(CloseCode.FORBIDDEN, "this session belongs to another project")
    if not created:
        with transaction.atomic():
            # Locked, so a commit's update of `urls` cannot interleave with this one.
            session = Session.objects.select_for_update().get(pk=session_id)
            changed = []
            if user and session.user_id != user:
                session.user_id = user
                changed.append("user_id")
            if viewport:
                session.viewport_width = viewport["width"]
                session.viewport_height = viewport["height"]
                changed += ["viewport_width", "viewport_height"]
            if page and page["url"]:
                before = list(session.urls)
                session.add_url(page["url"])
                if session.urls != before:
                    changed.append("urls")
            if changed:
                session.save(update_fields=changed)
    return Opened(session.pk, project.pk, session.acked_seq, created)
