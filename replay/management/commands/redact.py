from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.management.progress import progress
from replay.models import Project
from replay.redaction import RedactionError, Request, carry_out, sessions_in_range
from replay.storage import StorageError, get_storage


class Command(BaseCommand):
    help = (
        "Redact stored sessions of a project: mask what CSS selectors match and replace "
        "text patterns, in the events recorded between --since and --until; segments and "
        "keyframes are written again and each session is noted in the audit log. Running "
        "it again after an interruption finishes the job."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's id or name")
        parser.add_argument("--selector", action="append", default=[], help="repeatable")
        parser.add_argument("--pattern", action="append", default=[], help="a regular expression")
        parser.add_argument("--since", help="ISO 8601 time with a zone, e.g. 2026-11-01T00:00Z")
        parser.add_argument("--until", help="ISO 8601 time with a zone")
        parser.add_argument("--session", action="append", default=[], help="only these sessions")
        parser.add_argument("--dry-run", action="store_true", help="say how many sessions")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["project"]
        project = Project.objects.filter(
            **({"pk": int(name)} if name.isdigit() else {"name": name})
        ).first()
        if project is None:
            raise CommandError(f"no project {name!r}")
        try:
            request = Request.parse(
                {
                    "selectors": options["selector"],
                    "patterns": options["pattern"],
                    "start": options["since"],
                    "end": options["until"],
                    "sessions": options["session"],
                }
            )
            if options["dry_run"]:
                count = sessions_in_range(project, request).count()
                self.stdout.write(f"Would redact up to {count} sessions of {project.name}.")
                return
            done = carry_out(
                project,
                request,
                None,
                get_storage(),
                via="manage.py redact",
                limit=None,
                wrap=lambda items, total: progress(items, total, "sessions"),
            )
        except RedactionError as exc:
            raise CommandError(str(exc)) from exc
        except StorageError as exc:
            raise CommandError(f"storage is unavailable ({exc}); run redact again") from exc
        sessions = f"{done.sessions} session" + ("" if done.sessions == 1 else "s")
        self.stdout.write(
            f"Redacted {done.events} events in {sessions} "
            f"({done.segments} segments and {done.keyframes} keyframes written again)."
        )
