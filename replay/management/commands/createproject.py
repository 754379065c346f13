from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.models import Project, normalize_origin


class Command(BaseCommand):
    help = "Create a project; prints its public ingest key as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="an origin allowed to record, e.g. https://shop.example (repeatable)",
        )
        parser.add_argument(
            "--member", action="append", default=[], help="a username given access (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        origins = []
        for origin in options["origin"]:
            normalized = origin if "*" in origin else normalize_origin(origin)
            if normalized is None:
                raise CommandError(f"{origin!r} is not an origin like https://shop.example")
            origins.append(normalized)
        if Project.objects.filter(name=name).exists():
            raise CommandError(f"a project named {name!r} exists already")
        users = []
        for username in options["member"]:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            users.append(user)
        project = Project.objects.create(name=name, allowed_origins=origins)
        project.members.set(users)
        self.stdout.write(
            f"Created project {name!r} allowing {', '.join(origins) or 'no origin yet'}."
        )
        self.stdout.write(project.key)
