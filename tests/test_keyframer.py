"""The keyframer at work while sessions record: keyframes appear as recording time
passes, and a page the mirror cannot follow is asked for a real snapshot."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from ingest.keyframer import WorkerProcess
from replay.models import Keyframe
from tests.conftest import test_database_url as server_database_url
from tests.support import batch, batches_of, load_recording, unpack
from tests.test_consumer import connect, open_session, wait_for_ack
from tests.test_keyframes import record_at_pace

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_server_writes_keyframes_while_recording(alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    settings.REPLAY_KEYFRAME_SECONDS = 10
    events = load_recording("spa")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-live-key")
    parts = batches_of(events, 20)
    for seq, part in enumerate(parts):  # a segment per batch, as at real pace
        await comm.send_to(bytes_data=batch(seq, part))
        await wait_for_ack(comm, seq)
    count = sync_to_async(Keyframe.objects.filter(session_id="session-live-key").count)
    for _ in range(40):
        if await count() >= 3:
            break
        await asyncio.sleep(0.25)
    assert await count() >= 3  # a 59 s recording, one every 10 s
    await comm.disconnect()


async def test_a_page_the_mirror_cannot_follow_is_asked_for_a_snapshot(alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    settings.REPLAY_KEYFRAME_SECONDS = 1
    events = load_recording("checkout")[:40]
    start = events[-1]["timestamp"]
    drawing = [
        {
            "type": 3,
            "timestamp": start + 500 * i,
            "data": {"source": 9, "id": 5, "type": 0, "commands": []},
        }
        for i in range(1, 6)
    ]
    comm = connect()
    await open_session(comm, alices_shop.key, "session-canvas-1")
    await comm.send_to(bytes_data=batch(0, events + drawing))
    await wait_for_ack(comm, 0)
    frame = unpack(await comm.receive_from(timeout=5))
    assert frame == {"type": "snapshot"}
    await comm.disconnect()


async def test_events_the_mirror_cannot_apply_are_counted_and_keyframes_go_on(
    alices_shop, settings
):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    settings.REPLAY_KEYFRAME_SECONDS = 1
    events = load_recording("checkout")
    stray = {
        "type": 3,
        "timestamp": events[20]["timestamp"],
        "data": {"source": 0, "removes": [{"parentId": 1, "id": 987654}], "adds": []},
    }
    events = [*events[:20], stray, *events[20:]]
    reason = {"reason": "remove of an unknown node"}

    def skipped() -> float:
        return REGISTRY.get_sample_value("replay_mirror_skipped_events_total", reason) or 0.0

    before = skipped()
    comm = connect()
    await open_session(comm, alices_shop.key, "session-stray-1")
    for seq, part in enumerate(batches_of(events, 20)):
        await comm.send_to(bytes_data=batch(seq, part))
        await wait_for_ack(comm, seq)
    count = sync_to_async(Keyframe.objects.filter(session_id="session-stray-1").count)
    for _ in range(40):
        if await count() >= 3 and skipped() > before:
            break
        await asyncio.sleep(0.25)
    assert skipped() == before + 1
    assert await count() >= 3  # the stray remove stops nothing
    await comm.disconnect()


def keyframes_written() -> float:
    return REGISTRY.get_sample_value("replay_storage_writes_total", {"kind": "kfp"}) or 0.0


async def test_the_worker_process_writes_keyframes_and_a_new_one_replaces_a_dead_one(
    alices_shop, settings, monkeypatch
):
    await sync_to_async(record_at_pace)(alices_shop, "session-worker-1", "spa")
    # The worker process is configured as the server's would be: by the environment.
    monkeypatch.setenv("REPLAY_DATABASE_URL", await sync_to_async(server_database_url)())
    monkeypatch.setenv("REPLAY_STORAGE_URL", settings.REPLAY_STORAGE_URL)
    keyframes = sync_to_async(Keyframe.objects.filter(session_id="session-worker-1").count)
    worker = WorkerProcess()
    written_before = keyframes_written()
    try:
        result = await worker.advance("session-worker-1", 10_000)
        assert result is not None
        assert result.written >= 4  # a 59 s recording, every 10 s
        assert result.inexact is None
        assert await keyframes() == result.written
        # The objects the worker wrote (one pack for them all) count in the server
        # process's metrics.
        assert keyframes_written() == written_before + 1
        first = worker.process
        assert first is not None
        first.kill()
        await first.wait()
        # The next request starts a new worker, which finds nothing more to write.
        again = await worker.advance("session-worker-1", 10_000)
        assert again is not None
        assert again.written == 0
        assert worker.process is not first
        assert await worker.advance("no-such-session", 10_000) is None
    finally:
        await worker.stop()
