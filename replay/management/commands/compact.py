from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from replay.compaction import Compacted, compact
from replay.models import Segment
from replay.storage import StorageError, get_storage


class Command(BaseCommand):
    help = (
        "Compact what is waiting now: rewrite sessions' segments into blocks (see "
        "replay.compaction), the sessions named or all, each session's last block "
        "included. Each server process also compacts in the background; this is safe to "
        "run beside it, and twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--session", action="append", default=[], help="repeatable")
        parser.add_argument("--all", action="store_true", help="every session waiting")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["session"] and not options["all"]:
            raise CommandError("name sessions with --session, or give --all")
        named = options["session"] or None
        total = Compacted()
        try:
            while True:
                done = compact(get_storage(), named, everything=True)
                _add(total, done)
                waiting = Segment.objects.filter(compacted=False)
                if named is not None:
                    waiting = waiting.filter(session_id__in=named)
                if not done.sessions or not waiting.exists():
                    break
        except StorageError as exc:
            raise CommandError(f"storage is unavailable ({exc}); run compact again") from exc
        ratio = f" ({total.bytes_after / total.bytes_before:.2f}x)" if total.bytes_before else ""
        later = len(total.raced) + total.busy
        raced = f"; {later} busy or changed meanwhile, left for later" if later else ""
        if total.failed:
            raced += f"; {len(total.failed)} could not be read (see the log): {total.failed[:5]}"
        self.stdout.write(
            f"Compacted {total.sessions} sessions: {total.segments} segments into "
            f"{total.blocks} blocks, {total.bytes_before} bytes into {total.bytes_after}"
            f"{ratio}; {total.dropped} packs removed{raced}."
        )


def _add(total: Compacted, done: Compacted) -> None:
    total.sessions += done.sessions
    total.blocks += done.blocks
    total.segments += done.segments
    total.bytes_before += done.bytes_before
    total.bytes_after += done.bytes_after
    total.packs += done.packs
    total.dropped += done.dropped
    total.raced += done.raced
    total.busy = done.busy  # the last pass's: the others' were retried
    total.failed = done.failed
