"""Helpers for tests that drive the real server: a Daphne subprocess, a protocol-level
WebSocket client, and the corpus recordings in tests/fixtures."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CORPUS = ["checkout", "spa", "article", "routes"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_recording(name: str) -> list[dict[str, Any]]:
    """A recording of tests/fixtures, `NAME.json` or (the large ones) `NAME.json.gz`."""
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        return list(json.loads(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes())))
    return list(json.loads(path.read_text()))


def batches_of(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def pack(frame: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb(frame, use_bin_type=True))


def unpack(data: bytes | str) -> dict[str, Any]:
    assert isinstance(data, bytes), f"expected a binary frame, got text {data!r}"
    return dict(msgpack.unpackb(data, raw=False))


def hello(
    key: str,
    session: str = "new-session",
    *,
    secret: str | None = "",
    acked: int = -1,
    url: str = "https://shop.alice.example/",
) -> bytes:
    """A recorder's hello: continuing `session` with its `secret`, or (with no secret,
    the default) starting a new one, whose id and secret the welcome gives. `secret`
    None is a recorder older than session secrets."""
    frame: dict[str, Any] = {
        "type": "hello",
        "key": key,
        "session": session,
        "tab": "tab-" + session[:20],
        "acked": acked,
        "page": {"url": url, "referrer": "", "viewport": {"width": 1280, "height": 800}},
        "sdk": "tests/1",
    }
    if secret is not None:
        frame["secret"] = secret
    return pack(frame)


# Secrets of the sessions tests started under ids of their choosing (`session_secret`).
_SECRETS: dict[str, str] = {}


def start_session(project: Any, session_id: str, **fields: Any) -> str:
    """Start the session `session_id` as a hello does (ingest's own code), under this id
    rather than one the server draws, so that a test can name it; its secret."""
    from ingest.sessions import open_session

    opened = open_session(
        project,
        session_id,
        secret=None,
        tab=fields.pop("tab", "tab-00000001"),
        page=fields.pop("page", None),
        user=fields.pop("user", None),
        user_agent=fields.pop("user_agent", "pytest"),
        new_id=session_id,
    )
    _SECRETS[session_id] = opened.secret
    return opened.secret


def session_secret(key: str, session_id: str) -> str:
    """The secret that continues `session_id` of the project with `key`, starting the
    session first if it does not exist yet."""
    from replay.models import Project, Session

    if session_id in _SECRETS and Session.objects.filter(pk=session_id).exists():
        return _SECRETS[session_id]
    page = {"url": "https://shop.alice.example/"}  # as `hello` says
    return start_session(Project.objects.get(key=key), session_id, page=page)


def batch(seq: int, events: list[dict[str, Any]]) -> bytes:
    return pack({"type": "batch", "seq": seq, "events": events})


class DaphneServer:
    """`python -m ingest.server replay.asgi:application` (Daphne, with ingest's limits)
    in a subprocess, on a free loopback port."""

    def __init__(
        self,
        *,
        database_url: str,
        storage_url: str,
        s3_endpoint: str | None,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        access_log: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ingest/ws"
        self.log_path = log_path
        inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        self.env = {
            **inherited,
            "REPLAY_DATABASE_URL": database_url,
            "REPLAY_STORAGE_URL": storage_url,
            "REPLAY_SECRET_KEY": "test-secret-key-not-for-production",
            "REPLAY_FLUSH_SECONDS": "0.2",
            "REPLAY_ALLOWED_HOSTS": "127.0.0.1,localhost",
            **({"REPLAY_S3_ENDPOINT_URL": s3_endpoint} if s3_endpoint else {}),
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.access_log = access_log

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingest.server",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                *([] if self.access_log else ["--verbosity", "0"]),
                "replay.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not listen within {timeout}s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye, as in a crash or an OOM kill."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def record(
    project: Any,
    session_id: str,
    recording: str,
    *,
    user: str | None = None,
    url: str = "https://shop.alice.example/cart",
    events: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Store a corpus recording (or the `events` given) for `project` the way ingest
    does (the same session and commit code), and return its events."""
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch
    from replay.storage import get_storage

    if events is None:
        events = load_recording(recording)
    start_session(project, session_id, page={"url": url}, user=user)
    received = []
    for seq, part in enumerate(batches_of(events, 30)):
        packed = pack_batch(seq, part).packed
        received.append(Received.scanned(seq, packed, scan_events(packed, max_events=10**6), 1000))
    commit_batches(session_id, received, get_storage(), max_session_bytes=10**9)
    return events


class ResendingClient:
    """A protocol-level recorder, as transport.js behaves: numbers batches, keeps every
    unacknowledged one, and after any disconnect reconnects (retrying while the server
    is down), says hello, and resends everything above the `welcome`'s `acked`."""

    def __init__(
        self,
        url: str,
        key: str,
        session: str = "new-session",
        secret: str = "",
        origin: str = "https://shop.alice.example",
    ):
        """Continues `session` with its `secret`, or (with none) starts a new session and
        keeps the id and secret the welcome gives, as the recorder does."""
        self.url = url
        self.key = key
        self.session = session
        self.secret = secret
        self.origin = origin
        self.unacked: dict[int, list[dict[str, Any]]] = {}
        self.next_seq = 0
        self.acked = -1
        self.ws: Any = None
        self.closes: list[int] = []

    def _connect(self, deadline: float) -> None:
        from websockets.sync.client import connect
        from websockets.typing import Origin

        while True:
            try:
                ws = connect(
                    self.url, origin=Origin(self.origin), max_size=None, open_timeout=2, legacy=True
                )
                ws.send(hello(self.key, self.session, secret=self.secret, acked=self.acked))
                welcome = unpack(ws.recv(timeout=5))
                if welcome["type"] != "welcome":
                    raise ConnectionError(f"refused: {welcome}")
                if welcome["session"] != self.session:
                    assert not self.secret, "the server did not continue the session"
                    self.session, self.secret = welcome["session"], welcome["secret"]
                break
            except (OSError, TimeoutError, ConnectionError, EOFError) as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not reconnect: {exc}") from exc
                time.sleep(0.2)
            except Exception as exc:  # websockets' own errors while the server restarts
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not reconnect: {exc}") from exc
                time.sleep(0.2)
        self.ws = ws
        self._acknowledge(welcome["acked"])
        for seq in sorted(self.unacked):
            ws.send(batch(seq, self.unacked[seq]))

    def _acknowledge(self, seq: int) -> None:
        self.acked = max(self.acked, seq)
        for done in [s for s in self.unacked if s <= self.acked]:
            del self.unacked[done]

    def _drop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                self.ws.close()
        self.ws = None

    def send(self, events: list[dict[str, Any]]) -> int:
        """Queue the next batch and send it if connected; returns its seq."""
        from websockets.exceptions import ConnectionClosed

        seq = self.next_seq
        self.next_seq += 1
        self.unacked[seq] = events
        if self.ws is not None:
            try:
                self.ws.send(batch(seq, events))
            except (ConnectionClosed, OSError):
                self._drop()
        return seq

    def wait_until_acked(self, timeout: float = 60) -> None:
        """Receive acks (reconnecting as needed) until every batch sent is acknowledged."""
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + timeout
        while self.unacked:
            if time.monotonic() > deadline:
                raise TimeoutError(f"batches {sorted(self.unacked)} were never acknowledged")
            if self.ws is None:
                self._connect(deadline)
                continue
            try:
                frame = unpack(self.ws.recv(timeout=1))
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                self.closes.append(code or 1006)
                self._drop()
                continue
            if frame["type"] == "ack":
                self._acknowledge(frame["seq"])

    def close(self) -> None:
        self._drop()


def flood(url: str, key: str, stop: Any, refusals: Any) -> None:
    """Floods frames and new sessions until told to stop; reports close codes. Run in
    a process of its own (importable without Django)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.typing import Origin

    junk = batch(0, [{"type": 3, "timestamp": 1, "data": {"source": 1, "positions": []}}])
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            with connect(url, origin=Origin("https://shop.alice.example")) as ws:
                ws.send(hello(key, f"session-flood-{attempt:05d}"))
                for _ in range(2_000):
                    ws.send(junk)  # the same frame, as fast as the socket takes it
                while True:
                    ws.recv(timeout=10)  # until the server closes
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            if code:
                refusals.put(code)
