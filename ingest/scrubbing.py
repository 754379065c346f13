"""Scrubbing a received batch before it is stored (see `replay.scrub`): batches whose
bytes hold nothing that looks personal are kept as they came; the others are decoded,
scrubbed and packed again, with the page URLs the scan found scrubbed too."""

from __future__ import annotations

from dataclasses import replace

import msgpack

from ingest.plan import Received
from replay.codec import PackedBatch
from replay.scrub import Scrubber


def scrub_received(received: Received, scrubber: Scrubber) -> Received:
    batch = received.batch
    if not scrubber.needed(batch.packed):
        return received
    events = scrubber.value(msgpack.unpackb(batch.packed, raw=False, strict_map_key=False))
    packed = msgpack.packb(events, use_bin_type=True)
    scrubbed = PackedBatch(batch.seq, packed, batch.count, batch.first_ts, batch.last_ts)
    urls = tuple(scrubber.text(url) for url in received.urls)
    return replace(received, batch=scrubbed, urls=urls)
