"""Helpers for tests that drive the real server: a Daphne subprocess, a protocol-level
WebSocket client, and the corpus recordings in tests/fixtures."""

from __future__ import annotations

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
    return list(json.loads((FIXTURES / f"{name}.json").read_text()))


def batches_of(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def pack(frame: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb(frame, use_bin_type=True))


def unpack(data: bytes | str) -> dict[str, Any]:
    assert isinstance(data, bytes), f"expected a binary frame, got text {data!r}"
    return dict(msgpack.unpackb(data, raw=False))


def hello(
    key: str, session: str, *, acked: int = -1, url: str = "https://shop.alice.example/"
) -> bytes:
    return pack(
        {
            "type": "hello",
            "key": key,
            "session": session,
            "tab": "tab-" + session[:20],
            "acked": acked,
            "page": {"url": url, "referrer": "", "viewport": {"width": 1280, "height": 800}},
            "sdk": "tests/1",
        }
    )


def batch(seq: int, events: list[dict[str, Any]]) -> bytes:
    return pack({"type": "batch", "seq": seq, "events": events})


class DaphneServer:
    """`daphne replay.asgi:application` in a subprocess, on a free loopback port."""

    def __init__(
        self,
        *,
        database_url: str,
        storage_url: str,
        s3_endpoint: str | None,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
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

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                str(64 * 1024 * 1024),
                "--websocket-max-frame-size",
                str(64 * 1024 * 1024),
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
) -> list[dict[str, Any]]:
    """Store a corpus recording for `project` the way ingest does (the same session
    and commit code), and return its events."""
    from ingest.commit import Received, commit_batches
    from ingest.sessions import open_session
    from replay.codec import Batch
    from replay.storage import get_storage

    events = load_recording(recording)
    open_session(
        project, session_id, tab="tab-00000001", page={"url": url}, user=user, user_agent="pytest"
    )
    received = [Received(Batch(seq, part), 1000) for seq, part in enumerate(batches_of(events, 30))]
    commit_batches(session_id, received, get_storage(), max_session_bytes=10**9)
    return events
