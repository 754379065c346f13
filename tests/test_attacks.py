"""Attacks through the real server, each beside an innocent recording of another project
(tests/innocent.py): whatever one client with a project's public key sends, the others
keep their acknowledgements (within a flush interval and a second) and their exports
stay exact, and nothing it was told back reveals anyone else's data."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from typing import Any

import msgpack
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from replay.models import ApiToken, Keyframe, Segment, Session
from tests.innocent import Innocent
from tests.support import DaphneServer, batch, hello, load_recording, pack, unpack
from tests.test_daphne import exported

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]

ALICE = "https://shop.alice.example"
BOB = "https://bob.example"
T0 = 1_736_155_800_000  # a plausible moment, in ms


@pytest.fixture
def server(start_daphne: Any) -> DaphneServer:
    server: DaphneServer = start_daphne(REPLAY_BODY_TIMEOUT="1", REPLAY_KEYFRAME_SECONDS="1")
    return server


def event(timestamp: Any = T0, data: Any = None, kind: int = 5) -> dict[str, Any]:
    return {"type": kind, "timestamp": timestamp, "data": {} if data is None else data}


def packed_batch(seq: int, events: bytes) -> bytes:
    """A batch frame whose events are given as msgpack bytes (for what msgpack's own
    packer will not write)."""
    head = bytes(msgpack.packb({"type": "batch", "seq": seq, "events": None}))
    return head[:-1] + events  # the map's last value, nil, replaced by the events


def raw_batch(seq: int, event_bytes: bytes) -> bytes:
    """A batch frame of one event given as msgpack bytes."""
    return packed_batch(seq, b"\x91" + event_bytes)


def raw_event(data: bytes) -> bytes:
    head = bytes(msgpack.packb({"type": 5, "timestamp": T0}))
    return b"\x83" + head[1:] + bytes(msgpack.packb("data")) + data


def refused(server: DaphneServer, key: str, frame: bytes, origin: str = ALICE) -> tuple[Any, int]:
    """Say hello as a new recorder of `key`'s project, send `frame`: the error frame and
    close code the server answers with."""
    with connect(server.ws_url, origin=Origin(origin), max_size=None) as ws:
        ws.send(hello(key))
        assert unpack(ws.recv(timeout=10))["type"] == "welcome"
        ws.send(frame)
        error = unpack(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


def strict_json(text: str | bytes) -> Any:
    """JSON as a browser's JSON.parse reads it: no NaN, no Infinity."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def get(server: DaphneServer, path: str, user: Any) -> tuple[int, bytes]:
    _, token = ApiToken.issue(user)
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post(
    server: DaphneServer, body: bytes, content_type: str = "application/json", origin: str = ALICE
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        server.url + "/ingest/batch",
        data=body,
        headers={"Content-Type": content_type, "Origin": origin},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


UNSTORABLE = {
    "a NaN timestamp": batch(0, [event(math.nan)]),
    "an infinite timestamp": batch(0, [event(math.inf)]),
    "a timestamp of -infinity": batch(0, [event(-math.inf)]),
    "a timestamp of 1e300": batch(0, [event(1e300)]),
    "a timestamp of 2^64-1": batch(0, [event(2**64 - 1)]),
    "a timestamp of -2^63": batch(0, [event(-(2**63))]),
    "a seq of 2^63": pack({"type": "batch", "seq": 2**63, "events": [event()]}),
    "a gap to 2^63": pack({"type": "gap", "from": 0, "to": 2**63, "reason": "x"}),
}


def test_unstorable_batches_are_refused_and_cost_no_one_else(server, alices_shop, bobs_blog, bob):
    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        for _ in range(3):  # again and again, as an attacker would
            for name, frame in UNSTORABLE.items():
                error, code = refused(server, alices_shop.key, frame)
                assert (error["code"], code) == (4400, 4400), name
                assert error["reason"], name
            time.sleep(0.3)
        with connect(server.ws_url, origin=Origin(ALICE)) as ws:
            # A session id the storage key cannot take: matched whole, not up to a newline.
            ws.send(hello(alices_shop.key, "abcdefgh\n", secret="x"))
            error = unpack(ws.recv(timeout=10))
            assert (error["code"], "session" in error["reason"]) == (4400, True)
    innocent.assert_untouched(exported(server, bob, innocent.session))
    assert not Session.objects.filter(project=alices_shop, acked_seq__gte=0).exists()


def test_text_made_to_slow_scrubbing_down_costs_no_one_else(
    server, alice, alices_shop, bobs_blog, bob
):
    """Text shaped so that a pattern tried at every position would take minutes (letters
    an email address could start with, ending in an "@"; URL markers over and over): the
    worker that scrubs every project's batches stays quick, and the text is scrubbed."""
    hostile = [
        event(T0, {"tag": "jane@example.com " + "a" * 300_000 + "@", "payload": {}}),
        event(T0 + 1, {"tag": "a://" * 100_000, "payload": {}}),
    ]
    for project in (alices_shop, bobs_blog):  # both scrubbed, by the one worker
        project.scrub = True
        project.save()
    with (
        Innocent(server.ws_url, bobs_blog.key, BOB) as innocent,
        connect(server.ws_url, origin=Origin(ALICE)) as ws,
    ):
        ws.send(hello(alices_shop.key))
        welcome = unpack(ws.recv(timeout=10))
        ws.send(batch(0, hostile))
        assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 0}
    innocent.assert_untouched(exported(server, bob, innocent.session))
    stored = json.dumps(exported(server, alice, welcome["session"]))
    assert "jane@example.com" not in stored
    assert "[email]" in stored


