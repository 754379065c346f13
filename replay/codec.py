"""Segment codec: a versioned header, then zstd-compressed msgpack of the batches.

Layout of one segment object::

    b"RSEG"                 magic
    u8  version             FORMAT_VERSION
    u32 header_length       big-endian
    header                  msgpack map (see SegmentHeader), readable without decompressing
    body                    one zstd frame holding msgpack [[seq, [event, ...]], ...]

A keyframe may be stored as a difference: its header names a `base` (the key of the
session's keyframe before it) and its body is compressed with the base's uncompressed
body as a zstd dictionary, with a checksum, so that a wrong base is an error and never
wrong events. A page that barely changed between the two costs little.

Events are stored exactly as the browser sent them; batches keep their sequence numbers
so a reader can drop a batch it has already seen (two writers racing for the same seq
range never make the export return an event twice). Pure: no Django, no IO.
"""

from __future__ import annotations

import gc
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zstandard

from replay import deltas

MAGIC = b"RSEG"
FORMAT_VERSION = 1
ZSTD_LEVEL = 3
_PREFIX = struct.Struct(">4sBI")

Event = dict[str, Any]


class CodecError(Exception):
    """The bytes are not a segment this code can read."""


@dataclass(frozen=True)
class Batch:
    """One numbered batch of events, as a segment gives them back."""

    seq: int
    events: list[Event]


@dataclass(frozen=True)
class PackedBatch:
    """A batch as it is stored: its events as msgpack bytes (as the client sent them,
    when it sent msgpack), with the facts the segment header needs."""

    seq: int
    packed: bytes = field(repr=False)
    count: int
    first_ts: int | float | None
    last_ts: int | float | None


def pack_batch(seq: int, events: list[Event]) -> PackedBatch:
    stamps = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), int | float)]
    return PackedBatch(
        seq=seq,
        packed=msgpack.packb(events, use_bin_type=True),
        count=len(events),
        first_ts=min(stamps) if stamps else None,
        last_ts=max(stamps) if stamps else None,
    )


@dataclass(frozen=True)
class SegmentHeader:
    version: int
    session: str
    seq_start: int
    seq_end: int
    first_ts: int | float | None
    last_ts: int | float | None
    event_count: int
    keyframe: bool
    base: str | None = None  # the key of the keyframe whose body is this one's dictionary
    ids: str | None = None  # "delta": node ids are stored as differences (replay.deltas)
    dictionary: str | None = None  # the trained zstd dictionary it is compressed with


@dataclass(frozen=True)
class Segment:
    header: SegmentHeader
    batches: list[Batch]

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch.events]


def _array_header(length: int) -> bytes:
    """The msgpack header of an array of `length` items (its items follow it)."""
    if length < 16:
        return bytes([0x90 | length])
    if length < 2**16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """One compressor per thread and level: making one costs more than compressing a
    small segment, and a compressor must not be shared between threads."""
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return cache[level]


@contextmanager
def gc_paused() -> Iterator[None]:
    # Unpacking builds many small containers; letting the cyclic collector run during
    # it roughly halves throughput, and none of these objects form cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def segment_body(batches: Sequence[PackedBatch]) -> bytes:
    """The uncompressed body of a segment of these batches: what a keyframe stored as a
    difference is compressed against."""
    parts = [_array_header(len(batches))]
    for batch in batches:
        parts.append(b"\x92" + msgpack.packb(batch.seq))  # [seq, events]
        parts.append(batch.packed)
    return b"".join(parts)


def body_offsets(batches: Sequence[PackedBatch]) -> list[int]:
    """Where each batch starts in `segment_body(batches)`, and where the last ends: a
    reader given two of them decodes only the batches between (`body_batches`' `at`)."""
    offsets = [len(_array_header(len(batches)))]
    for batch in batches:
        offsets.append(offsets[-1] + 1 + len(msgpack.packb(batch.seq)) + len(batch.packed))
    return offsets


