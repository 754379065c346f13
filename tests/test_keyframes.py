"""Keyframes written for stored sessions: where, how often, and that the player can
start from any of them and see what a replay from the start shows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ingest.commit import commit_batches
from ingest.plan import Received
from ingest.scan import scan_events
from replay.codec import decode_segment, pack_batch
from replay.keyframes import advance_keyframes, keyframe_key, load_keyframe
from replay.models import Keyframe, Segment, Session
from replay.segments import MissingSegmentError, iter_events, read_segment
from replay.storage import get_storage
from tests.replayer import open_oracle, picture
from tests.support import load_recording, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def record_at_pace(project: Any, session_id: str, name: str) -> list[dict[str, Any]]:
    """Store a corpus recording as the server does at real pace (see `store_at_pace`)."""
    return store_at_pace(project, session_id, load_recording(name))


def store_at_pace(
    project: Any, session_id: str, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Store events as the server does at real pace: a batch and a segment per second
    of recording time."""
    start_session(project, session_id)
    start = events[0]["timestamp"]
    seconds: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        seconds.setdefault(int((event["timestamp"] - start) // 1000), []).append(event)
    for seq, second in enumerate(sorted(seconds)):
        packed = pack_batch(seq, seconds[second]).packed
        received = Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))
        commit_batches(session_id, [received], get_storage(), max_session_bytes=10**9)
    return events


def test_keyframes_come_every_interval_and_say_what_they_follow(alices_shop):
    record_at_pace(alices_shop, "session-keys-0001", "spa")
    session = Session.objects.get(pk="session-keys-0001")
    result = advance_keyframes(session, get_storage(), interval_ms=10_000)
    frames = list(Keyframe.objects.filter(session=session))
    assert result.written == len(frames) >= 4  # a 59 s recording, every 10 s
    assert session.first_event_ms is not None
    times = [session.first_event_ms, *(f.timestamp for f in frames)]
    assert all(10_000 <= b - a < 12_000 for a, b in itertools.pairwise(times))
    for frame in frames:
        assert frame.key == keyframe_key(session.pk, frame.after_seq)
        assert Segment.objects.filter(session=session, seq_end=frame.after_seq).exists()
        assert read_segment(frame, get_storage()).header.keyframe
        assert all(e.get("synthetic") for e in load_keyframe(frame, get_storage()))
    # Running again writes nothing new; the export is untouched by keyframes.
    assert advance_keyframes(session, get_storage(), interval_ms=10_000).written == 0
    assert not any(e.get("synthetic") for e in iter_events(session, get_storage()))


def test_keyframes_are_stored_as_differences_from_an_anchor(alices_shop):
    events = load_recording("spa")
    store_at_pace(alices_shop, "session-keys-0003", events)
    store_at_pace(alices_shop, "session-keys-0004", events)
    storage = get_storage()
    anchored = Session.objects.get(pk="session-keys-0003")
    whole = Session.objects.get(pk="session-keys-0004")
    advance_keyframes(anchored, storage, interval_ms=5_000, anchor_intervals=4)
    advance_keyframes(whole, storage, interval_ms=5_000, anchor_intervals=0)
    frames = list(Keyframe.objects.filter(session=anchored).order_by("after_seq"))
    wholes = list(Keyframe.objects.filter(session=whole).order_by("after_seq"))
    assert len(frames) == len(wholes) >= 10
    bases = [read_segment(frame, storage).header.base for frame in frames]
    # A new anchor once 4 intervals have passed since the last: never a chain.
    anchors = [frame for frame, base in zip(frames, bases, strict=True) if base is None]
    assert anchors[0] == frames[0]
    assert len(anchors) >= 3
    for frame, base in zip(frames, bases, strict=True):
        anchor = max(
            (a for a in anchors if a.after_seq <= frame.after_seq), key=lambda a: a.after_seq
        )
        assert base in (None, anchor.key)
        assert frame.timestamp - anchor.timestamp < 4 * 5_000 + 2_000
    # Read back, a difference is the keyframe itself; stored, a fraction of it.
    for frame, alone in zip(frames, wholes, strict=True):
        assert load_keyframe(frame, storage) == load_keyframe(alone, storage)
    deltas = [f for f, base in zip(frames, bases, strict=True) if base is not None]
    alone_sizes = {f.after_seq: f.size for f in wholes}
    assert sum(f.size for f in deltas) < 0.3 * sum(alone_sizes[f.after_seq] for f in deltas)
    # Advancing later goes on from the last keyframe's anchor.
    Keyframe.objects.filter(pk__in=[f.pk for f in frames[-3:]]).delete()
    advance_keyframes(anchored, storage, interval_ms=5_000, anchor_intervals=4)
    again = list(Keyframe.objects.filter(session=anchored).order_by("after_seq"))
    assert [read_segment(f, storage).header.base for f in again] == bases
    # An anchor gone from storage: its differences cannot be read, and say so.
    storage.delete(anchors[0].key)
    with pytest.raises(MissingSegmentError):
        load_keyframe(frames[1], storage)


@pytest.mark.browser
def test_the_player_can_start_from_any_stored_keyframe(alices_shop, browser):
    events = record_at_pace(alices_shop, "session-keys-0002", "spa")
    session = Session.objects.get(pk="session-keys-0002")
    advance_keyframes(session, get_storage(), interval_ms=15_000)
    oracle = open_oracle(browser)
    start = events[0]["timestamp"]
    try:
        for frame in Keyframe.objects.filter(session=session):
            after = [
                e
                for row in Segment.objects.filter(session=session, seq_start__gt=frame.after_seq)
                for e in decode_segment(get_storage().get(row.key) or b"").events
            ]
            moment = frame.timestamp + 2_500.5
            whole = picture(oracle, events, moment - start)
            from_keyframe = picture(
                oracle, load_keyframe(frame, get_storage()) + after, moment - frame.timestamp
            )
            assert from_keyframe == whole
    finally:
        oracle.close()
