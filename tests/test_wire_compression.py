"""Compressed batches on the wire (README, "Wire protocol v1", `encoding` and `format`): a
batch whose events are deflated (`deflate-raw` or `gzip`, as the browser's
CompressionStream writes them), as msgpack or as JSON text (what our recorder sends), is
stored exactly as the same batch sent plain; plain batches keep working; and a
decompression bomb is refused (4413) once the frame limit's worth is inflated, without
the memory of what it would have become. Malformed compressed data is a 4400."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from typing import Any

import msgpack
import pytest

from ingest.protocol import ProtocolError, parse_frame
from tests.support import batches_of, load_recording, pack
from tests.test_consumer import (
    connect,
    expect_refusal,
    open_session,
    stored_events,
    wait_for_ack,
)

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT = 4 * 1024 * 1024


@pytest.fixture(autouse=True)
def quick_flush(settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    settings.REPLAY_HELLO_TIMEOUT = 5


def deflated(events: list[dict[str, Any]], encoding: str, form: str = "msgpack") -> bytes:
    if form == "json":
        return deflated_bytes(json.dumps(events).encode(), encoding)
    return deflated_bytes(msgpack.packb(events, use_bin_type=True), encoding)


def deflated_bytes(plain: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        writer = zlib.compressobj(6, zlib.DEFLATED, 31)
    else:
        writer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return writer.compress(plain) + writer.flush()


def compressed_batch(
    seq: int, events: list[dict[str, Any]], encoding: str, form: str = "msgpack"
) -> bytes:
    frame = {"type": "batch", "seq": seq, "encoding": encoding}
    if form != "msgpack":
        frame["format"] = form
    return pack({**frame, "events": deflated(events, encoding, form)})


@pytest.mark.parametrize(
    ("encoding", "form"), [("deflate-raw", "msgpack"), ("gzip", "msgpack"), ("deflate-raw", "json")]
)
async def test_compressed_batches_are_stored_as_sent(alices_shop, encoding, form):
    recording = load_recording("checkout")
    comm = connect()
    name = f"session-zip-{encoding[:4]}-{form}"
    await open_session(comm, alices_shop.key, name)
    parts = batches_of(recording, 40)
    wire = 0
    for seq, events in enumerate(parts):
        frame = (
            compressed_batch(seq, events, encoding, form)
            if seq % 3
            else pack(
                {"type": "batch", "seq": seq, "events": events}  # plain ones mixed in
            )
        )
        wire += len(frame)
        await comm.send_to(bytes_data=frame)
    await wait_for_ack(comm, len(parts) - 1)
    assert await stored_events(name) == recording
    await comm.disconnect()


def test_a_decompression_bomb_is_refused_without_its_memory():
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = b""
    chunk = b"\x00" * (1 << 20)
    for _ in range(256):  # 256 MB of zeros, about 250 KB deflated
        payload += bomb.compress(chunk)
    payload += bomb.flush()
    assert len(payload) < 1 << 20
    frame = pack({"type": "batch", "seq": 0, "encoding": "deflate-raw", "events": payload})
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as refused:
            parse_frame(frame, max_frame_bytes=LIMIT, max_events=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == 4413
    assert "inflates to more than" in refused.value.reason
    assert peak < 3 * LIMIT  # not the 256 MB it would have been


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"encoding": "brotli"}, "encoding must be one of"),
        ({"events": "not binary"}, "events must be binary"),
        ({"events": b"not deflate at all"}, "events are not valid deflate-raw data"),
        ({"events": deflated([{"type": 4}], "deflate-raw")[:5]}, "not one whole deflate-raw"),
        ({"format": "xml"}, "format must be one of msgpack, json"),
        ({"format": "json", "encoding": None, "events": []}, "needs an encoding"),
        ({"format": "json", "events": deflated_bytes(b"[{", "deflate-raw")}, "not valid JSON"),
        ({"format": "json", "events": deflated_bytes(b"[NaN]", "deflate-raw")}, "NaN is not"),
        (
            {"format": "json", "events": deflated_bytes(b"[" * 100_000, "deflate-raw")},
            "nests too deeply",
        ),
        ({"format": "json", "events": deflated_bytes(b'{"type": 4}', "deflate-raw")}, "a list"),
    ],
)
def test_bad_compressed_frames_are_4400(change, named):
    frame = {
        "type": "batch",
        "seq": 0,
        "encoding": "deflate-raw",
        "events": deflated([], "deflate-raw"),
    }
    frame.update(change)
    with pytest.raises(ProtocolError) as refused:
        parse_frame(pack(frame), max_frame_bytes=LIMIT, max_events=10_000)
    assert refused.value.code == 4400
    assert named in refused.value.reason


async def test_a_bomb_closes_only_its_connection_with_4413(alices_shop):
    comm = connect()
    await open_session(comm, alices_shop.key, "session-bomb-0001")
    writer = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = writer.compress(b"\x91" + b"\x00" * (8 << 20)) + writer.flush()
    frame = pack({"type": "batch", "seq": 0, "encoding": "deflate-raw", "events": payload})
    await comm.send_to(bytes_data=frame)
    error, code = await expect_refusal(comm)
    assert (error["code"], code) == (4413, 4413)
