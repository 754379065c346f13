"""Keyframes written for stored sessions: where, how often, and that the player can
start from any of them and see what a replay from the start shows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from replay.codec import decode_segment
from replay.keyframes import advance_keyframes, load_keyframe
from replay.models import Keyframe, Segment, Session
from replay.packs import locator
from replay.segments import MissingSegmentError, iter_events, read_segment
from replay.storage import get_storage
from tests.replayer import open_oracle, picture
from tests.stored import store_at_pace
from tests.support import load_recording

pytestmark = pytest.mark.django_db(transaction=True)


def record_at_pace(project: Any, session_id: str, name: str) -> list[dict[str, Any]]:
    """Store a corpus recording as the server does at real pace (see `store_at_pace`)."""
    return store_at_pace(project, session_id, load_recording(name))


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
        assert frame.key == frames[0].key  # one pack for the keyframes of one pass
        assert frame.key.startswith("packs/keyframes/")
        assert Segment.objects.filter(session=session, seq_end=frame.after_seq).exists()
        assert read_segment(frame, get_storage()).header.keyframe
        assert all(e.get("synthetic") for e in load_keyframe(frame, get_storage()))
    # Running again writes nothing new; the export is untouched by keyframes.
    assert advance_keyframes(session, get_storage(), interval_ms=10_000).written == 0
    assert not any(e.get("synthetic") for e in iter_events(session, get_storage()))


def test_keyframes_are_stored_as_differences_from_the_one_before(alices_shop):
    events = load_recording("spa")
    store_at_pace(alices_shop, "session-keys-0003", events)
    store_at_pace(alices_shop, "session-keys-0004", events)
    storage = get_storage()
    chained = Session.objects.get(pk="session-keys-0003")
    whole = Session.objects.get(pk="session-keys-0004")
    advance_keyframes(chained, storage, interval_ms=5_000, anchor_every=4)
    advance_keyframes(whole, storage, interval_ms=5_000, anchor_every=1)
    frames = list(Keyframe.objects.filter(session=chained).order_by("after_seq"))
    wholes = list(Keyframe.objects.filter(session=whole).order_by("after_seq"))
    assert len(frames) == len(wholes) >= 10
    # Every fourth is stored whole; the others on the one before: never a long chain.
    bases = [read_segment(frame, storage).header.base for frame in frames]
    assert bases == [
        None if n % 4 == 0 else locator(frames[n - 1].key, frames[n - 1].offset, frames[n - 1].size)
        for n in range(len(frames))
    ]
    assert all(read_segment(frame, storage).header.base is None for frame in wholes)
    # Read back, a difference is the keyframe itself; stored, a fraction of it.
    for frame, alone in zip(frames, wholes, strict=True):
        assert load_keyframe(frame, storage) == load_keyframe(alone, storage)
    differences = [f for f, base in zip(frames, bases, strict=True) if base is not None]
    alone_sizes = {f.after_seq: f.size for f in wholes}
    stored = sum(f.size for f in differences)
    assert stored < 0.3 * sum(alone_sizes[f.after_seq] for f in differences)
    # Advancing later goes on from the last keyframe and its place in the chain.
    Keyframe.objects.filter(pk__in=[f.pk for f in frames[-3:]]).delete()
    advance_keyframes(chained, storage, interval_ms=5_000, anchor_every=4)
    again = list(Keyframe.objects.filter(session=chained).order_by("after_seq"))
    assert [read_segment(f, storage).header.base is None for f in again] == [
        base is None for base in bases
    ]
    assert again[-3].key != frames[0].key  # in a pack of their own, on those before
    assert load_keyframe(again[-1], storage) == load_keyframe(wholes[-1], storage)
    # A keyframe gone from storage: those on it cannot be read, and say so.
    on_old = next(
        f
        for f in again[-3:]
        if (read_segment(f, storage).header.base or "").startswith(frames[0].key)
    )
    storage.delete(frames[0].key)
    with pytest.raises(MissingSegmentError):
        load_keyframe(on_old, storage)
    assert load_keyframe(wholes[4], storage) == load_keyframe(wholes[4], storage)


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
