"""An innocent recording beside an attack: an ordinary recorder that streams a real
recording to the real server, a batch at a time, timing each acknowledgement, so that a
test can check that what an attacker did cost it neither service nor data."""

from __future__ import annotations

import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.support import batch, hello, load_recording, unpack

# The Daphne processes tests start store every 0.2 s (tests/support.py).
FLUSH_SECONDS = 0.2


class Innocent:
    """Records `recording` (repeated, shifted in time, for as long as it runs) into a
    new session of the project with `key`, one batch of `size` events every `every`
    seconds, over one WebSocket from `origin`."""

    def __init__(
        self,
        ws_url: str,
        key: str,
        origin: str,
        *,
        recording: str = "checkout",
        size: int = 5,
        every: float = 0.1,
    ) -> None:
        self.ws_url, self.key, self.origin = ws_url, key, origin
        self.recording = load_recording(recording)
        self.size, self.every = size, every
        self.session = ""
        self.secret = ""
        self.sent: list[dict[str, Any]] = []
        self.latencies: list[float] = []
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Innocent:
        self._thread.start()
        if not self._started.wait(timeout=15):
            raise TimeoutError("the innocent recorder never got its welcome")
        self.wait_for_batches(3)  # recording for real before the attack
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait_for_batches(len(self.latencies) + 3)  # and still after it
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for_batches(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies) < count and self.failure is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.latencies)} of {count} batches acknowledged")
            time.sleep(0.02)

    def _events(self, seq: int) -> list[dict[str, Any]]:
        span = self.recording[-1]["timestamp"] - self.recording[0]["timestamp"] + 1000
        start = seq * self.size
        rounds, offset = divmod(start, len(self.recording))
        part = self.recording[offset : offset + self.size]
        return [{**event, "timestamp": event["timestamp"] + rounds * span} for event in part]

    def _run(self) -> None:
        try:
            with connect(self.ws_url, origin=Origin(self.origin), max_size=None) as ws:
                ws.send(hello(self.key))
                welcome = unpack(ws.recv(timeout=10))
                assert welcome["type"] == "welcome", welcome
                self.session, self.secret = welcome["session"], welcome["secret"]
                self._started.set()
                seq = 0
                while not self._stop.is_set():
                    events = self._events(seq)
                    sent = time.monotonic()
                    ws.send(batch(seq, events))
                    while True:
                        frame = unpack(ws.recv(timeout=10))
                        assert frame["type"] == "ack", frame
                        if frame["seq"] >= seq:
                            break
                    self.latencies.append(time.monotonic() - sent)
                    self.sent += events
                    seq += 1
                    time.sleep(self.every)
        except (ConnectionClosed, TimeoutError, AssertionError, OSError) as exc:
            self.failure = exc
            self._started.set()

    def assert_untouched(self, exported: list[dict[str, Any]]) -> None:
        """Its acknowledgements kept coming within a flush interval and a second, all
        but the slowest, and that one within a flush interval and three seconds (a test
        machine under load, two test workers and a browser on two cores, stalls the
        server's process now and then: an ack took 1.4 s once; an attack that slows the
        server slows more than one ack), and its export is exactly what it sent."""
        assert self.failure is None, f"the innocent recording failed: {self.failure!r}"
        *rest, slowest = sorted(self.latencies)
        assert slowest <= FLUSH_SECONDS + 3.0, f"an ack took {slowest:.2f} s"
        assert not rest or rest[-1] <= FLUSH_SECONDS + 1.0, (
            f"two acks took {rest[-1]:.2f} s or more"
        )
        assert exported == self.sent
