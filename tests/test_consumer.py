"""The ingest WebSocket, driven through the whole ASGI application with Channels'
WebsocketCommunicator: protocol v1, acknowledgements, and every refusal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from replay.asgi import application
from replay.credentials import CREDENTIAL_FIELDS
from replay.models import Gap, Session
from replay.segments import iter_events
from replay.storage import get_storage
from tests.support import batch, batches_of, hello, load_recording, pack, session_secret, unpack

pytestmark = pytest.mark.django_db(transaction=True)

ALICE_ORIGIN = b"https://shop.alice.example"


@pytest.fixture(autouse=True)
def quick_flush(settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    settings.REPLAY_HELLO_TIMEOUT = 5


def connect(origin: bytes = ALICE_ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ingest/ws", headers=[(b"origin", origin)])


async def receive(comm: WebsocketCommunicator, seconds: float = 3) -> dict[str, Any]:
    return unpack(await comm.receive_from(timeout=seconds))


async def open_session(
    comm: WebsocketCommunicator, key: str, session: str, acked: int = -1
) -> dict[str, Any]:
    """Say hello on `comm` for the session named `session`, started under that name if
    it is new (tests/support.py, `session_secret`)."""
    connected, _ = await comm.connect()
    assert connected
    secret = await sync_to_async(session_secret)(key, session)
    await comm.send_to(bytes_data=hello(key, session, secret=secret, acked=acked))
    welcome = await receive(comm)
    assert welcome["type"] == "welcome"
    return welcome


async def wait_for_ack(comm: WebsocketCommunicator, seq: int, seconds: float = 3) -> None:
    while True:
        frame = await receive(comm, seconds)
        assert frame["type"] == "ack", frame
        if frame["seq"] >= seq:
            return


async def expect_refusal(comm: WebsocketCommunicator) -> tuple[dict[str, Any], int]:
    error = await receive(comm)
    closing = await comm.receive_output(timeout=3)
    assert closing["type"] == "websocket.close"
    return error, closing["code"]


async def stored_events(session_id: str) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        return list(iter_events(Session.objects.get(pk=session_id), get_storage()))

    return await sync_to_async(read)()


async def test_hello_gets_welcome_with_limits(alices_shop, settings):
    comm = connect()
    welcome = await open_session(comm, alices_shop.key, "session-welcome-1")
    assert welcome == {
        "type": "welcome",
        "session": "session-welcome-1",
        "acked": -1,
        "limits": {
            "max_frame_bytes": settings.REPLAY_MAX_FRAME_BYTES,
            "max_batch_events": settings.REPLAY_MAX_BATCH_EVENTS,
            "flush_ms": 50,
        },
        # The documented defaults (README, "Privacy options").
        "config": {
            "mask_all_inputs": True,
            "mask_all_text": False,
            "block_selector": "",
            "mask_selector": "",
            "ignore_selector": "",
            "excluded_urls": [],
            "require_consent": False,
            "sample_rate": 1.0,
            "respect_dnt": False,
            "capture_console": True,
            "capture_network": True,
            "capture_network_bodies": False,
            "network_headers": [],
            "credential_fields": CREDENTIAL_FIELDS,
        },
    }
    await comm.disconnect()


async def test_a_recording_is_acknowledged_and_stored_in_order(alices_shop):
    recording = load_recording("checkout")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-checkout-1")
    parts = batches_of(recording, 25)
    for seq, events in enumerate(parts):
        await comm.send_to(bytes_data=batch(seq, events))
    await wait_for_ack(comm, len(parts) - 1)
    assert await stored_events("session-checkout-1") == recording
    session = await sync_to_async(Session.objects.get)(pk="session-checkout-1")
    assert session.acked_seq == len(parts) - 1
    assert session.event_count == len(recording)
    assert session.first_event_ms == recording[0]["timestamp"]
    assert session.last_event_ms == recording[-1]["timestamp"]
    meta = next(e for e in recording if e["type"] == 4)
    assert session.urls == ["https://shop.alice.example/", meta["data"]["href"]]
    assert session.stored_bytes < session.received_bytes
    await comm.disconnect()


async def test_resent_batches_are_acknowledged_again_and_stored_once(alices_shop):
    events = load_recording("routes")
    parts = batches_of(events, 10)
    first = connect()
    await open_session(first, alices_shop.key, "session-resend-1")
    await first.send_to(bytes_data=batch(0, parts[0]))
    await first.send_to(bytes_data=batch(1, parts[1]))
    await wait_for_ack(first, 1)
    await first.disconnect()

    # The client never saw the ack (say the network dropped) and resends everything.
    second = connect()
    welcome = await open_session(second, alices_shop.key, "session-resend-1", acked=-1)
    assert welcome["acked"] == 1
    for seq, part in enumerate(parts):
        await second.send_to(bytes_data=batch(seq, part))
    await wait_for_ack(second, len(parts) - 1)
    assert await stored_events("session-resend-1") == events
    await second.disconnect()


async def test_buffered_batches_are_stored_when_the_client_disconnects(alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 30  # no timer flush during this test
    events = load_recording("article")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-tail-001")
    await comm.send_to(bytes_data=batch(0, events))
    await comm.disconnect()
    assert await stored_events("session-tail-001") == events
    again = connect()
    assert (await open_session(again, alices_shop.key, "session-tail-001"))["acked"] == 0
    await again.disconnect()


async def test_end_flushes_and_marks_the_session_ended(alices_shop):
    comm = connect()
    await open_session(comm, alices_shop.key, "session-end-0001")
    await comm.send_to(bytes_data=batch(0, load_recording("routes")[:5]))
    await comm.send_to(bytes_data=pack({"type": "end"}))
    assert (await receive(comm))["type"] == "ack"
    closing = await comm.receive_output(timeout=3)
    assert closing == {"type": "websocket.close", "code": 1000}
    session = await sync_to_async(Session.objects.get)(pk="session-end-0001")
    assert session.ended
    assert session.acked_seq == 0


async def test_gaps_are_recorded_with_their_reason(alices_shop):
    events = load_recording("routes")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-gaps-001")
    await comm.send_to(bytes_data=batch(0, events[:5]))
    await comm.send_to(
        bytes_data=pack({"type": "gap", "from": 1, "to": 2, "reason": "buffer full"})
    )
    await comm.send_to(bytes_data=batch(3, events[5:10]))
    # 4 and 5 never come: a hole once the wait for them is over (ingest.arrival).
    await comm.send_to(bytes_data=batch(6, events[10:15]))
    await wait_for_ack(comm, 6, seconds=10)
    gaps = await sync_to_async(
        lambda: list(
            Gap.objects.filter(session_id="session-gaps-001").values_list(
                "seq_start", "seq_end", "reason", "detail"
            )
        )
    )()
    assert gaps == [(1, 2, "client-dropped", "buffer full"), (4, 5, "sequence-hole", "")]
    assert await stored_events("session-gaps-001") == events[:15]
    await comm.disconnect()


BAD_FRAMES = {
    "malformed msgpack": (b"\xc1\xc1", 4400),
    "not a map": (pack([1, 2, 3]), 4400),  # type: ignore[arg-type]
    "batch before hello": (batch(0, [{"type": 4, "timestamp": 1, "data": {}}]), 4400),
    "unknown frame type": (pack({"type": "surprise"}), 4400),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_bad_first_frames_are_refused(alices_shop, name):
    frame, code = BAD_FRAMES[name]
    comm = connect()
    await comm.connect()
    await comm.send_to(bytes_data=frame)
    error, closed_with = await expect_refusal(comm)
    assert (error["type"], error["code"], closed_with) == ("error", code, code)
    assert error["reason"]


async def test_text_frames_are_refused(alices_shop):
    comm = connect()
    await comm.connect()
    await comm.send_to(text_data='{"type": "hello"}')
    error, code = await expect_refusal(comm)
    assert code == 4400
    assert "binary" in error["reason"]


async def test_no_hello_in_time_closes_with_4408(alices_shop, settings):
    settings.REPLAY_HELLO_TIMEOUT = 0.1
    comm = connect()
    await comm.connect()
    error, code = await expect_refusal(comm)
    assert (error["code"], code) == (4408, 4408)


@pytest.mark.parametrize(
    ("case", "expected"),
    [("unknown key", 4401), ("disabled key", 4401), ("wrong origin", 4403), ("no origin", 4403)],
)
async def test_keys_and_origins_are_checked(alices_shop, case, expected):
    key = alices_shop.key
    origin = ALICE_ORIGIN
    if case == "unknown key":
        key = "pk_not-a-key"
    elif case == "disabled key":
        alices_shop.enabled = False
        await sync_to_async(alices_shop.save)()
    elif case == "wrong origin":
        origin = b"https://evil.example"
    comm = WebsocketCommunicator(
        application, "/ingest/ws", headers=[] if case == "no origin" else [(b"origin", origin)]
    )
    await comm.connect()
    await comm.send_to(bytes_data=hello(key, "session-keys-001"))
    error, code = await expect_refusal(comm)
    assert (error["code"], code) == (expected, expected)
    assert not await sync_to_async(Session.objects.filter(pk="session-keys-001").exists)()


async def test_a_hello_starts_a_session_whose_secret_alone_continues_it(alices_shop):
    comm = connect()
    await comm.connect()
    await comm.send_to(bytes_data=hello(alices_shop.key, "chosen-by-the-tab"))
    welcome = await receive(comm)
    session, secret = welcome["session"], welcome["secret"]
    assert session != "chosen-by-the-tab"  # the server names new sessions
    assert welcome["acked"] == -1
    await comm.send_to(bytes_data=batch(0, load_recording("checkout")[:10]))
    await wait_for_ack(comm, 0)
    await comm.disconnect()

    again = connect()
    await again.connect()
    await again.send_to(bytes_data=hello(alices_shop.key, session, secret=secret))
    welcome = await receive(again)
    assert (welcome["session"], welcome["acked"]) == (session, 0)
    assert "secret" not in welcome  # said once, when the session started
    await again.disconnect()
    row = await sync_to_async(Session.objects.get)(pk=session)
    assert secret not in row.secret_digest  # only its digest is kept


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("oversized frame", 4413),
        ("too many events", 4413),
        ("event without timestamp", 4400),
        ("negative seq", 4400),
        ("second hello", 4400),
        ("malformed msgpack", 4400),
    ],
)
async def test_bad_frames_do_not_disturb_other_sessions(alices_shop, settings, name, code):
    settings.REPLAY_MAX_FRAME_BYTES = 64 * 1024
    settings.REPLAY_MAX_BATCH_EVENTS = 100
    events = load_recording("checkout")

    good = connect()
    await open_session(good, alices_shop.key, "session-good-001")
    await good.send_to(bytes_data=batch(0, events[:50]))
    await wait_for_ack(good, 0)

    bad = connect()
    await open_session(bad, alices_shop.key, "session-bad-0001")
    frames = {
        "oversized frame": batch(0, [{"type": 5, "timestamp": 1, "data": {"blob": "x" * 70_000}}]),
        "too many events": batch(0, [{"type": 3, "timestamp": i, "data": {}} for i in range(101)]),
        "event without timestamp": batch(0, [{"type": 3, "data": {}}]),
        "negative seq": batch(-1, events[:2]),
        "second hello": hello(alices_shop.key, "session-bad-0001"),
        "malformed msgpack": b"\x92\x01",
    }
    await bad.send_to(bytes_data=frames[name])
    error, closed_with = await expect_refusal(bad)
    assert (error["code"], closed_with) == (code, code)

    await good.send_to(bytes_data=batch(1, events[50:100]))
    await wait_for_ack(good, 1)
    await good.disconnect()
    assert await stored_events("session-good-001") == events[:100]
    assert await stored_events("session-bad-0001") == []


async def test_storage_failure_is_4503_and_nothing_is_acknowledged(alices_shop, settings, tmp_path):
    from replay.storage import get_storage

    (tmp_path / "not-a-folder").write_text("storage cannot live under a file")
    settings.REPLAY_STORAGE_URL = f"file://{tmp_path / 'not-a-folder' / 'segments'}"
    get_storage.cache_clear()
    comm = connect()
    await open_session(comm, alices_shop.key, "session-down-001")
    await comm.send_to(bytes_data=batch(0, load_recording("routes")[:5]))
    error, code = await expect_refusal(comm)
    assert (error["code"], code) == (4503, 4503)
    session = await sync_to_async(Session.objects.get)(pk="session-down-001")
    assert session.acked_seq == -1


async def test_enough_bytes_commit_at_once_and_the_rest_waits_one_interval(alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 1.5
    settings.REPLAY_FLUSH_BYTES = 500
    events = load_recording("checkout")
    comm = connect()
    await open_session(comm, alices_shop.key, "session-bytes-01")
    loop = asyncio.get_running_loop()
    started = loop.time()
    for seq in range(6):  # each frame passes the byte threshold on its own
        await comm.send_to(bytes_data=batch(seq, events[seq * 20 : seq * 20 + 20]))
        await wait_for_ack(comm, seq)
    assert loop.time() - started < 1.0  # not one interval per frame
    started = loop.time()
    await comm.send_to(bytes_data=batch(6, events[120:121]))  # too small to wake a round
    await wait_for_ack(comm, 6)
    assert loop.time() - started < 1.5 + 0.5  # the next tick, not six ticks later
    await comm.disconnect()


async def test_sessions_of_recorders_older_than_secrets_continue_as_before(alices_shop):
    """A session started before secrets existed has none; its recorder (whose hello has
    no secret field) continues it. A session with a secret is never continued that way."""

    def started_before_secrets() -> None:
        Session.objects.create(pk="session-legacy-1", project=alices_shop, tab="tab-legacy-1")

    await sync_to_async(started_before_secrets)()
    comm = connect()
    await comm.connect()
    await comm.send_to(bytes_data=hello(alices_shop.key, "session-legacy-1", secret=None))
    welcome = await receive(comm)
    assert (welcome["session"], welcome["acked"], "secret" in welcome) == (
        "session-legacy-1",
        -1,
        False,
    )
    await comm.send_to(bytes_data=batch(0, load_recording("routes")[:5]))
    await wait_for_ack(comm, 0)
    await comm.disconnect()

    secret = await sync_to_async(session_secret)(alices_shop.key, "session-secret-1")
    assert secret
    other = connect()
    await other.connect()
    await other.send_to(bytes_data=hello(alices_shop.key, "session-secret-1", secret=None))
    welcome = await receive(other)
    assert welcome["session"] not in {"session-secret-1", "session-legacy-1"}
    await other.disconnect()
