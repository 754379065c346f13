"""What a project defines to ask questions of its recordings: actions, named event
definitions that apply to every record already stored (`replay.analytics`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from replay.models.projects import Project


class Action(models.Model):
    """A name and matchers (`replay.analytics.matchers`, any may match)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="actions")
    name = models.CharField(max_length=200)
    matchers = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="action_name_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class SavedFunnel(models.Model):
    """A funnel's definition saved under a name (`replay.analytics.funnel_query`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="funnels")
    name = models.CharField(max_length=200)
    definition = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="funnel_name_per_project")
        ]

    def __str__(self) -> str:
        return self.name
