from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from replay.analytics.dataset_api import stream
from replay.analytics.datasets import FORMATS, sessions
from replay.management.progress import progress
from replay.models import Project


class Command(BaseCommand):
    help = (
        "Write a project's sessions as a dataset for modelling, one row per session (README, "
        "Datasets), as CSV, JSON Lines or Parquet, streamed: memory stays flat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's id or name")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", required=True, help="the file to write")
        parser.add_argument("--since", help="sessions that began from this ISO 8601 time on")
        parser.add_argument("--until", help="and before this one (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["project"]
        lookup = {"pk": int(name)} if name.isdigit() else {"name": name}
        project = Project.objects.filter(**lookup).first()
        if project is None:
            raise CommandError(f"no project {name!r}")
        until = _when(options["until"], "--until") or datetime.now(UTC)
        since = _when(options["since"], "--since") or until - timedelta(days=30)
        since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        total = sessions(project, since_ms, until_ms).count()
        parts = stream(project, since_ms, until_ms, options["format"])
        written = 0
        with open(options["out"], "wb") as out:
            for part in progress(parts, total, "sessions"):
                out.write(part.encode() if isinstance(part, str) else part)
                written += 1
        self.stdout.write(f"{total} sessions written to {options['out']}")


def _when(raw: str | None, flag: str) -> datetime | None:
    if not raw:
        return None
    parsed = parse_datetime(raw)
    if parsed is None:
        raise CommandError(f"{flag}: an ISO 8601 time, e.g. 2026-11-01T00:00Z")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
