"""Generated frames and events of every msgpack type and shape, sent to the real server
over WebSocket and HTTP beside an innocent recording: every frame gets an ack or a
documented close, every request a documented answer, everything acknowledged exports
as valid JSON, and the innocent recording is untouched."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from ingest.protocol import CloseCode
from tests.innocent import Innocent
from tests.msgpack_values import pack, values
from tests.support import hello, unpack
from tests.test_attacks import ALICE, BOB, T0, get, post, strict_json
from tests.test_daphne import exported

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]

DOCUMENTED_CLOSES = {1000, *(int(code) for code in CloseCode)}
DOCUMENTED_STATUSES = {200, 400, 401, 403, 408, 413, 429, 503}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

timestamps = st.one_of(
    st.integers(T0, T0 + 10**7), st.floats(allow_nan=True, allow_infinity=True), values
)
events = st.one_of(
    st.fixed_dictionaries(
        {"type": st.integers(0, 8), "timestamp": timestamps, "data": values},
    ),
    values,
)
frames = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("batch"),
            "seq": st.one_of(st.integers(0, 5), st.integers(-(2**63), 2**64 - 1), values),
            "events": st.one_of(st.lists(events, max_size=4), values),
        }
    ),
    st.fixed_dictionaries({"type": st.just("gap"), "from": values, "to": values, "reason": values}),
    st.fixed_dictionaries({"type": st.sampled_from(["hello", "end", "nope"])}),
    values,
)


def converse(ws: Any, sent: list[bytes], on_ack: Callable[[], None]) -> None:
    """Send the frames and `end`, then read what comes until the server closes (which
    raises ConnectionClosed)."""
    for frame in sent:
        ws.send(frame)
    ws.send(pack({"type": "end"}))  # stores, acknowledges and closes, if still open
    while True:
        answer = unpack(ws.recv(timeout=10))
        assert answer["type"] in {"ack", "error", "snapshot"}, answer
        if answer["type"] == "ack":
            on_ack()
        if answer["type"] == "error":
            assert answer["code"] in DOCUMENTED_CLOSES, answer


def assert_export_as_json(server: Any, user: Any, sessions: set[str]) -> None:
    """Everything acknowledged exports as valid JSON (as JSON.parse reads it)."""
    assert sessions  # the fuzz reached storage, not only refusals
    for session in sessions:
        status, body = get(server, f"/api/sessions/{session}/events", user)
        assert status == 200
        for event in strict_json(body):
            assert isinstance(event["timestamp"], int | float)
            assert math.isfinite(event["timestamp"])


@pytest.fixture
def server(start_daphne: Any) -> Any:
    # The fuzz sends many frames per second from many connections.
    return start_daphne(REPLAY_FRAMES_BURST="10000", REPLAY_NEW_SESSIONS_PER_MINUTE="100000")


def test_generated_frames_get_an_ack_or_a_documented_close(
    server, alice, alices_shop, bobs_blog, bob
):
    acknowledged: set[str] = set()

    @FUZZ
    @given(st.lists(st.one_of(frames.map(pack), st.binary(max_size=30)), min_size=1, max_size=5))
    def attack(sent: list[bytes]) -> None:
        with connect(server.ws_url, origin=Origin(ALICE), max_size=None) as ws:
            ws.send(hello(alices_shop.key))
            session = unpack(ws.recv(timeout=10))["session"]
            with pytest.raises(ConnectionClosed) as ended:
                converse(ws, sent, lambda: acknowledged.add(session))
        assert ended.value.rcvd is not None, "dropped without a close code"
        assert ended.value.rcvd.code in DOCUMENTED_CLOSES, ended.value.rcvd

    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        attack()
    innocent.assert_untouched(exported(server, bob, innocent.session))
    assert_export_as_json(server, alice, acknowledged)


def test_generated_http_batches_get_a_documented_answer(server, alice, alices_shop, bobs_blog, bob):
    acknowledged: set[str] = set()
    fields = st.fixed_dictionaries(
        {
            "key": st.one_of(st.just(alices_shop.key), values),
            "session": st.one_of(st.just("new-session-1"), values),
            "secret": st.one_of(st.just(""), values),
            "tab": st.one_of(st.just("tab-00000001"), values),
            "seq": st.one_of(st.integers(0, 3), values),
            "events": st.one_of(st.lists(events, max_size=4), values),
        }
    )

    def as_json(body: Any) -> bytes:
        try:
            return json.dumps(body, default=repr).encode("utf-8", "surrogatepass")
        except (ValueError, TypeError):
            return b"{"

    bodies = st.one_of(
        fields.map(lambda body: (pack(body), "application/msgpack")),
        fields.map(lambda body: (as_json(body), "text/plain")),
        st.tuples(st.binary(max_size=40), st.sampled_from(["application/json", "text/plain"])),
    )

    @FUZZ
    @given(bodies)
    def attack(case: tuple[bytes, str]) -> None:
        body, content_type = case
        status, _, answer = post(server, body, content_type)
        assert status in DOCUMENTED_STATUSES, (status, answer)
        if status == 200:
            acknowledged.add(answer["session"])

    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        attack()
    innocent.assert_untouched(exported(server, bob, innocent.session))
    assert_export_as_json(server, alice, acknowledged)
