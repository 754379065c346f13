"""The segment codec returns exactly what it was given, and refuses what it cannot read."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.codec import (
    FORMAT_VERSION,
    Batch,
    CodecError,
    decode_segment,
    encode_segment,
    pack_batch,
    read_header,
)
from tests.support import CORPUS, batches_of, load_recording

# JSON-like values as rrweb produces them: msgpack keeps ints, floats, strings, bools,
# None, lists and string-keyed maps exactly.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
events = st.fixed_dictionaries(
    {"type": st.integers(0, 8), "timestamp": st.integers(0, 2**53), "data": json_values}
)


@given(st.lists(st.lists(events, max_size=8), min_size=1, max_size=6), st.booleans())
@settings(max_examples=200, deadline=None)
def test_round_trip_returns_exactly_what_was_encoded(batch_events, keyframe):
    batches = [Batch(seq=10 + i, events=e) for i, e in enumerate(batch_events)]
    packed = [pack_batch(b.seq, b.events) for b in batches]
    segment = decode_segment(encode_segment("s-12345678", packed, keyframe=keyframe))
    assert segment.batches == batches
    assert segment.header.seq_start == 10
    assert segment.header.seq_end == 10 + len(batches) - 1
    assert segment.header.event_count == sum(len(e) for e in batch_events)
    assert segment.header.keyframe is keyframe


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_recordings_round_trip(name):
    recording = load_recording(name)
    batches = [pack_batch(seq, part) for seq, part in enumerate(batches_of(recording, 40))]
    data = encode_segment("corpus-" + name, batches)
    segment = decode_segment(data)
    assert segment.events == recording
    header = read_header(data)
    assert header.version == FORMAT_VERSION
    assert header.first_ts == min(e["timestamp"] for e in recording)
    assert header.last_ts == max(e["timestamp"] for e in recording)
    assert header.event_count == len(recording)
    # msgpack + zstd of a real recording is far smaller than its JSON.
    assert len(data) < len(json.dumps(recording)) / 3


def test_header_is_readable_without_the_body():
    data = encode_segment("abcdefgh", [pack_batch(0, [{"type": 4, "timestamp": 5, "data": {}}])])
    truncated_body = data[:-3]
    assert read_header(truncated_body).session == "abcdefgh"
    with pytest.raises(CodecError):
        decode_segment(truncated_body)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: b"NOPE" + d[4:], "bad magic"),
        (lambda d: d[:4] + bytes([FORMAT_VERSION + 1]) + d[5:], "version"),
        (lambda d: d[:5] + struct.pack(">I", 10**6) + d[9:], "truncated"),
        (lambda d: d[:3], "shorter"),
    ],
)
def test_unreadable_segments_raise_codec_error(mangle, message):
    data = encode_segment("abcdefgh", [pack_batch(0, [{"type": 4, "timestamp": 5, "data": {}}])])
    with pytest.raises(CodecError, match=message):
        decode_segment(mangle(data))


def test_a_segment_needs_a_batch():
    with pytest.raises(ValueError, match="at least one batch"):
        encode_segment("abcdefgh", [])


def test_a_keyframe_stored_as_a_difference_needs_its_own_base():
    from replay.codec import segment_body

    text = " ".join(f"plant-{n * 7919 % 10007}" for n in range(800))  # little to squeeze
    page = [{"type": 2, "timestamp": 1, "data": {"node": {"text": text}}}]
    later = [{"type": 2, "timestamp": 2, "data": {"node": {"text": text + "!"}}}]
    anchor = [pack_batch(3, page)]
    base = segment_body(anchor)
    delta = encode_segment("s", [pack_batch(9, later)], keyframe=True, base=("anchor.key", base))
    whole = encode_segment("s", [pack_batch(9, later)], keyframe=True)
    assert len(delta) < len(whole) / 10
    assert read_header(delta).base == "anchor.key"
    assert decode_segment(delta, base).events == later
    with pytest.raises(CodecError, match="needs its base"):
        decode_segment(delta)
    with pytest.raises(CodecError, match="needs no base"):
        decode_segment(whole, base)
    other = segment_body([pack_batch(3, [{"type": 2, "timestamp": 1, "data": {"x": "y" * 3500}}])])
    with pytest.raises(CodecError):  # never wrong events
        decode_segment(delta, other)
