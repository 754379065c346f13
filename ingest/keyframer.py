"""The keyframer: a background task of each server process that writes keyframes for
the sessions it is recording (see `replay.keyframes`), whenever one has recorded
`REPLAY_KEYFRAME_SECONDS` past its last keyframe (the sessions due in one pass together,
their keyframes in one pack), and computes their
event-tracking records once they go quiet (see `replay.records`). The work is done in a
child process (`keyframe_worker`), so that it never competes with ingest for the
interpreter lock; `REPLAY_KEYFRAME_WORKER=thread` does it in a thread instead (tests that
drive the application in-process use that). Where the mirror cannot write an exact
keyframe (canvas drawing), the keyframer asks the recorder for a real full snapshot with
a `snapshot` frame instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from ingest.threads import run_blocking
from replay.keyframes import Advanced, advance_keyframes, index
from replay.metrics import KEYFRAMES, MIRROR_SKIPPED, SNAPSHOT_REQUESTS, STORAGE_WRITES
from replay.models import Pack, Session
from replay.packs import PackWriter, erase, parts_of
from replay.records import track_session, tracking_due
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # at most; shorter for short intervals
RETRY_SECONDS, RETRY_MAX_SECONDS = 10.0, 3600.0  # after a session's keyframes failed
WORKER_TIMEOUT_SECONDS = 300.0  # one session's keyframes, at most; then the worker is replaced
# How long a process holds a session it works on, at most (a worker that hung is
# replaced after WORKER_TIMEOUT_SECONDS; its claim lapses a little later).
LEASE = timedelta(seconds=WORKER_TIMEOUT_SECONDS + 60)


# Sessions that stopped recording a moment ago still get keyframes for their last part.
RECENT = timedelta(minutes=10)


def due(session_ids: Iterable[str], interval_ms: int) -> list[str]:
    """Sessions that recorded `interval_ms` past their last keyframe, or whose
    event-tracking records are due (`replay.records.tracking_due`): among those given
    (the ones this process records) and those stored to in the last minutes."""
    since = Coalesce(F("keyframe_ms"), F("first_event_ms"))
    recent = Session.objects.filter(
        Q(pk__in=list(session_ids)) | Q(updated_at__gte=timezone.now() - RECENT)
    )
    keyframes = recent.filter(last_event_ms__gte=since + interval_ms).order_by("keyframe_ms")
    ids = list(keyframes.values_list("pk", flat=True)[:100])
    tracking = tracking_due(recent).order_by("tracked_at").values_list("pk", flat=True)[:100]
    return ids + [pk for pk in tracking if pk not in ids]


Outcome = Advanced | None | Exception


def advance_many(session_ids: list[str], storage: Storage, interval_ms: int) -> dict[str, Outcome]:
    """For each session: keyframes, then event-tracking records if they are due. The
    keyframes of all of them go in one pack, one storage request (`replay.packs`). Each
    gets its `Advanced`, None when it is gone or another process is computing it now,
    or the exception that stopped it (one session's trouble stops no other; a pack that
    cannot be written stops them all). Every process's keyframer looks at every session
    stored to lately, so a session is claimed for the work (a lease on its row, which a
    process that died lets lapse) and done by one at a time."""
    token = secrets.token_hex(8)
    now = timezone.now()
    free = Q(derived_until__isnull=True) | Q(derived_until__lt=now)
    pack = PackWriter(Pack.Kind.KEYFRAMES)
    outcomes: dict[str, Outcome] = {}
    done: list[tuple[Session, Advanced]] = []
    claimed: list[str] = []
    try:
        for session_id in session_ids:
            outcomes[session_id] = None
            if not Session.objects.filter(free, pk=session_id).update(
                derived_until=now + LEASE, derived_by=token
            ):
                continue
            claimed.append(session_id)
            session = Session.objects.filter(pk=session_id).select_related("project").first()
            if session is None:
                continue
            mark = pack.mark()
            try:
                advanced = advance_keyframes(session, storage, interval_ms, pack=pack)
            except Exception as exc:
                pack.undo(mark)
                outcomes[session_id] = exc
                continue
            outcomes[session_id] = advanced
            done.append((session, advanced))
        try:
            pack.write(storage)
        except StorageError as exc:
            for session, _ in done:
                outcomes[session.pk] = exc
            done = []
        for session, advanced in done:
            try:
                index(session, advanced, storage)
            except Exception as exc:  # deleted meanwhile, say: nothing may keep its parts
                outcomes[session.pk] = exc
                with contextlib.suppress(StorageError):  # else they go when the pack goes
                    erase(parts_of(advanced.pending), storage)
                continue
            try:
                if tracking_due(Session.objects.filter(pk=session.pk)).exists():
                    track_session(session, storage)
            except Exception as exc:
                outcomes[session.pk] = exc
    finally:
        Session.objects.filter(pk__in=claimed, derived_by=token).update(derived_until=None)
    return outcomes


def advance(session_id: str, storage: Storage, interval_ms: int) -> Advanced | None:
    """`advance_many` for one session; raises what stopped it."""
    outcome = advance_many([session_id], storage, interval_ms)[session_id]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def outcome_reply(outcome: Outcome) -> dict[str, Any]:
    """An outcome as the worker process answers it (JSON)."""
    if outcome is None:
        return {"missing": True}
    if isinstance(outcome, StorageError):
        return {"error": "storage", "detail": str(outcome)}
    if isinstance(outcome, Exception):
        return {"error": type(outcome).__name__, "detail": str(outcome)}
    return {"written": outcome.written, "inexact": outcome.inexact, "skipped": outcome.skipped}


def outcome_from(reply: dict[str, Any]) -> Outcome:
    """`outcome_reply`'s inverse, in the server process."""
    if reply.get("error") == "storage":
        return StorageError(reply.get("detail", ""))
    if "error" in reply:
        return RuntimeError(f"keyframe worker: {reply['error']}: {reply.get('detail', '')}")
    if reply.get("missing"):
        return None
    return Advanced(reply["written"], reply["inexact"], Counter(reply["skipped"]))


