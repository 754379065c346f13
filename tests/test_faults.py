"""Nothing acknowledged is lost, and nothing is stored twice, whatever fails: the server
killed with SIGKILL and restarted, a client moving to another server process, storage
unreachable for a while. A protocol-level client that resends like the recorder drives
real Daphne processes; the export is compared with what was sent.

These run on the embedded configuration and, marked `scaleout`, again on PostgreSQL and
Redis (`make test` does both)."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import random
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.relay import TcpProxy
from tests.support import (
    ResendingClient,
    batch,
    batches_of,
    flood,
    hello,
    load_recording,
    session_secret,
    unpack,
)
from tests.test_daphne import ORIGIN, exported

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]


@pytest.mark.parametrize("trial", range(4))
def test_kill_9_mid_session_loses_and_doubles_nothing(start_daphne, alice, alices_shop, trial):
    rng = random.Random(trial)
    server = start_daphne()
    events = load_recording("spa")
    parts = batches_of(events, 8)
    kill_at = sorted(rng.sample(range(2, len(parts) - 2), 2))
    client = ResendingClient(server.ws_url, alices_shop.key)
    for seq, part in enumerate(parts):
        client.send(part)
        if seq in kill_at:
            # Some batches acknowledged, some buffered in the server, some in flight.
            time.sleep(rng.uniform(0, 0.5))
            server.kill()
            server.start()
    client.wait_until_acked()
    client.close()
    assert exported(server, alice, client.session) == events


def test_a_client_moving_to_another_process_loses_nothing(start_daphne, alice, alices_shop):
    first, second = start_daphne(), start_daphne()
    events = load_recording("checkout")
    parts = batches_of(events, 10)
    client = ResendingClient(first.ws_url, alices_shop.key)
    for part in parts[: len(parts) // 2]:
        client.send(part)
    first.kill()  # the load balancer sends the reconnect elsewhere
    client.url = second.ws_url
    for part in parts[len(parts) // 2 :]:
        client.send(part)
    client.wait_until_acked()
    assert exported(second, alice, client.session) == events


@pytest.mark.s3
def test_storage_outage_is_4503_then_everything_is_stored(
    start_daphne, settings, s3_endpoint, s3_bucket, alice, alices_shop
):
    from replay.storage import get_storage

    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.start()
    settings.REPLAY_STORAGE_URL = f"s3://{s3_bucket}/segments"
    settings.REPLAY_S3_ENDPOINT_URL = proxy.url
    get_storage.cache_clear()
    server = start_daphne()
    events = load_recording("routes")
    parts = batches_of(events, 5)
    client = ResendingClient(server.ws_url, alices_shop.key)
    for part in parts[:4]:
        client.send(part)
    client.wait_until_acked()

    proxy.stop()
    for part in parts[4:]:
        client.send(part)
    with pytest.raises(TimeoutError):
        client.wait_until_acked(timeout=4)
    assert client.acked == 3  # nothing was acknowledged while storage was down
    assert 4503 in client.closes

    proxy.start()
    client.wait_until_acked(timeout=60)
    client.close()
    assert exported(server, alice, client.session) == events
    proxy.stop()


@pytest.mark.redis
def test_a_newer_connection_on_another_process_takes_the_session_over(
    start_daphne, alice, alices_shop
):
    """Two processes share PostgreSQL, storage and Redis: the session's newer connection
    wins, the older one is closed with 4409 and stores what it buffered on the way out,
    and the client's resends fill in the rest, once."""
    holding = start_daphne(REPLAY_FLUSH_SECONDS="30")  # keeps batches in memory
    other = start_daphne()
    events = load_recording("checkout")
    parts = batches_of(events, 30)
    secret = session_secret(alices_shop.key, "session-handover")
    with connect(holding.ws_url, origin=Origin(ORIGIN)) as old:
        old.send(hello(alices_shop.key, "session-handover", secret=secret))
        assert unpack(old.recv(timeout=10))["type"] == "welcome"
        old.send(batch(0, parts[0]))
        old.send(batch(1, parts[1]))
        time.sleep(0.3)  # both are buffered in the first process, none acknowledged

        # A duplicate of the tab: the same session, with the same secret.
        client = ResendingClient(other.ws_url, alices_shop.key, "session-handover", secret)
        for part in parts:
            client.send(part)
        client.wait_until_acked()
        error = unpack(old.recv(timeout=10))
        assert (error["code"], error["retry"]) == (4409, False)
        with pytest.raises(ConnectionClosed) as closed:
            old.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4409
    client.close()
    assert exported(other, alice, "session-handover") == events


def test_a_flooding_client_does_not_slow_the_others(start_daphne, alice, alices_shop):
    """One client floods frames and new sessions as fast as it can; the well-behaved
    recorders beside it keep their pace."""
    server = start_daphne(
        REPLAY_FLUSH_SECONDS="0.5",
        REPLAY_FRAMES_PER_SECOND="20",
        REPLAY_NEW_SESSIONS_PER_MINUTE="30",
    )
    # The flood comes from another process, as it would, so it competes with the server
    # and not with this test's own measuring.
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    refusals = spawn.Queue()
    events = load_recording("checkout")
    parts = batches_of(events, 10)
    latencies: list[float] = []
    with contextlib.ExitStack() as stack:
        calm = []
        sessions = []
        for _ in range(3):  # recording before the flood starts
            ws = stack.enter_context(connect(server.ws_url, origin=Origin(ORIGIN)))
            ws.send(hello(alices_shop.key))
            welcome = unpack(ws.recv(timeout=10))
            assert welcome["type"] == "welcome"
            calm.append(ws)
            sessions.append(welcome["session"])
        flooder = spawn.Process(target=flood, args=(server.ws_url, alices_shop.key, stop, refusals))
        flooder.start()
        try:
            time.sleep(0.5)
            for seq, part in enumerate(parts):
                sent = time.monotonic()
                for ws in calm:
                    ws.send(batch(seq, part))
                for ws in calm:
                    while (reply := unpack(ws.recv(timeout=10)))["seq"] < seq:
                        pass
                    assert reply["type"] == "ack"
                latencies.append(time.monotonic() - sent)
                time.sleep(0.05)
        finally:
            stop.set()
            flooder.join(timeout=30)
    codes = set()
    with contextlib.suppress(queue.Empty):
        while True:
            codes.add(refusals.get(timeout=1))
    assert 4429 in codes  # the flood was refused...
    # ...and the others kept their pace: nine acks in ten within flush + 1 s, as without
    # a flood, and none later than flush + 2 s (the event loop still has to read and
    # drop what a flooder already sent).
    ordered = sorted(latencies)
    assert ordered[int(len(ordered) * 0.9)] < 0.5 + 1.0
    assert ordered[-1] < 0.5 + 2.0
    for session in sessions:
        assert exported(server, alice, session) == events
