from __future__ import annotations

from django.apps import AppConfig


class ReplayConfig(AppConfig):
    name = "replay"
    verbose_name = "Session replay"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from replay import checks  # noqa: F401  (registers the system checks)
