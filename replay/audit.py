"""The audit log: every view, shared link, export and delete of a session, written as it
happens and read by the project's admins (`/projects/ID/audit`)."""

from __future__ import annotations

from typing import Any

from replay.models import AuditEntry, Project

Action = AuditEntry.Action


def audit(user: Any, action: str, project: Project, session_id: str = "", **detail: Any) -> None:
    AuditEntry.objects.create(
        project=project,
        session_id=session_id,
        user=user if getattr(user, "is_authenticated", False) else None,
        username=user.get_username() if getattr(user, "is_authenticated", False) else "",
        action=action,
        detail=detail,
    )
