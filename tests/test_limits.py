"""Limits and takeover at the WebSocket: rate limits (4429), the session byte limit (a
recorded cut, 4413 with retry false), idle connections (4408), and a newer connection
taking a session over (4409) without losing what the older one buffered."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from ingest.limits import KeyedBuckets, TokenBucket
from replay.models import Gap, Session
from tests.support import batch, hello, load_recording, session_secret
from tests.test_consumer import (
    connect,
    expect_refusal,
    open_session,
    receive,
    stored_events,
    wait_for_ack,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_flush(settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(now=0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(now=0.5)  # one token back after half a second
    assert not bucket.take(now=0.5)
    assert bucket.take(now=10)
    assert bucket.take(now=10)
    assert bucket.take(now=10)
    assert not bucket.take(now=10)  # never more than the burst


def test_keyed_buckets_forget_the_least_recently_used_keys():
    buckets = KeyedBuckets(rate=0, burst=1, max_keys=2)
    assert buckets.take("a", now=0)
    assert not buckets.take("a", now=0)
    assert buckets.take("b", now=0)
    assert buckets.take("c", now=0)  # "a" is forgotten here
    assert buckets.take("a", now=0)


async def test_flooding_frames_get_4429(alices_shop, settings):
    settings.REPLAY_FRAMES_PER_SECOND = 1
    settings.REPLAY_FRAMES_BURST = 5
    comm = connect()
    await open_session(comm, alices_shop.key, "session-flood-01")
    for seq in range(10):
        await comm.send_to(bytes_data=batch(seq, [{"type": 3, "timestamp": seq, "data": {}}]))
    frames = [await receive(comm)]
    while frames[-1]["type"] == "ack":
        frames.append(await receive(comm))
    assert frames[-1]["code"] == 4429
    assert frames[-1]["retry"] is True
    closing = await comm.receive_output(timeout=3)
    assert closing["code"] == 4429


async def test_too_many_new_sessions_per_key_get_4429_but_existing_ones_continue(
    alices_shop, settings
):
    settings.REPLAY_NEW_SESSIONS_PER_MINUTE = 2
    for n in range(2):
        comm = connect()
        await open_session(comm, alices_shop.key, f"session-new-{n:05d}")
        await comm.disconnect()
    third = connect()
    await third.connect()
    await third.send_to(bytes_data=hello(alices_shop.key, "session-new-00002"))
    error, code = await expect_refusal(third)
    assert (error["code"], code) == (4429, 4429)
    again = connect()
    await open_session(again, alices_shop.key, "session-new-00000")  # not new
    await again.disconnect()


async def test_a_session_past_its_byte_limit_is_cut_and_says_so(alices_shop, settings):
    settings.REPLAY_MAX_SESSION_BYTES = 20_000
    events = load_recording("checkout")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-cut-0001")
    await comm.send_to(bytes_data=batch(0, events[:40]))
    await wait_for_ack(comm, 0)
    await comm.send_to(bytes_data=batch(1, events[40:140]))  # over the limit
    await comm.send_to(bytes_data=batch(2, events[140:]))
    acks = []
    message = await receive(comm)
    while message["type"] == "ack":
        acks.append(message["seq"])
        message = await receive(comm)
    # The client may let go of what is acknowledged: both batches, flushed together or
    # one at a time; or only batch 1, when a flush came between the two and cut the
    # session before batch 2 was read (refused, never acknowledged, with the connection).
    assert acks in ([2], [1, 2], [1])
    closing = await comm.receive_output(timeout=3)
    assert closing["type"] == "websocket.close"
    assert (message["code"], message["retry"], closing["code"]) == (4413, False, 4413)
    assert "limit" in message["reason"]

    session = await sync_to_async(Session.objects.get)(pk="session-cut-0001")
    assert "20000 bytes" in session.cut_reason
    gap = await sync_to_async(Gap.objects.get)(session_id="session-cut-0001")
    assert (gap.seq_start, gap.seq_end, gap.reason) == (1, acks[-1], "session-limit")
    assert await stored_events("session-cut-0001") == events[:40]

    later = connect()
    await later.connect()
    secret = await sync_to_async(session_secret)(alices_shop.key, "session-cut-0001")
    await later.send_to(bytes_data=hello(alices_shop.key, "session-cut-0001", secret=secret))
    error, _ = await expect_refusal(later)
    assert (error["code"], error["retry"]) == (4413, False)


async def test_an_idle_connection_is_closed_with_4408(alices_shop, settings):
    settings.REPLAY_IDLE_TIMEOUT = 0.3
    comm = connect()
    await open_session(comm, alices_shop.key, "session-idle-001")
    error, code = await expect_refusal(comm)
    assert (error["code"], error["retry"], code) == (4408, True, 4408)
    assert "idle" in error["reason"]


async def test_a_newer_connection_takes_the_session_over(alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 30  # the old connection still buffers batch 1
    events = load_recording("routes")
    old = connect()
    await open_session(old, alices_shop.key, "session-takeover")
    await old.send_to(bytes_data=batch(0, events[:10]))
    await old.send_to(bytes_data=batch(1, events[10:20]))

    settings.REPLAY_FLUSH_SECONDS = 0.05  # for the new connection
    new = connect()
    welcome = await open_session(new, alices_shop.key, "session-takeover")
    error, code = await expect_refusal(old)
    assert (error["code"], error["retry"], code) == (4409, False, 4409)
    await old.disconnect()  # the old connection stores its buffer on the way out

    # The client resends everything above what the new welcome reported.
    parts = [events[:10], events[10:20], events[20:30]]
    for seq in range(welcome["acked"] + 1, 3):
        await new.send_to(bytes_data=batch(seq, parts[seq]))
    await wait_for_ack(new, 2)
    await new.disconnect()
    assert await stored_events("session-takeover") == events[:30]
