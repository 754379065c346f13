"""Who sees what: the projects and sessions visible to a user, and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from replay.models import ApiToken, Project, Session, token_digest

User = AbstractBaseUser | AnonymousUser


def visible_projects(user: Any) -> QuerySet[Project]:
    """Superusers see every project; everyone else the projects they are a viewer or an
    admin of."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(Q(members=user) | Q(admins=user)).distinct()


def administered_projects(user: Any) -> QuerySet[Project]:
    """The projects whose sessions the user may delete and whose audit log they read."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(admins=user)


def administers(user: Any, project: Project) -> bool:
    return administered_projects(user).filter(pk=project.pk).exists()


def visible_sessions(user: Any) -> QuerySet[Session]:
    return Session.objects.filter(project__in=visible_projects(user))


def user_from_bearer(request: HttpRequest) -> Any | None:
    """The active user behind ``Authorization: Bearer <token>``, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = (
        ApiToken.objects.select_related("user").filter(digest=token_digest(token.strip())).first()
    )
    if found is None or not found.user.is_active:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user
