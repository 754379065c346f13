from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.models import ApiToken, Project


class Command(BaseCommand):
    help = "Create an API token for a user (created if needed); prints the token as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            help="give the user a role in this project (repeatable)",
        )
        parser.add_argument(
            "--role",
            choices=["viewer", "admin"],
            default="viewer",
            help="the role in those projects: viewer (sees sessions) or admin (also deletes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        projects = []
        for name in options["project"]:
            project = Project.objects.filter(name=name).first()
            if project is None:
                raise CommandError(f"no project {name!r}")
            projects.append(project)
        users = get_user_model().objects
        user = users.filter(username=options["username"]).first()
        if user is None:
            user = users.create_user(username=options["username"])
            self.stdout.write(f"Created user {user.get_username()!r} (no password: API only).")
        for project in projects:
            (project.admins if options["role"] == "admin" else project.members).add(user)
        _, token = ApiToken.issue(user)
        self.stdout.write("Send it as: Authorization: Bearer <token>. It is shown only now.")
        self.stdout.write(token)
