from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from replay.management.progress import progress
from replay.packs import drop_unreferenced
from replay.retention import delete_sessions, empty_sessions, expired_sessions, orphan_objects
from replay.storage import StorageError, get_storage


class Command(BaseCommand):
    help = (
        "Delete the sessions older than their project's retention (REPLAY_RETENTION_DAYS "
        "or the project's own), with everything stored for them; sessions that stored "
        "nothing in the day after they started; stored objects no row points to; and "
        "packs (objects shared by sessions) that nothing points into any more. "
        "Safe to run from cron, and to run again after an interruption."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would go")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        storage = get_storage()
        expired = list(expired_sessions(now))
        expired += [s for s in empty_sessions(now) if s.pk not in {e.pk for e in expired}]
        try:
            if options["dry_run"]:
                orphans = list(orphan_objects(storage, now))
                self.stdout.write(
                    f"Would delete {len(expired)} sessions and {len(orphans)} orphan objects."
                )
                return
            gone = progress(delete_sessions(expired, storage), len(expired), "sessions")
            deleted = sum(1 for _ in gone)
            orphans = list(orphan_objects(storage, now))
            for key in progress(orphans, len(orphans), "orphan objects"):
                storage.delete(key)
            packs = drop_unreferenced(storage)
        except StorageError as exc:
            raise CommandError(f"storage is unavailable ({exc}); run purge again later") from exc
        self.stdout.write(
            f"Deleted {deleted} sessions, {len(orphans)} orphan objects and {packs} packs "
            "nothing pointed into."
        )
