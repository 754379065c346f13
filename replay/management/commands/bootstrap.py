from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.models import Project, normalize_origin
from replay.views import DEMO_PROJECT


def _origins(url: str) -> list[str]:
    """The server's own origin, plus its localhost/127.0.0.1 twin, which browsers treat
    as a different origin."""
    origin = normalize_origin(url)
    if origin is None:
        raise CommandError(f"{url!r} is not a URL like http://127.0.0.1:8000")
    parts = urlsplit(origin)
    twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    found = [origin]
    if parts.hostname in twins:
        found.append(origin.replace(parts.hostname, twins[parts.hostname], 1))
    return found


class Command(BaseCommand):
    help = "First-run setup for `make run`: an admin login and the demo project (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="where the server listens"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].rstrip("/")
        password_file = Path(settings.BASE_DIR) / "var" / "admin-password"
        users = get_user_model().objects
        if not users.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser("admin", "", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        project, _created = Project.objects.get_or_create(name=DEMO_PROJECT)
        missing = [o for o in _origins(url) if o not in project.allowed_origins]
        if missing:
            project.allowed_origins = [*project.allowed_origins, *missing]
            project.save(update_fields=["allowed_origins"])
        login = (
            f"admin / {password_file.read_text().strip()}"
            if password_file.exists()
            else "your superuser (manage.py createsuperuser)"
        )
        self.stdout.write(
            "\n".join(
                [
                    f"Replay server starting at {url}",
                    f"  Demo shop (records itself): {url}/demo/",
                    f"  Sessions:                   {url}/sessions",
                    f"  Admin:                      {url}/admin/",
                    f"  Login:                      {login}",
                ]
            )
        )
