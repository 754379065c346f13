from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.management.progress import progress
from replay.models import Project
from replay.retention import delete_sessions, user_sessions
from replay.storage import StorageError, get_storage


class Command(BaseCommand):
    help = (
        "Delete every session recorded for one of your site's users (the id given to "
        "replay.identify), with everything stored for them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")
        parser.add_argument(
            "--project", action="append", default=[], help="only in this project (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        projects = None
        if options["project"]:
            projects = list(Project.objects.filter(name__in=options["project"]))
            if len(projects) != len(set(options["project"])):
                raise CommandError(f"no such project among {options['project']}")
        sessions = list(user_sessions(options["user_id"], projects))
        try:
            gone = progress(delete_sessions(sessions, get_storage()), len(sessions), "sessions")
            deleted = sum(1 for _ in gone)
        except StorageError as exc:
            raise CommandError(f"storage is unavailable ({exc}); run forget again") from exc
        self.stdout.write(f"Deleted {deleted} sessions of user {options['user_id']!r}.")
