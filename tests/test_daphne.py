"""The real server: a Daphne subprocess on a free port, a real WebSocket client and
plain HTTP, with segments in a local folder or in S3 (moto's server on loopback)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin
from websockets.uri import parse_uri

from replay.models import ApiToken, Session
from tests.support import (
    DaphneServer,
    batch,
    batches_of,
    hello,
    load_recording,
    session_secret,
    unpack,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]

ORIGIN = "https://shop.alice.example"


@contextmanager
def open_ws(
    server: DaphneServer, key: str, session: str, origin: str = ORIGIN
) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    secret = session_secret(key, session)
    with connect(server.ws_url, origin=Origin(origin), max_size=None, open_timeout=10) as ws:
        ws.send(hello(key, session, secret=secret))
        yield ws, unpack(ws.recv(timeout=10))


def stream(ws: ClientConnection, events: list[dict[str, Any]], size: int = 20) -> int:
    parts = batches_of(events, size)
    for seq, part in enumerate(parts):
        ws.send(batch(seq, part))
    last = len(parts) - 1
    while True:
        frame = unpack(ws.recv(timeout=10))
        assert frame["type"] == "ack"
        if frame["seq"] == last:
            return last


def http(
    server: DaphneServer,
    path: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        server.url + path, data=data, headers=headers or {}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, _lower(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _lower(exc.headers), exc.read()


def post_batch(
    server: DaphneServer, body: dict[str, Any], content_type: str = "application/json"
) -> dict[str, Any]:
    """Posts `body` to the batch endpoint from the shop's origin, as msgpack or JSON (by
    `content_type`); the answer, once it says the batch is stored (200, and readable by
    the page)."""
    data = msgpack.packb(body) if "msgpack" in content_type else json.dumps(body).encode()
    status, headers, answer = http(
        server,
        "/ingest/batch",
        data=data,
        headers={"Content-Type": content_type, "Origin": ORIGIN},
    )
    assert status == 200, answer
    assert headers["access-control-allow-origin"] == ORIGIN
    return dict(json.loads(answer))


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def exported(server: DaphneServer, user: Any, session_id: str) -> list[dict[str, Any]]:
    _, token = ApiToken.issue(user)
    status, _, body = http(
        server, f"/api/sessions/{session_id}/events", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    return list(json.loads(body))


@pytest.mark.parametrize("backend", ["folder", "s3"])
def test_a_recording_sent_over_a_real_socket_is_exported_exactly(
    request, start_daphne, alice, alices_shop, backend
):
    if backend == "s3":
        request.getfixturevalue("s3_storage_url")
    server = start_daphne()
    events = load_recording("spa")
    with open_ws(server, alices_shop.key, "session-real-0001") as (ws, welcome):
        assert welcome["type"] == "welcome"
        assert welcome["acked"] == -1
        stream(ws, events)
    assert exported(server, alice, "session-real-0001") == events


def test_oversized_frames_get_the_documented_close_code(start_daphne, alices_shop):
    server = start_daphne(REPLAY_MAX_FRAME_BYTES="100000")
    with open_ws(server, alices_shop.key, "session-big-00001") as (ws, welcome):
        assert welcome["limits"]["max_frame_bytes"] == 100000
        payload = {"tag": "x", "payload": "y" * 200_000}
        ws.send(batch(0, [{"type": 5, "timestamp": 1, "data": payload}]))
        error = unpack(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert error["code"] == 4413
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4413


class SlowClient:
    """A WebSocket client on a socket of its own, which answers the server's close
    frame only when told to: a recorder on a slow network, or one that never answers."""

    def __init__(self, server: DaphneServer) -> None:
        self.socket = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.protocol = ClientProtocol(parse_uri(server.ws_url))
        request = self.protocol.connect()
        request.headers["Origin"] = ORIGIN
        self.protocol.send_request(request)
        self.send_pending()
        self.read(until=1)  # the handshake's answer

    def send_pending(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.socket.sendall(data)

    def send(self, frame: bytes) -> None:
        self.protocol.send_binary(frame)
        self.send_pending()

    def read(self, until: int) -> list[Any]:
        """Read until `until` more frames (or the handshake's answer) have arrived."""
        events: list[Any] = []
        while len(events) < until:
            data = self.socket.recv(65536)
            assert data, "the server closed the connection"
            self.protocol.receive_data(data)
            events += self.protocol.events_received()
        return events

    def still_open(self) -> bool:
        """True while the server has neither closed nor reset the connection (nor sent
        anything more, which it has no more of)."""
        readable, _, _ = select.select([self.socket], [], [], 0)
        return not readable

    def ending(self) -> str:
        """How the server ends the connection: "closed" (TCP's end) or "reset"; our
        socket is closed then."""
        self.socket.settimeout(10)
        try:
            return "closed" if self.socket.recv(65536) == b"" else "more data"
        except ConnectionResetError:
            return "reset"
        finally:
            self.socket.close()


def test_a_client_slow_to_answer_the_close_still_reads_its_code(start_daphne, alices_shop):
    """The recorder acts on the close code (4401 stops, 4429 backs off, 4400 drops the
    batch), and on a slow network its answer to the server's close frame can take
    seconds. The server waits REPLAY_CLOSE_TIMEOUT for it (autobahn, under Daphne,
    resets the connection within a second, often at once), then ends the connection
    without a reset, which could destroy the frames the recorder has not read yet."""
    server = start_daphne(REPLAY_CLOSE_TIMEOUT="4")
    late, silent = SlowClient(server), SlowClient(server)
    for client in (late, silent):
        client.send(hello(alices_shop.key))
        assert unpack(bytes(client.read(until=1)[0].data))["type"] == "welcome"
        client.send(batch(0, []) + b"\xc1")  # more than one msgpack value: 4400
    started = time.monotonic()
    for client in (late, silent):
        error, close = client.read(until=2)
        assert unpack(bytes(error.data))["code"] == 4400
        assert isinstance(close, Frame)
        assert close.opcode is Opcode.CLOSE
        assert Close.parse(close.data).code == 4400
    time.sleep(2.5)
    assert late.still_open()
    assert silent.still_open()
    late.send_pending()  # the answer to the close frame, 2.5 seconds late, is taken
    assert late.ending() in {"closed", "reset"}  # Autobahn resets once both have closed
    assert silent.ending() == "closed"
    assert 4 <= time.monotonic() - started < 8


def test_a_misbehaving_client_does_not_disturb_a_recording_one(daphne, alice, alices_shop):
    events = load_recording("checkout")
    results: dict[str, Any] = {}

    def record_well() -> None:
        with open_ws(daphne, alices_shop.key, "session-calm-00001") as (ws, _):
            results["acked"] = stream(ws, events, size=5)

    worker = threading.Thread(target=record_well)
    worker.start()
    for attempt in range(10):
        with connect(daphne.ws_url, origin=Origin(ORIGIN)) as ws:
            ws.send(
                b"\xc1 not msgpack"
                if attempt % 2
                else hello("pk_wrong", f"session-bad-{attempt:05d}")
            )
            error = unpack(ws.recv(timeout=10))
            assert error["code"] == (4400 if attempt % 2 else 4401)
    worker.join(timeout=60)
    assert results["acked"] == len(batches_of(events, 5)) - 1
    assert exported(daphne, alice, "session-calm-00001") == events


def test_batches_over_http_are_stored_once_and_acknowledged(daphne, alice, alices_shop):
    events = load_recording("routes")
    parts = batches_of(events, 20)

    started: dict[str, str] = {"session": "new-session-1", "secret": ""}

    def post(seq: int, content_type: str) -> dict[str, Any]:
        body = {
            "key": alices_shop.key,
            **started,
            "tab": "tab-000000001",
            "seq": seq,
            "events": parts[seq],
            "page": {"url": ORIGIN + "/"},
        }
        return post_batch(daphne, body, content_type)

    # The first batch starts a session: the answer names it and gives its secret.
    first = post(0, "text/plain;charset=UTF-8")
    assert first["acked"] == 0
    assert first["session"] != "new-session-1"
    started.update(session=first["session"], secret=first["secret"])
    assert post(1, "application/msgpack") == {"acked": 1}
    assert post(1, "application/json") == {"acked": 1}  # a resend is acknowledged again
    assert post(2, "application/json") == {"acked": 2}
    assert exported(daphne, alice, started["session"]) == events
    assert Session.objects.get(pk=started["session"]).urls[0] == ORIGIN + "/"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown key", 401, 4401),
        ("wrong origin", 403, 4403),
        ("bad json", 400, 4400),
        ("bad content type", 400, 4400),
        ("missing seq", 400, 4400),
        ("oversized body", 413, 4413),
    ],
)
def test_bad_http_batches_are_refused_with_their_code(daphne, alices_shop, case, status, code):
    body: dict[str, Any] = {
        "key": alices_shop.key,
        "session": "session-http-bad1",
        "tab": "tab-000000001",
        "seq": 0,
        "events": [{"type": 4, "timestamp": 1, "data": {"href": "x"}}],
    }
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    if case == "unknown key":
        body["key"] = "pk_nope"
    if case == "wrong origin":
        headers["Origin"] = "https://evil.example"
    if case == "missing seq":
        del body["seq"]
    data = json.dumps(body).encode()
    if case == "bad json":
        data = b"{not json"
    if case == "bad content type":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if case == "oversized body":
        data = b"x" * (5 * 1024 * 1024)
    answer_status, _, answer = http(daphne, "/ingest/batch", data=data, headers=headers)
    assert answer_status == status
    assert json.loads(answer)["error"]["code"] == code
    assert not Session.objects.filter(acked_seq__gte=0).exists()  # nothing was stored


def test_cors_preflight_allows_posting_from_a_site(daphne):
    status, headers, _ = http(
        daphne,
        "/ingest/batch",
        method="OPTIONS",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
