"""Django admin for projects, sessions and their stored segments."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from replay.access import visible_projects
from replay.audit import Action, audit
from replay.models import ApiToken, Gap, Project, Segment, Session
from replay.segments import delete_session
from replay.storage import get_storage


class ByProject:
    """Staff who are not superusers see, in the admin too, only what belongs to the
    projects they are a viewer or admin of."""

    project_path = "project"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.project_path}__in": visible_projects(request.user)})


@admin.register(Project)
class ProjectAdmin(ByProject, admin.ModelAdmin[Project]):
    project_path = "pk"

    list_display = ["name", "key", "enabled", "allowed_origins", "retention_days", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "created_at"]
    filter_horizontal = ["members", "admins"]
    fieldsets = [
        (None, {"fields": ["name", "key", "enabled", "allowed_origins", "created_at"]}),
        ("People", {"fields": ["members", "admins", "viewers_share_publicly"]}),
        (
            "Recording (sent to every recorder; pages pick changes up within a minute)",
            {
                "fields": [
                    "mask_all_inputs",
                    "mask_all_text",
                    "block_selector",
                    "mask_selector",
                    "ignore_selector",
                    "excluded_urls",
                    "require_consent",
                    "sample_rate",
                    "respect_dnt",
                    "capture_console",
                    "capture_network",
                    "capture_network_bodies",
                    "network_headers",
                    "slow_request_ms",
                ]
            },
        ),
        ("Storage", {"fields": ["scrub", "scrub_patterns", "retention_days"]}),
    ]


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SegmentInline(ReadOnlyInline):
    model = Segment
    fields = [
        "seq_start",
        "seq_end",
        "first_ts",
        "last_ts",
        "event_count",
        "size",
        "keyframe",
        "compacted",
        "key",
        "offset",
    ]


class GapInline(ReadOnlyInline):
    model = Gap
    fields = ["seq_start", "seq_end", "reason", "detail"]


@admin.register(Session)
class SessionAdmin(ByProject, admin.ModelAdmin[Session]):
    list_display = [
        "id",
        "project",
        "user_id",
        "created_at",
        "event_count",
        "stored_bytes",
        "ended",
    ]
    list_filter = ["project", "ended"]
    search_fields = ["id", "user_id"]
    date_hierarchy = "created_at"
    inlines = [SegmentInline, GapInline]
    exclude = ["secret_digest"]
    readonly_fields = [f.name for f in Session._meta.fields if f.name != "secret_digest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Deleting here removes the stored segments too, not only the rows.
    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        audit(request.user, Action.DELETE, obj.project, obj.id, via="admin")
        delete_session(obj, get_storage())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        for session in queryset.select_related("project"):
            audit(request.user, Action.DELETE, session.project, session.id, via="admin")
            delete_session(session, get_storage())


@admin.register(Segment)
class SegmentAdmin(ByProject, admin.ModelAdmin[Segment]):
    project_path = "session__project"

    list_display = [
        "session",
        "seq_start",
        "seq_end",
        "event_count",
        "size",
        "keyframe",
        "compacted",
        "key",
        "offset",
    ]
    search_fields = ["session__id", "key"]
    readonly_fields = [f.name for f in Segment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "user", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]
