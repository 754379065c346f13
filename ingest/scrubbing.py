"""Scrubbing a received batch before it is stored (see `replay.scrub`). A batch is an
array of events packed as the client sent them; only the events whose bytes may hold
something personal are decoded, scrubbed and packed again, and the others keep their
bytes, so a batch with one email in it costs one event's work, not the batch's. The
page URLs the scan found are scrubbed too.

Scrubbing a page's snapshot is pure Python work of tens of milliseconds: the server
process does it in a worker process (`scrub_pool`), forked from it, so that it never
holds the interpreter lock that acknowledges batches. (Forked, not spawned: a spawned
child would import the server's main module, and `python -m daphne` would start a
second server.)"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import lru_cache

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


@lru_cache(maxsize=64)
def _scrubber(patterns: tuple[str, ...]) -> Scrubber:
    return Scrubber(patterns)


def scrub_packed_with(packed: bytes, patterns: tuple[str, ...]) -> bytes:
    """`scrub_packed` with a project's patterns: what the worker process runs."""
    return scrub_packed(packed, _scrubber(patterns))


_pool: ProcessPoolExecutor | None = None


def scrub_pool() -> ProcessPoolExecutor:
    """The worker process that scrubs, started on first use (and again if it died)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    return _pool


def drop_pool() -> None:
    """Forget a broken pool; the next `scrub_pool` starts another."""
    global _pool
    _pool = None


def scrub_received(received: Received, scrubber: Scrubber, packed: bytes | None = None) -> Received:
    """The batch scrubbed (or, given `packed`, with these bytes scrubbed elsewhere)."""
    batch = received.batch
    if packed is None:
        packed = scrub_packed(batch.packed, scrubber)
    urls = tuple(scrubber.text(url) for url in received.urls)
    if packed is batch.packed and urls == received.urls:
        return received
    scrubbed = PackedBatch(batch.seq, packed, batch.count, batch.first_ts, batch.last_ts)
    return replace(received, batch=scrubbed, urls=urls)
