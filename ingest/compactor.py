"""The compactor: a background task of each server process that compacts the sessions
waiting (`replay.compaction`) every `REPLAY_COMPACT_SECONDS`, and removes the packs
nothing points into any more (`replay.packs.drop_unreferenced`). The work runs in a
thread: zstd releases the interpreter lock while it compresses, which is most of it."""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from ingest.threads import run_blocking
from replay import metrics
from replay.compaction import compact
from replay.packs import drop_unreferenced
from replay.storage import Storage

log = logging.getLogger(__name__)


def compact_pass(storage: Storage) -> None:
    done = compact(storage)
    dropped = drop_unreferenced(storage)
    metrics.COMPACTED_SEGMENTS.inc(done.segments)
    metrics.PACKS_DROPPED.inc(done.dropped + dropped)
    if done.sessions or dropped:
        log.info(
            "compacted",
            extra={
                "sessions": done.sessions,
                "blocks": done.blocks,
                "segments": done.segments,
                "bytes_before": done.bytes_before,
                "bytes_after": done.bytes_after,
                "packs_dropped": done.dropped + dropped,
            },
        )


class Compactor:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def run(self) -> None:
        while True:
            await asyncio.sleep(settings.REPLAY_COMPACT_SECONDS)
            try:
                await run_blocking(compact_pass, self.storage)
            except Exception:  # compaction waits for the next pass; nothing is lost
                log.warning("compaction pass failed", exc_info=True)
