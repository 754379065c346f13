"""Scrubbing a received batch before it is stored (see `replay.scrub`). A batch is an
array of events packed as the client sent them; only the events whose bytes may hold
something personal are decoded, scrubbed and packed again, and the others keep their
bytes, so a batch with one email in it costs one event's work, not the batch's. The
page URLs the scan found are scrubbed too."""

from __future__ import annotations

from dataclasses import replace

import msgpack

from ingest.plan import Received
from replay.codec import PackedBatch
from replay.scrub import Scrubber


def scrub_packed(packed: bytes, scrubber: Scrubber) -> bytes:
    """The batch's events (a msgpack array) with personal data replaced."""
    if not scrubber.needed(packed):
        return packed
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(packed))
    unpacker.feed(packed)
    count = unpacker.read_array_header()
    parts = [packed[: unpacker.tell()]]
    changed = False
    for _ in range(count):
        start = unpacker.tell()
        event = unpacker.unpack()
        raw = packed[start : unpacker.tell()]
        if scrubber.needed(raw):
            cleaned = msgpack.packb(scrubber.value(event), use_bin_type=True)
            changed = changed or cleaned != raw
            raw = cleaned
        parts.append(raw)
    return b"".join(parts) if changed else packed


def scrub_received(received: Received, scrubber: Scrubber) -> Received:
    batch = received.batch
    packed = scrub_packed(batch.packed, scrubber)
    urls = tuple(scrubber.text(url) for url in received.urls)
    if packed is batch.packed and urls == received.urls:
        return received
    scrubbed = PackedBatch(batch.seq, packed, batch.count, batch.first_ts, batch.last_ts)
    return replace(received, batch=scrubbed, urls=urls)
