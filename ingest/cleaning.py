"""Cleaning a received batch before it is stored: what could run code in a viewer's
browser is always taken out (`replay.sanitize`), requests keep only the headers and
bodies the project records and never credentials (`replay.devtools`), and personal data
is scrubbed when the project asks for it (`replay.scrub`). A batch is an array of events
packed as the client sent them; only the events whose bytes may hold something to clean
are decoded, cleaned and packed again, and the others keep their bytes, so a batch with
one email in it costs one event's work, not the batch's. The page URLs the scan found
are scrubbed too.

Cleaning a page's snapshot is pure Python work of tens of milliseconds: the server
process does it in a worker process (`clean_pool`), forked from it, so that it never
holds the interpreter lock that acknowledges batches. (Forked, not spawned: a spawned
child would import the server's main module, and `python -m daphne` would start a
second server.)"""

from __future__ import annotations

import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import lru_cache

import msgpack

from ingest.plan import Received
from replay import devtools, sanitize
from replay.codec import PackedBatch
from replay.scrub import Scrubber

STRICT = devtools.Policy()


def needed(packed: bytes, scrubber: Scrubber | None) -> bool:
    """Whether a batch's bytes may hold something to clean."""
    return (
        sanitize.needed(packed)
        or devtools.needed(packed)
        or (scrubber is not None and scrubber.needed(packed))
    )


def clean_packed(
    packed: bytes, scrubber: Scrubber | None, policy: devtools.Policy = STRICT
) -> bytes:
    """The batch's events (a msgpack array) with what could run code taken out,
    requests cut to what `policy` records and, given a scrubber, personal data
    replaced."""
    if not needed(packed, scrubber):
        return packed
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(packed))
    unpacker.feed(packed)
    count = unpacker.read_array_header()
    parts = [packed[: unpacker.tell()]]
    changed = False
    for _ in range(count):
        start = unpacker.tell()
        unpacker.skip()  # no objects built for the events left as they are
        raw = packed[start : unpacker.tell()]
        strip = sanitize.needed(raw)
        network = devtools.needed(raw)
        scrub = scrubber is not None and scrubber.needed(raw)
        if strip or network or scrub:
            event = msgpack.unpackb(raw, raw=False, strict_map_key=False)
            if strip and isinstance(event, dict):
                event = sanitize.event(event)
            if network and isinstance(event, dict):
                event = devtools.clean(event, policy)
            if scrub and scrubber is not None:
                event = scrubber.event(event)
            cleaned = msgpack.packb(event, use_bin_type=True)
            changed = changed or cleaned != raw
            raw = cleaned
        parts.append(raw)
    return b"".join(parts) if changed else packed


@lru_cache(maxsize=64)
def _scrubber(patterns: tuple[str, ...] | None) -> Scrubber | None:
    return None if patterns is None else Scrubber(patterns)


def clean_packed_with(
    packed: bytes, patterns: tuple[str, ...] | None, policy: devtools.Policy = STRICT
) -> bytes:
    """`clean_packed` with a project's patterns (None: it does not scrub): what the
    worker process runs."""
    return clean_packed(packed, _scrubber(patterns), policy)


def _close_inherited_sockets() -> None:
    """Run first in the forked worker: it inherited every socket of the server (client
    connections, the listener, database connections). Holding them would keep a
    connection the server closes open at the TCP level, so the client would wait for
    an end that never comes."""
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        descriptors = list(range(3, 4096))
    for fd in descriptors:
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            continue


_pool: ProcessPoolExecutor | None = None


def clean_pool() -> ProcessPoolExecutor:
    """The worker process that cleans, started on first use (and again if it died)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_close_inherited_sockets,
        )
    return _pool


def drop_pool() -> None:
    """Forget a broken pool; the next `clean_pool` starts another."""
    global _pool
    _pool = None


def clean_received(
    received: Received,
    scrubber: Scrubber | None,
    packed: bytes | None = None,
    policy: devtools.Policy = STRICT,
) -> Received:
    """The batch cleaned (or, given `packed`, with these bytes cleaned elsewhere)."""
    batch = received.batch
    if packed is None:
        packed = clean_packed(batch.packed, scrubber, policy)
    urls = received.urls
    if scrubber is not None:
        urls = tuple(scrubber.text(url) for url in urls)
    if packed is batch.packed and urls == received.urls:
        return received
    cleaned = PackedBatch(batch.seq, packed, batch.count, batch.first_ts, batch.last_ts)
    return replace(received, batch=cleaned, urls=urls)