class WorkerGone(Exception):
    """The worker process died or hung; a new one starts on the next request."""


class WorkerProcess:
    """The child process that runs `advance` (see `keyframe_worker`), started on first
    use and again after it dies. One request at a time."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def advance(self, session_id: str, interval_ms: int) -> Advanced | None:
        """`advance_many` for one session; raises what stopped it."""
        outcome = (await self.advance_many([session_id], interval_ms))[session_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def advance_many(self, session_ids: list[str], interval_ms: int) -> dict[str, Outcome]:
        async with self.lock:
            process = self.process
            if process is None or process.returncode is not None:
                await self.stop()
                process = self.process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "ingest.keyframe_worker",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            assert process.stdin is not None
            assert process.stdout is not None
            request = {"sessions": session_ids, "interval_ms": interval_ms}
            try:
                process.stdin.write(json.dumps(request).encode() + b"\n")
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), WORKER_TIMEOUT_SECONDS)
            except (OSError, TimeoutError):
                line = b""
            if not line:
                await self.stop()
                raise WorkerGone(f"keyframe worker gone while on sessions {session_ids}")
        reply = json.loads(line)
        for kind, count in reply.get("storage_writes", {}).items():
            STORAGE_WRITES.labels(kind).inc(count)
        if "error" in reply:
            failure = outcome_from(reply)
            assert isinstance(failure, Exception)
            raise failure
        return {sid: outcome_from(found) for sid, found in reply["results"].items()}

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.kill()
        if process.stdin is not None:
            process.stdin.close()
        await process.wait()


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
        self.worker = WorkerProcess()
        # Sessions whose keyframes failed: (failures in a row, when to try again).
        self.failures: dict[str, tuple[int, float]] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(POLL_SECONDS, self.interval_ms / 4000))
            try:
                await self.pass_once()
            except Exception:  # keyframes are derived data: log, and try again later
                log.warning("keyframe pass failed", exc_info=True)

    async def advance_many(self, session_ids: list[str]) -> dict[str, Outcome]:
        if settings.REPLAY_KEYFRAME_WORKER == "thread":
            return await run_blocking(advance_many, session_ids, self.storage, self.interval_ms)
        return await self.worker.advance_many(session_ids, self.interval_ms)

    async def pass_once(self) -> None:
        """Advance every session due (but those waiting to retry) in one request, so
        that their keyframes share one pack."""
        now = time.monotonic()
        ids = [
            session_id
            for session_id in await run_blocking(due, list(self.recording()), self.interval_ms)
            if session_id not in self.failures or now >= self.failures[session_id][1]
        ]
        if not ids:
            return
        try:
            outcomes = await self.advance_many(ids)
        except Exception as exc:  # the worker died: every session of the pass waits
            outcomes = dict.fromkeys(ids, exc)
        for session_id in ids:
            await self._settle(session_id, outcomes.get(session_id))

    async def _settle(self, session_id: str, result: Outcome) -> None:
        if isinstance(result, Exception):  # this session's keyframes wait; the others go on
            failed = self.failures.get(session_id)
            count = failed[0] + 1 if failed is not None else 1
            delay = min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2 ** (count - 1))
            self.failures[session_id] = (count, time.monotonic() + delay)
            context = {"session": session_id, "retry_seconds": delay}
            log.warning("could not write keyframes", extra=context, exc_info=result)
            return
        self.failures.pop(session_id, None)
        if result is None:
            return
        KEYFRAMES.inc(result.written)
        for reason, count in result.skipped.items():
            MIRROR_SKIPPED.labels(reason).inc(count)
        if result.skipped:
            skipped = {"session": session_id, "skipped": dict(result.skipped)}
            log.info("events the mirror could not apply", extra=skipped)
        if result.inexact:
            SNAPSHOT_REQUESTS.inc()
            await self.request_snapshot(session_id)
