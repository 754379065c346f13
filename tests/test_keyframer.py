"""The keyframer at work while sessions record: keyframes appear as recording time
passes, and a page the mirror cannot follow is asked for a real snapshot."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from replay.models import Keyframe
from tests.support import batch, batches_of, load_recording, unpack
from tests.test_consumer import connect, open_session, wait_for_ack

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
