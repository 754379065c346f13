from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from replay.management.progress import progress
from replay.models import Project, Session
from replay.records import track_session
from replay.storage import StorageError, get_storage


class Command(BaseCommand):
    help = (
        "Compute the event-tracking records and friction moments of stored sessions again "
        "(after a detector or a project's thresholds changed). Each session's records are "
        "replaced as a whole, so running it twice, or after an interruption, is safe."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", help="the project's id or name (default: all)")
        parser.add_argument("--since", help="sessions recorded from this ISO 8601 time on")

    def handle(self, *args: Any, **options: Any) -> None:
        sessions = Session.objects.exclude(first_event_ms=None).select_related("project")
        if options["project"]:
            name = options["project"]
            lookup = {"pk": int(name)} if name.isdigit() else {"name": name}
            project = Project.objects.filter(**lookup).first()
            if project is None:
                raise CommandError(f"no project {name!r}")
            sessions = sessions.filter(project=project)
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None or since.tzinfo is None:
                raise CommandError("--since: an ISO 8601 time with a zone, e.g. 2026-11-01T00:00Z")
            sessions = sessions.filter(last_event_ms__gte=round(since.timestamp() * 1000))
        chosen = list(sessions.order_by("first_event_ms"))
        storage = get_storage()
        records = friction = 0
        try:
            for session in progress(chosen, len(chosen), "sessions"):
                done = track_session(session, storage, whole=True)
                records += done.records
                friction += done.friction
        except StorageError as exc:
            raise CommandError(f"storage is unavailable ({exc}); run reprocess again") from exc
        self.stdout.write(
            f"Reprocessed {len(chosen)} sessions: {records} records, {friction} of them friction."
        )
