"""The event scanner validates batches and reads their facts without building events."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.scan import ScanError, scan_events
from tests.support import CORPUS, load_recording


@pytest.mark.parametrize("name", CORPUS)
def test_a_recording_scans_to_its_facts(name):
    events = load_recording(name)
    found = scan_events(msgpack.packb(events), max_events=10**6)
    assert found.count == len(events)
    assert found.first_ts == min(e["timestamp"] for e in events)
    assert found.last_ts == max(e["timestamp"] for e in events)
    assert list(found.urls) == [e["data"]["href"] for e in events if e["type"] == 4]


def test_navigation_and_identify_events_are_read_in_any_key_order():
    events = [
        {
            "data": {"tag": "replay/navigation", "payload": {"href": "https://a.test/x"}},
            "timestamp": 5,
            "type": 5,
        },
        {
            "timestamp": 6,
            "type": 5,
            "data": {"payload": {"id": "user-7", "traits": {}}, "tag": "replay/identify"},
        },
        {"type": 5, "timestamp": 7, "data": {"tag": "purchase", "payload": {"href": "ignored"}}},
    ]
    found = scan_events(msgpack.packb(events), max_events=10)
    assert found.urls == ("https://a.test/x",)
    assert found.user_id == "user-7"
    assert (found.first_ts, found.last_ts) == (5, 7)


@pytest.mark.parametrize(
    ("packed", "message"),
    [
        (msgpack.packb({"not": "a list"}), "must be a list"),
        (msgpack.packb([1]), "event 0 is not a map"),
        (msgpack.packb([{"timestamp": 1}]), "no integer type"),
        (msgpack.packb([{"type": True, "timestamp": 1}]), "no integer type"),
        (msgpack.packb([{"type": 3, "timestamp": "soon"}]), "no timestamp in milliseconds"),
        (msgpack.packb([{"type": 3, "timestamp": 1}])[:-1], "truncated"),
        (msgpack.packb([{"type": 3, "timestamp": 1}]) + b"\x00", "extra bytes"),
    ],
)
def test_malformed_batches_are_refused_with_a_reason(packed, message):
    with pytest.raises(ScanError, match=message):
        scan_events(packed, max_events=10)


def test_too_many_events_is_its_own_refusal():
    with pytest.raises(ScanError) as refused:
        scan_events(msgpack.packb([{"type": 3, "timestamp": i} for i in range(11)]), max_events=10)
    assert refused.value.too_large


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_are_refused_or_scanned_never_crash(data):
    try:
        found = scan_events(data, max_events=100)
    except ScanError:
        return
    assert found.count <= 100
