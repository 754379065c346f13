"""Headless Chromium driven over the DevTools Protocol itself, for benchmarks that measure
the page: only the domains a benchmark turns on are on. (Playwright turns on the
Runtime domain in every page, which makes each console call cost the page tens of
microseconds it would not cost a visitor.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.support import free_port

CHROMIUM = "/usr/bin/chromium"


class Tab:
    """One page of the browser, and the protocol's commands to it."""

    def __init__(self, port: int) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new", method="PUT")
        with urllib.request.urlopen(request) as answer:
            self.target = json.loads(answer.read())
        self.port = port
        self.socket: ClientConnection = connect(
            self.target["webSocketDebuggerUrl"], max_size=None, open_timeout=10
        )
        self.last = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.last += 1
        asked = self.last
        self.socket.send(json.dumps({"id": asked, "method": method, "params": params}))
        while True:  # events of the domains turned on come in between; they are not read
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == asked:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        until = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > until:
                raise TimeoutError(expression)
            time.sleep(0.05)

    def close(self) -> None:
        self.socket.close()
        url = f"http://127.0.0.1:{self.port}/json/close/{self.target['id']}"
        with urllib.request.urlopen(url):
            pass


@contextmanager
def chromium() -> Iterator[int]:
    """Headless Chromium, yielding the port of its DevTools endpoint."""
    port = free_port()
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version"):
                    break
            except OSError:
                if time.monotonic() > until:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