def _dictionary(body: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(body, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _header_of(session: str, batches: Sequence[PackedBatch], keyframe: bool) -> dict[str, Any]:
    firsts = [b.first_ts for b in batches if b.first_ts is not None]
    lasts = [b.last_ts for b in batches if b.last_ts is not None]
    return {
        "session": session,
        "seq": [batches[0].seq, batches[-1].seq],
        "ts": [min(firsts) if firsts else None, max(lasts) if lasts else None],
        "events": sum(batch.count for batch in batches),
        "keyframe": keyframe,
    }


def encode_segment(
    session: str,
    batches: Sequence[PackedBatch],
    *,
    keyframe: bool = False,
    level: int = ZSTD_LEVEL,
    base: tuple[str, bytes] | None = None,
    ids_delta: bool = False,
    dictionary: tuple[str, bytes] | None = None,
) -> bytes:
    """Encode batches (in seq order, at least one) into one segment object. The events'
    bytes are copied in, not encoded again. With `base` (a keyframe's locator and its
    uncompressed body), the body is stored as a difference from it; with `dictionary`
    (a trained dictionary's name and bytes), compressed with it. `ids_delta` says the
    batches' node ids are differences (`block_batches`)."""
    if not batches:
        raise ValueError("a segment holds at least one batch")
    if base is not None and dictionary is not None:
        raise ValueError("a segment is compressed with a base or a dictionary, not both")
    header = _header_of(session, batches, keyframe)
    body = segment_body(batches)
    if ids_delta:
        header["ids"] = "delta"
    if base is None and dictionary is None:
        compressed = _compressor(level).compress(body)
    else:
        if base is not None:
            header["base"] = base[0]
            trained = _dictionary(base[1])
        elif dictionary is not None:
            header["dict"] = dictionary[0]
            trained = zstandard.ZstdCompressionDict(dictionary[1])
        compressor = zstandard.ZstdCompressor(level=level, dict_data=trained, write_checksum=True)
        compressed = compressor.compress(body)
    packed_header = msgpack.packb(header, use_bin_type=True)
    segment: bytes = (
        _PREFIX.pack(MAGIC, FORMAT_VERSION, len(packed_header)) + packed_header + compressed
    )
    return segment


def _split(data: bytes) -> tuple[SegmentHeader, memoryview]:
    if len(data) < _PREFIX.size:
        raise CodecError("segment is shorter than its prefix")
    magic, version, header_length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CodecError("not a segment (bad magic)")
    if version != FORMAT_VERSION:
        raise CodecError(f"segment format version {version} is not supported")
    start = _PREFIX.size
    end = start + header_length
    if end > len(data):
        raise CodecError("segment header is truncated")
    try:
        raw = msgpack.unpackb(data[start:end], raw=False)
        header = SegmentHeader(
            version=version,
            session=raw["session"],
            seq_start=raw["seq"][0],
            seq_end=raw["seq"][1],
            first_ts=raw["ts"][0],
            last_ts=raw["ts"][1],
            event_count=raw["events"],
            keyframe=bool(raw["keyframe"]),
            base=raw.get("base"),
            ids=raw.get("ids"),
            dictionary=raw.get("dict"),
        )
    except (ValueError, KeyError, TypeError, IndexError, msgpack.UnpackException) as exc:
        raise CodecError(f"segment header is unreadable: {exc}") from exc
    return header, memoryview(data)[end:]


def read_header(data: bytes) -> SegmentHeader:
    """The header alone, without decompressing the events."""
    return _split(data)[0]


def block_batches(batches: Sequence[Batch]) -> tuple[list[PackedBatch], bool]:
    """The batches as compaction stores them (`encode_segment` with `ids_delta`), and
    whether their node ids are differences (`replay.deltas`: they are unless an id is
    hostile). Their events are rewritten in place."""
    checked = [deltas.rewrite(batch.events) for batch in batches]
    rewritten = all(checked)
    if not rewritten:
        for batch, done in zip(batches, checked, strict=True):
            if done:
                deltas.restore(batch.events)
    return [pack_batch(batch.seq, batch.events) for batch in batches], rewritten


def decompressed_body(
    data: bytes, base: bytes | None = None, dictionary: bytes | None = None
) -> bytes:
    """A segment's body, uncompressed; `base` is the uncompressed body of the keyframe
    its header names as its base, and `dictionary` the trained dictionary it names, if
    it names them."""
    header, body = _split(data)
    if (header.base is None) != (base is None):
        wanted = "its base's body" if base is None else "no base"
        raise CodecError(f"segment body needs {wanted}")
    if (header.dictionary is None) != (dictionary is None):
        wanted = f"dictionary {header.dictionary}" if dictionary is None else "no dictionary"
        raise CodecError(f"segment body needs {wanted}")
    try:
        if base is not None:
            return zstandard.ZstdDecompressor(dict_data=_dictionary(base)).decompress(body)
        if dictionary is not None:
            trained = zstandard.ZstdCompressionDict(dictionary)
            return zstandard.ZstdDecompressor(dict_data=trained).decompress(body)
        return zstandard.ZstdDecompressor().decompress(body)
    except zstandard.ZstdError as exc:
        raise CodecError(f"segment body is not valid zstd: {exc}") from exc


def decode_segment(data: bytes, base: bytes | None = None) -> Segment:
    """A segment's header and batches; `base` as for `decompressed_body`."""
    header = _split(data)[0]
    return Segment(header=header, batches=body_batches(decompressed_body(data, base), header.ids))


def body_batches(
    raw_body: bytes,
    ids: str | None = None,
    first: int | None = None,
    last: int | None = None,
    at: tuple[int, int] | None = None,
) -> list[Batch]:
    """The batches of a segment's uncompressed body (those numbered `first` to `last`,
    when given: the others are skipped without being decoded; only those between the
    byte offsets `at`, from `body_offsets`, when given); `ids` is what the segment's
    header says of its node ids."""
    if ids not in (None, "delta"):
        raise CodecError(f"segment ids are stored as {ids!r}, which this code cannot read")
    found = []
    try:
        with gc_paused():
            # Ingest stores only valid UTF-8 (`ingest.values`); what was stored before it
            # did is read with each invalid sequence replaced, not refused.
            unpacker = msgpack.Unpacker(
                raw=False,
                strict_map_key=False,
                unicode_errors="replace",
                max_buffer_size=max(len(raw_body), 1024),
            )
            if at is None:
                unpacker.feed(raw_body)
                count = unpacker.read_array_header()
            else:
                unpacker.feed(raw_body[at[0] : at[1]])
                count = -1  # as many as the range holds
            while count != 0:
                count -= 1
                try:
                    length = unpacker.read_array_header()
                except msgpack.OutOfData:
                    if at is None:
                        raise
                    break
                if length != 2:
                    raise CodecError("segment body holds a batch that is not [seq, events]")
                seq = unpacker.unpack()
                if not isinstance(seq, int):
                    raise CodecError("segment body holds a batch without a number")
                if (first is not None and seq < first) or (last is not None and seq > last):
                    unpacker.skip()
                    continue
                events = unpacker.unpack()
                if not isinstance(events, list):
                    raise CodecError("segment body holds a batch whose events are no list")
                if ids == "delta":
                    deltas.restore(events)
                found.append(Batch(seq=seq, events=events))
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CodecError(f"segment body is unreadable: {exc}") from exc
    return found
