"""The real recorder in Chromium compresses each batch, the JSON text of its events, with
the browser's own CompressionStream (the frame names its `encoding` and `format`), and
what the server stores is still exactly what the page produced."""

from __future__ import annotations

import json
import zlib
from typing import Any

import msgpack
import pytest

from tests.recording import FLUSH, assert_stored_as_produced, export, shop_and_buy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_batches_go_compressed_and_are_stored_as_produced(daphne, shop, alice, page):
    sent: list[bytes] = []

    def watch(socket: Any) -> None:
        socket.on(
            "framesent",
            lambda payload: sent.append(payload) if isinstance(payload, bytes) else None,
        )

    page.on("websocket", watch)
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    shop_and_buy(page)
    flushed = page.evaluate(FLUSH)
    events = export(daphne, alice, page.evaluate("replay.sessionId()"))
    assert_stored_as_produced(events, page, flushed)
    frames = [msgpack.unpackb(data, raw=False) for data in sent]
    batches = [f for f in frames if f.get("type") == "batch"]
    assert batches
    assert all((b.get("encoding"), b.get("format")) == ("deflate-raw", "json") for b in batches)
    assert all(isinstance(b["events"], bytes) for b in batches)
    first = zlib.decompress(batches[0]["events"], -15)
    assert json.loads(first) == events[: len(json.loads(first))]
    wire = sum(len(data) for data, f in zip(sent, frames, strict=True) if f.get("type") == "batch")
    as_json = len(json.dumps(events[:flushed]).encode())
    assert wire < 0.5 * as_json, (wire, as_json)  # (the benchmark measures it at real pace)
