"""What a project defines to ask questions of its recordings (`replay.analytics`):
actions, named event definitions that apply to every record already stored, and saved
funnels."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from replay.models.projects import Project


class Named(models.Model):
    """A definition a project's member saved under a name, unique in the project."""

    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Action(Named):
    """A name and matchers (`replay.analytics.matchers`, any may match)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="actions")
    matchers = models.JSONField()

    class Meta(Named.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="action_name_per_project")
        ]


class SavedFunnel(Named):
    """A funnel's definition saved under a name (`replay.analytics.funnel_query`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="funnels")
    definition = models.JSONField()

    class Meta(Named.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="funnel_name_per_project")
        ]


class ErrorGroup(models.Model):
    """What a project's team decided about a group of errors (`replay.fingerprints`):
    resolved at a moment, after which the error happening again shows it regressed. The
    groups themselves are computed from the error records; only decisions are kept."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="error_groups")
    fingerprint = models.CharField(max_length=32)
    resolved_at = models.BigIntegerField(null=True, blank=True, help_text="epoch milliseconds")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"], name="error_group_per_project"
            )
        ]

    def __str__(self) -> str:
        return self.fingerprint