def test_a_takeover_storing_the_same_batches_in_one_round_is_absorbed(
    server, alice, alices_shop, bobs_blog, bob
):
    """A tab records; its duplicate (same session, same secret) says hello and resends
    what the first has unacknowledged while the first stores its buffer on the way
    out: both reach one commit round. Stored once, and nobody gets 4503."""
    events = load_recording("checkout")[:30]
    parts = [events[i : i + 10] for i in range(0, 30, 10)]
    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        for _ in range(10):
            with (
                connect(server.ws_url, origin=Origin(ALICE)) as old,
                connect(server.ws_url, origin=Origin(ALICE)) as new,
            ):
                old.send(hello(alices_shop.key))
                welcome = unpack(old.recv(timeout=10))
                session, secret = welcome["session"], welcome["secret"]
                for seq, part in enumerate(parts):
                    old.send(batch(seq, part))
                new.send(hello(alices_shop.key, session, secret=secret))
                for seq, part in enumerate(parts):
                    new.send(batch(seq, part))
                assert unpack(new.recv(timeout=10))["session"] == session
                while (frame := unpack(new.recv(timeout=10)))["type"] == "ack":
                    if frame["seq"] == 2:
                        break
                assert frame == {"type": "ack", "seq": 2}
                while (frame := unpack(old.recv(timeout=10)))["type"] == "ack":
                    pass
                assert frame["code"] == 4409
            assert exported(server, alice, session) == events
    innocent.assert_untouched(exported(server, bob, innocent.session))


REFUSED_VALUES: dict[str, tuple[bytes, str]] = {
    "a msgpack Timestamp": (pack({"at": msgpack.Timestamp(0)}), "extension type"),
    "a binary value": (pack({"blob": b"\x00\x01"}), "binary"),
    "a number as a map key": (msgpack.packb({1: "one"}), "not a string"),
    "400 levels of nesting": (b"\x91" * 400 + b"\xc0", "deeper than 300 levels"),
    "1,100 levels of nesting": (b"\x91" * 1100 + b"\xc0", "nests deeper than msgpack reads"),
}


def test_values_json_cannot_carry_are_refused_or_normalized_before_the_ack(
    server, alice, alices_shop, bobs_blog, bob
):
    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        for name, (data, reason) in REFUSED_VALUES.items():
            error, code = refused(server, alices_shop.key, raw_batch(0, raw_event(data)))
            assert (error["code"], code) == (4400, 4400), name
            assert reason in error["reason"], name

        # NaN, infinities and invalid UTF-8 (a lone surrogate, as some encoders write a
        # broken JavaScript string) are stored as JSON.stringify would have sent them.
        page = load_recording("checkout")[:4]  # a page load: Meta and full snapshot
        start = page[0]["timestamp"]
        odd = msgpack.packb(
            [
                event(start + 1500, {"tag": "odd", "payload": {"x": math.nan, "y": -math.inf}}),
                event(start + 1600, {"tag": "text", "payload": "caf\udce9 \udced\udca0\udc80"}),
            ],
            unicode_errors="surrogateescape",
        )
        later = [{**e, "timestamp": start + 3000 + i} for i, e in enumerate(page[:2])]
        with connect(server.ws_url, origin=Origin(ALICE), max_size=None) as ws:
            ws.send(hello(alices_shop.key))
            session = unpack(ws.recv(timeout=10))["session"]
            frames = [batch(0, page), packed_batch(1, odd), batch(2, [event(start + 2000)])]
            for seq, frame in enumerate(frames):
                ws.send(frame)
                assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": seq}
            ws.send(batch(3, later))
            assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 3}

        status, body = get(server, f"/api/sessions/{session}/events", alice)
        assert status == 200
        stored = strict_json(body)
        assert stored[4]["data"]["payload"] == {"x": None, "y": None}
        assert stored[5]["data"]["payload"] == "caf\ufffd \ufffd\ufffd\ufffd"
        for row in Segment.objects.filter(session_id=session):
            status, body = get(server, f"/api/sessions/{session}/segments/{row.seq_start}", alice)
            assert status == 200
            strict_json(body)
        # The keyframe worker reads the session like everyone else.
        deadline = time.monotonic() + 30
        while not Keyframe.objects.filter(session_id=session).exists():
            assert time.monotonic() < deadline, "no keyframe was written for the session"
            time.sleep(0.2)
    innocent.assert_untouched(exported(server, bob, innocent.session))


