"""What is derived from a session's events and kept beside it: event-tracking records,
and the public links that share a window of it."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from replay.models.projects import Project
from replay.models.sessions import Session


class TrackingCheckpoint(models.Model):
    """Where the session's last tracking pass stopped (`replay.records.Checkpoint`,
    pickled and compressed): kept in the database, not in storage, because it is
    rewritten every few minutes while the session records, and a storage request for
    each would cost more than the bytes."""

    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    data = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"checkpoint of {self.session_id}"


class TrackedEvent(models.Model):
    """An event-tracking record (`replay.tracking`) or a friction moment
    (`replay.friction`) of a session, computed from its stored events."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="tracked")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tracked")
    tab = models.CharField(max_length=64, blank=True)
    ts = models.BigIntegerField(help_text="epoch milliseconds")
    kind = models.CharField(max_length=16)
    name = models.CharField(
        max_length=200, blank=True, help_text="the friction type, custom event name or error"
    )
    url = models.TextField(blank=True)
    selector = models.CharField(max_length=1000, blank=True)
    text = models.CharField(max_length=200, blank=True)
    detector = models.CharField(max_length=64, blank=True, help_text="name@version")
    fingerprint = models.CharField(
        max_length=16, blank=True, help_text="an error's group (replay.fingerprints)"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["session", "ts", "id"]
        indexes = [
            # A funnel's first steps are found from this index alone on PostgreSQL
            # (README, "Funnels"): page views by URL, custom events by name.
            models.Index(
                fields=["project", "kind", "ts"],
                include=["session", "url", "name"],
                name="records_kind_ts_covering",
            ),
            models.Index(fields=["project", "kind", "name"]),
            models.Index(fields=["session", "ts"]),
            # One error group's occurrences and sessions (README, "Error groups").
            models.Index(
                fields=["project", "fingerprint", "ts", "session"],
                condition=models.Q(kind="error"),
                name="records_error_groups",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.selector} at {self.ts}"


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A link that opens a time window of a session without logging in, until it
    expires or is revoked (`replay.sharing`)."""

    token = models.CharField(max_length=64, unique=True, default=new_share_token)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="shares")
    start_ms = models.BigIntegerField(help_text="the window's start, epoch milliseconds")
    end_ms = models.BigIntegerField(help_text="the window's end, epoch milliseconds")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share of {self.session_id}"
