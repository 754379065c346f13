"""Attacks on sessions through the real server: a session id taken from a link, with the
project's public key and an allowed origin, writes nothing into that session; and whether
a session exists in another project cannot be told from the answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from replay.models import Session
from tests.innocent import Innocent
from tests.support import batch, hello, pack, unpack
from tests.test_attacks import ALICE, BOB, T0, event, post
from tests.test_daphne import exported

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]


def attacker_hello(key: str, session: str, secret: str | None) -> bytes:
    frame: dict[str, Any] = {
        "type": "hello",
        "key": key,
        "session": session,
        "tab": "attacker-tab",
        "acked": 10_000,
        "page": {"url": BOB + "/evil", "viewport": {"width": 1, "height": 1}},
        "sdk": "attacker/1",
        "user": "attacker",
    }
    if secret is not None:
        frame["secret"] = secret
    return pack(frame)


def test_a_session_id_from_a_link_does_not_let_anyone_write_to_it(
    daphne, alices_shop, bobs_blog, bob
):
    """The attacker has the project's public key (it is in every page), an allowed
    origin, and the victim's session id (it is in every replayUrl() link)."""
    injected = [event(T0 + 1, {"tag": "injected", "payload": {}})]
    with Innocent(daphne.ws_url, bobs_blog.key, BOB) as victim:
        row = Session.objects.values("user_id", "viewport_width", "tab").get(pk=victim.session)
        for secret in ["", "a-guessed-secret", None]:  # none at all: an older recorder's hello
            with connect(daphne.ws_url, origin=Origin(BOB)) as ws:
                ws.send(attacker_hello(bobs_blog.key, victim.session, secret))
                welcome = unpack(ws.recv(timeout=10))
                # A session of its own, as for any id never seen: nothing of the victim's.
                assert welcome["type"] == "welcome"
                assert welcome["session"] != victim.session
                assert welcome["acked"] == -1
                ws.send(batch(0, injected))
                assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 0}
        # Over HTTP, a few batches ahead of the victim.
        body = {
            "key": bobs_blog.key,
            "session": victim.session,
            "tab": "attacker-tab",
            "seq": len(victim.latencies) + 3,
            "events": injected,
        }
        for claim in [{}, {"secret": ""}, {"secret": "a-guessed-secret"}]:
            status, _, answer = post(daphne, json.dumps({**body, **claim}).encode(), origin=BOB)
            assert status == 200
            assert answer["session"] != victim.session
    victim.assert_untouched(exported(daphne, bob, victim.session))  # not closed, not mixed
    after = Session.objects.values("user_id", "viewport_width", "tab").get(pk=victim.session)
    assert after == row


def test_whether_a_session_exists_in_another_project_cannot_be_told(daphne, alices_shop, bobs_blog):
    with Innocent(daphne.ws_url, bobs_blog.key, BOB) as victim:
        answers = []
        for session in [victim.session, "0123456789abcdef0123456789abcdef"]:
            with connect(daphne.ws_url, origin=Origin(ALICE)) as ws:
                ws.send(hello(alices_shop.key, session, secret=None))
                answers.append(unpack(ws.recv(timeout=10)))
        taken, unknown = answers
        assert taken["session"] != victim.session
        assert {k: v for k, v in taken.items() if k not in {"session", "secret"}} == {
            k: v for k, v in unknown.items() if k not in {"session", "secret"}
        }
        assert set(taken) == set(unknown)
