"""The keyframer: a background task of each server process that writes keyframes for
the sessions it is recording (see `replay.keyframes`), one session at a time in a worker
thread, whenever one has recorded `REPLAY_KEYFRAME_SECONDS` past its last keyframe.
Where the mirror cannot write an exact keyframe (canvas drawing), it asks the recorder
for a real full snapshot with a `snapshot` frame instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from ingest.threads import run_blocking
from replay.keyframes import Advanced, advance_keyframes
from replay.metrics import KEYFRAMES, MIRROR_SKIPPED, SNAPSHOT_REQUESTS
from replay.models import Session
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # at most; shorter for short intervals


# Sessions that stopped recording a moment ago still get keyframes for their last part.
RECENT = timedelta(minutes=10)


def due(session_ids: Iterable[str], interval_ms: int) -> list[str]:
    """Sessions that recorded `interval_ms` past their last keyframe: those given (the
    ones this process records) and those stored to in the last minutes."""
    since = Coalesce(F("keyframe_ms"), F("first_event_ms"))
    recent = Q(pk__in=list(session_ids)) | Q(updated_at__gte=timezone.now() - RECENT)
    return list(
        Session.objects.filter(recent, last_event_ms__gte=since + interval_ms)
        .order_by("keyframe_ms")
        .values_list("pk", flat=True)[:100]
    )


def advance(session_id: str, storage: Storage, interval_ms: int) -> Advanced | None:
    session = Session.objects.filter(pk=session_id).first()
    return None if session is None else advance_keyframes(session, storage, interval_ms)


class Keyframer:
    def __init__(
        self,
        storage: Storage,
        interval_seconds: float,
        recording: Callable[[], Iterable[str]],
        request_snapshot: Callable[[str], Awaitable[None]],
    ) -> None:
        self.storage = storage
        self.interval_ms = round(interval_seconds * 1000)
        self.recording = recording
        self.request_snapshot = request_snapshot

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(POLL_SECONDS, self.interval_ms / 4000))
            try:
                await self.pass_once()
            except Exception:  # keyframes are derived data: log, and try again later
                log.warning("keyframe pass failed", exc_info=True)

    async def pass_once(self) -> None:
        for session_id in await run_blocking(due, list(self.recording()), self.interval_ms):
            try:
                result = await run_blocking(advance, session_id, self.storage, self.interval_ms)
            except StorageError:
                context = {"session": session_id}
                log.warning("could not write keyframes", extra=context, exc_info=True)
                continue
            if result is None:
                continue
            KEYFRAMES.inc(result.written)
            for reason, count in result.skipped.items():
                MIRROR_SKIPPED.labels(reason).inc(count)
            if result.skipped:
                skipped = {"session": session_id, "skipped": dict(result.skipped)}
                log.info("events the mirror could not apply", extra=skipped)
            if result.inexact:
                SNAPSHOT_REQUESTS.inc()
                await self.request_snapshot(session_id)
