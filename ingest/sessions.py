"""Who may record, and opening a session: the checks shared by the WebSocket consumer
and the HTTP batch endpoint (blocking ORM code, run in worker threads)."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction

from ingest.limits import KeyedBuckets
from ingest.protocol import CloseCode, Page, ProtocolError
from replay.models import Project, Session, token_digest
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
    secret: str = ""  # a new session's secret, for its recorder (stored only as a digest)


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


def _continues(row: tuple[Any, ...], project: Project, secret: str | None) -> bool:
    """Whether a hello (or HTTP batch) carrying `secret` may continue the session in
    `row`: it must be the project's, and the caller must hold its secret. A session
    started by a recorder older than secrets has none, and is continued by callers that
    send none."""
    project_id, digest = row[0], row[-1]
    if project_id != project.pk:
        return False
    if not digest:
        return secret is None
    return secret is not None and hmac.compare_digest(token_digest(secret), digest)


def open_session(
    project: Project,
    session_id: str,
    *,
    secret: str | None,
    tab: str,
    page: Page | None,
    user: str | None,
    user_agent: str,
    new_id: str | None = None,
) -> Opened:
    """Continue `session_id` (a new page load, a reconnect) when `secret` proves the
    caller is its recording tab (`_continues`), or start a new session.

    A new session's id is chosen here, whatever `session_id` says (`new_id` only for
    imports and tests), and it comes with a new secret that only this answer carries;
    the database keeps its digest. So a caller that cannot continue a session learns
    nothing about it: not how far it got, not whether it exists, in this project or
    another. Page URLs after the first come from the events themselves (each page
    load's Meta), see `ingest.commit`."""
    viewport = page.get("viewport") if page else None
    columns = (
        "project_id",
        "acked_seq",
        "cut_reason",
        "user_id",
        "viewport_width",
        "viewport_height",
        "secret_digest",
    )
    row = Session.objects.filter(pk=session_id).values_list(*columns).first()
    if row is None or not _continues(row, project, secret):
        return _start(project, tab=tab, page=page, user=user, user_agent=user_agent, new_id=new_id)
    _, acked, cut_reason, user_id, width, height, _ = row
    # Only the columns a hello knows about, and only when they change; commits own the
    # rest of the row.
    changes: dict[str, object] = {}
    if user and user_id != user:
        changes["user_id"] = user
    if viewport and (width, height) != (viewport["width"], viewport["height"]):
        changes.update(viewport_width=viewport["width"], viewport_height=viewport["height"])
    if changes:
        Session.objects.filter(pk=session_id).update(**changes)
    return Opened(
        session_id,
        project.pk,
        acked,
        created=False,
        cut_reason=cut_reason,
        config=project.recording_config(),
        scrubber=_scrubber(project),
    )


def _scrubber(project: Project) -> Scrubber | None:
    return Scrubber(project.scrub_patterns or []) if project.scrub else None


def _start(
    project: Project,
    *,
    tab: str,
    page: Page | None,
    user: str | None,
    user_agent: str,
    new_id: str | None,
) -> Opened:
    if not may_create(project.key):
        raise ProtocolError(CloseCode.RATE_LIMITED, "too many new sessions for this key")
    viewport = page.get("viewport") if page else None
    scrubber = _scrubber(project)
    first_url = page["url"] if page and page["url"] else ""
    if scrubber is not None and first_url:
        first_url = scrubber.text(first_url)
    session_id = new_id or secrets.token_hex(16)
    secret = secrets.token_urlsafe(24)
    with transaction.atomic():
        Session.objects.create(
            pk=session_id,
            project=project,
            tab=tab,
            secret_digest=token_digest(secret),
            user_id=user or "",
            user_agent=user_agent[:1000],
            viewport_width=viewport["width"] if viewport else None,
            viewport_height=viewport["height"] if viewport else None,
            urls=[first_url] if first_url else [],
        )
    return Opened(
        session_id,
        project.pk,
        -1,
        created=True,
        cut_reason="",
        config=project.recording_config(),
        scrubber=scrubber,
        secret=secret,
    )