def raw_http(server: DaphneServer, head: bytes, body: bytes = b"", wait: float = 10) -> bytes:
    """Send a request as bytes on a plain socket; whatever the server answers."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(head + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def test_every_http_batch_gets_an_answer(server, alice, alices_shop, bobs_blog, bob):
    ok = {"key": alices_shop.key, "session": "new-session-1", "secret": "", "tab": "tab-00000001"}
    deep = b'{"key": "%s", "events": ' % alices_shop.key.encode() + b"[" * 100_000
    cases: dict[str, tuple[bytes, str, int]] = {
        "NaN": (
            json.dumps({**ok, "seq": 0, "events": [event(math.nan)]}).encode(),
            "application/json",
            400,
        ),
        "2^70": (
            json.dumps({**ok, "seq": 0, "events": [event(2**70)]}).encode(),
            "text/plain",
            400,
        ),
        "1e999 as a timestamp": (
            json.dumps({**ok, "seq": 0, "events": [event()]}).replace(str(T0), "1e999").encode(),
            "text/plain",
            400,
        ),
        "100,000-deep JSON": (deep + b"]" * 100_000 + b"}", "text/plain", 400),
        "a lone surrogate in the key": (
            json.dumps({**ok, "key": "pk_\ud800", "seq": 0, "events": []}).encode(),
            "text/plain",
            401,
        ),
        "a newline in the session id": (
            json.dumps({**ok, "session": "abcdefgh\n", "seq": 0, "events": []}).encode(),
            "text/plain",
            400,
        ),
        "a uint64 timestamp in msgpack": (
            msgpack.packb({**ok, "seq": 0, "events": [event(2**64 - 1)]}),
            "application/msgpack",
            400,
        ),
    }
    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        for name, (body, content_type, expected) in cases.items():
            status, _, answer = post(server, body, content_type)
            assert status == expected, (name, answer)
            assert answer["error"]["code"] in {4400, 4401}, name
        # A body that never arrives whole: answered when REPLAY_BODY_TIMEOUT (1 s) ends.
        started = time.monotonic()
        head = (
            b"POST /ingest/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        answer = raw_http(server, head, b'{"key": ')
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert b'"code": 4408' in answer
        assert time.monotonic() - started < 5
        # A broken JavaScript string (JSON.stringify writes its lone surrogate as an
        # escape) and a number too large for a float are stored, normalized.
        text = json.dumps({**ok, "seq": 0, "events": [event(T0, {"s": "\ud800", "n": 1.5})]})
        status, _, answer = post(server, text.replace("1.5", "1e999").encode(), "text/plain")
        assert status == 200
    innocent.assert_untouched(exported(server, bob, innocent.session))
    assert exported(server, alice, answer["session"]) == [event(T0, {"s": "\ufffd" * 3, "n": None})]


def test_small_refusals_say_why_and_reveal_nothing(server, alices_shop, bobs_blog, bob):
    with Innocent(server.ws_url, bobs_blog.key, BOB) as innocent:
        # A viewport no screen has: 4400 with a reason, not 1011 and a traceback.
        frame = unpack(hello(alices_shop.key))
        frame["page"]["viewport"]["width"] = 2**64 - 1
        with connect(server.ws_url, origin=Origin(ALICE)) as ws:
            ws.send(pack(frame))
            error = unpack(ws.recv(timeout=10))
        assert (error["code"], "width" in error["reason"]) == (4400, True)
        # A frame over the frame limit: 4413 with a reason, not a dropped connection.
        with connect(server.ws_url, origin=Origin(ALICE), max_size=None) as ws:
            ws.send(hello(alices_shop.key))
            unpack(ws.recv(timeout=10))
            ws.send(b"\x00" * (4 * 1024 * 1024 + 1))
            error = unpack(ws.recv(timeout=10))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert (error["code"], closed.value.rcvd and closed.value.rcvd.code) == (4413, 4413)
        # Origins that name the shop only to a URL parser are no origins at all.
        for origin in ["https://user@shop.alice.example", "https://evil.com\\@shop.alice.example"]:
            with connect(server.ws_url, origin=Origin(origin)) as ws:
                ws.send(hello(alices_shop.key))
                error = unpack(ws.recv(timeout=10))
            assert (error["code"], error["retry"]) == (4403, False), origin
        # Over HTTP the same refusals say the same (retry: false), and only an allowed
        # origin may read an answer.
        body = {"key": alices_shop.key, "session": "new-session-1", "secret": "", "seq": 0}
        body |= {"tab": "tab-00000001", "events": [event()]}
        for origin, key, status in [
            ("https://evil.example", alices_shop.key, 403),
            ("https://user@shop.alice.example", alices_shop.key, 403),
            (ALICE, "pk_unknown", 401),
        ]:
            code, headers, answer = post(
                server, json.dumps({**body, "key": key}).encode(), origin=origin
            )
            assert (code, answer["error"]["retry"]) == (status, False)
            assert "Access-Control-Allow-Origin" not in headers
        code, headers, answer = post(server, json.dumps(body).encode())
        assert code == 200
        assert headers["Access-Control-Allow-Origin"] == ALICE
    innocent.assert_untouched(exported(server, bob, innocent.session))
