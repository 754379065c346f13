"""Who may record, and opening a session: the checks shared by the WebSocket consumer
and the HTTP batch endpoint (blocking ORM code, run in worker threads)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ingest.limits import KeyedBuckets
from ingest.protocol import CloseCode, Page, ProtocolError
from replay.models import Project, Session
from replay.privacy import RecordingConfig
from replay.scrub import Scrubber


@dataclass(frozen=True)
class Opened:
    session_id: str
    project_id: int
    acked: int
    created: bool
    cut_reason: str
    config: RecordingConfig  # the privacy options its recorders must follow
    scrubber: Scrubber | None = None  # the project's, when it scrubs recordings


def scope_header(scope: dict[str, Any], name: bytes) -> str | None:
    """One request header from an ASGI scope, decoded as Latin-1 (as HTTP defines)."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


@cache
def _new_sessions(per_minute: float) -> KeyedBuckets:
    return KeyedBuckets(rate=per_minute / 60, burst=max(1.0, per_minute))


def may_create(key: str) -> bool:
    """The new-sessions-per-minute token bucket of a project key (per process)."""
    return _new_sessions(settings.REPLAY_NEW_SESSIONS_PER_MINUTE).take(key)


# Hellos arrive by the thousand when recorders reconnect; the project behind a key
# changes rarely. A project edit (disabling it, changing its origins) reaches ingest
# within this many seconds.
PROJECT_CACHE_SECONDS = 10.0
_projects: dict[str, tuple[float, Project | None]] = {}
_projects_lock = threading.Lock()


def _project(key: str) -> Project | None:
    now = time.monotonic()
    with _projects_lock:
        cached = _projects.get(key)
    if cached is not None and now - cached[0] < PROJECT_CACHE_SECONDS:
        return cached[1]
    project = Project.objects.filter(key=key).first()
    with _projects_lock:
        if len(_projects) > 10_000:  # made-up keys must not grow memory without bound
            _projects.clear()
        _projects[key] = (now, project)
    return project


def authorize(key: str, origin: str | None) -> Project:
    """The enabled project that owns `key` and allows `origin`, or ProtocolError."""
    project = _project(key)
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
    that belongs to another project is refused rather than mixed in. Page URLs after the
    first come from the events themselves (each page load's Meta), see `ingest.commit`."""
    viewport = page.get("viewport") if page else None
    scrubber = Scrubber(project.scrub_patterns or []) if project.scrub else None
    first_url = page["url"] if page and page["url"] else ""
    if scrubber is not None and first_url:
        first_url = scrubber.text(first_url)
    columns = (
        "project_id",
        "acked_seq",
        "cut_reason",
        "user_id",
        "viewport_width",
        "viewport_height",
    )
    row = Session.objects.filter(pk=session_id).values_list(*columns).first()
    created = False
    if row is None:
        if not may_create(project.key):
            raise ProtocolError(CloseCode.RATE_LIMITED, "too many new sessions for this key")
        try:
            with transaction.atomic():
                Session.objects.create(
                    pk=session_id,
                    project=project,
                    tab=tab,
                    user_id=user or "",
                    user_agent=user_agent[:1000],
                    viewport_width=viewport["width"] if viewport else None,
                    viewport_height=viewport["height"] if viewport else None,
                    urls=[first_url] if first_url else [],
                )
            created = True
            row = (project.pk, -1, "", user or "", None, None)
        except IntegrityError:  # another connection created it a moment ago
            row = Session.objects.filter(pk=session_id).values_list(*columns).get()
    project_id, acked, cut_reason, user_id, width, height = row
    if project_id != project.pk:
        raise ProtocolError(CloseCode.FORBIDDEN, "this session belongs to another project")
    if not created:
        # Only the columns a hello knows about, and only when they change; commits own
        # the rest of the row.
        changes: dict[str, object] = {}
        if user and user_id != user:
            changes["user_id"] = user
        if viewport and (width, height) != (viewport["width"], viewport["height"]):
            changes.update(viewport_width=viewport["width"], viewport_height=viewport["height"])
        if changes:
            Session.objects.filter(pk=session_id).update(**changes)
    config = project.recording_config()
    return Opened(session_id, project.pk, acked, created, cut_reason, config, scrubber)
