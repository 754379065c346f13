"""Batches of one session that reach the server by different paths at once: the beacons
a page hands to `sendBeacon` as it goes (each its own request, which the browser may send
over several connections, so they can arrive in any order), the batch its WebSocket sent
just before (still waiting in the server's group commit) and the next page's resends.
None of them is lost to a sequence hole that a later batch opened while it was on its
way, whichever path that batch took (ingest/arrival.py; README, "Nothing acknowledged is
lost")."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from replay.models import Gap
from tests.support import DaphneServer, batch, batches_of, load_recording, session_secret, unpack
from tests.test_daphne import exported, open_ws, post_batch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]

TAB = "tab-000000001"


def post(server: DaphneServer, key: str, session: str, seq: int, events: list[Any]) -> int:
    """A beacon's request: the batch endpoint's answer says what the server holds."""
    body = {
        "key": key,
        "session": session,
        "secret": session_secret(key, session),
        "tab": TAB,
        "seq": seq,
        "events": events,
    }
    acked: int = post_batch(server, body, "text/plain;charset=UTF-8")["acked"]
    return acked


def posted_later(
    server: DaphneServer, key: str, session: str, seq: int, events: list[Any]
) -> tuple[threading.Thread, list[int]]:
    """Posts in a thread (as a second connection of the browser would); join() it."""
    answers: list[int] = []
    thread = threading.Thread(
        target=lambda: answers.append(post(server, key, session, seq, events))
    )
    thread.start()
    return thread, answers


def test_beacons_that_arrive_out_of_order_are_all_stored(daphne, alice, alices_shop):
    events = load_recording("checkout")
    parts = batches_of(events, len(events) // 4 + 1)
    session = "session-order-0001"
    key = alices_shop.key
    assert post(daphne, key, session, 0, parts[0]) == 0
    # The third beacon comes first; the second follows while it is being handled.
    third, answers = posted_later(daphne, key, session, 2, parts[2])
    third.join(timeout=0.3)
    assert post(daphne, key, session, 1, parts[1]) >= 1
    third.join(timeout=30)
    assert answers == [2]
    assert post(daphne, key, session, 3, parts[3]) == 3
    assert exported(daphne, alice, session) == events
    assert not Gap.objects.filter(session_id=session).exists()


def test_a_beacon_does_not_overtake_the_batch_its_websocket_sent_just_before(
    start_daphne, alice, alices_shop
):
    # The group commit holds what a connection sent for up to a second (here two): the
    # beacon that follows it waits for it instead of declaring it missing.
    server = start_daphne(REPLAY_FLUSH_SECONDS="2")
    events = load_recording("checkout")
    parts = batches_of(events, len(events) // 3 + 1)
    session = "session-order-0002"
    with open_ws(server, alices_shop.key, session) as (ws, welcome):
        assert welcome["acked"] == -1
        ws.send(batch(0, parts[0]))
        assert unpack(ws.recv(timeout=10))["seq"] == 0
        ws.send(batch(1, parts[1]))  # waits in the group commit
        assert post(server, alices_shop.key, session, 2, parts[2]) == 2
    assert exported(server, alice, session) == events
    assert not Gap.objects.filter(session_id=session).exists()


def test_a_websocket_batch_that_skips_ahead_waits_for_the_beacon_before_it(
    daphne, alice, alices_shop
):
    # The next page resends what its tab kept, which may lack a batch that the previous
    # page's beacon still carries: its later batch waits for that one.
    events = load_recording("checkout")
    parts = batches_of(events, len(events) // 3 + 1)
    session = "session-order-0004"
    with open_ws(daphne, alices_shop.key, session) as (ws, _):
        ws.send(batch(0, parts[0]))
        assert unpack(ws.recv(timeout=10))["seq"] == 0
    with open_ws(daphne, alices_shop.key, session) as (ws, welcome):
        assert welcome["acked"] == 0
        ws.send(batch(2, parts[2]))
        time.sleep(1.5)  # longer than a group commit round takes to store it
        assert post(daphne, alices_shop.key, session, 1, parts[1]) >= 1
        assert unpack(ws.recv(timeout=10))["seq"] == 2
    assert exported(daphne, alice, session) == events
    assert not Gap.objects.filter(session_id=session).exists()


def test_a_batch_that_never_comes_is_recorded_as_a_hole_once_its_wait_is_over(
    daphne, alice, alices_shop
):
    events = load_recording("checkout")
    parts = batches_of(events, len(events) // 3 + 1)
    session = "session-order-0003"
    assert post(daphne, alices_shop.key, session, 0, parts[0]) == 0
    assert post(daphne, alices_shop.key, session, 2, parts[2]) == 2
    gaps = [(g.seq_start, g.seq_end, g.reason) for g in Gap.objects.filter(session_id=session)]
    assert gaps == [(1, 1, Gap.Reason.SEQUENCE_HOLE)]
    assert exported(daphne, alice, session) == parts[0] + parts[2]
