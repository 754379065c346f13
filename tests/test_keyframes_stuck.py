"""A page the keyframer's mirror cannot reproduce (canvas drawing, nodes past the cap, no
full snapshot yet) gets no keyframe until its next real full snapshot: the keyframer
reads none of what comes before that snapshot, in one pass or the next ones, so that a
long canvas session costs each pass what came since, not the whole session again."""

from __future__ import annotations

from typing import Any

import pytest

from replay.keyframes import advance_keyframes, load_keyframe
from replay.mirror import Mirror, keyframe
from replay.models import Keyframe, Segment, Session
from replay.packs import erase, parts_of
from replay.storage import get_storage
from tests.support import start_session
from tests.test_record_caps import T, change, page

pytestmark = pytest.mark.django_db(transaction=True)

SESSION = "session-canvas-long"


def drawing(ts: int) -> dict[str, Any]:
    commands = [{"property": "fillRect", "args": [0, 0, 10, 10]}]
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 9, "id": 10, "type": 0, "commands": commands},
    }


def store(project: Any, events: list[dict[str, Any]], seq: int) -> int:
    """Store events as the server does, a batch (and segment) per second of recording,
    numbered from `seq`; the next batch's number."""
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch

    if seq == 0:
        start_session(project, SESSION)
    seconds: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        seconds.setdefault(event["timestamp"] // 1000, []).append(event)
    for second in sorted(seconds):
        packed = pack_batch(seq, seconds[second]).packed
        received = Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))
        commit_batches(SESSION, [received], get_storage(), max_session_bytes=10**9)
        seq += 1
    return seq


def changes(start: int, seconds: int) -> list[dict[str, Any]]:
    return [change(start + 250 * n) for n in range(seconds * 4)]


def replayed(events: list[dict[str, Any]], at: int) -> Any:
    """The keyframe of a mirror given `events` up to `at`, one by one."""
    mirror = Mirror()
    for event in events:
        if event["timestamp"] <= at:
            mirror.apply(event)
    return keyframe(mirror, at)


def session() -> Session:
    return Session.objects.get(pk=SESSION)


def test_a_canvas_page_is_read_once_and_keyframed_again_from_its_next_snapshot(alices_shop):
    storage = get_storage()
    # 20 s of a page that draws on a canvas: no exact keyframe, the recorder is asked.
    seq = store(alices_shop, [*page(T), drawing(T + 500), *changes(T + 1000, 19)], 0)
    first = advance_keyframes(session(), storage, interval_ms=5_000)
    assert (first.written, first.inexact) == (0, "canvas drawing")
    assert (session().keyframe_stuck_seq, session().keyframe_stuck) == (seq - 1, "canvas drawing")

    # What was read is not read again: the next pass reads only the 20 s that came since
    # (the segments before are made unreadable to prove it), and still asks for a snapshot.
    read = list(Segment.objects.filter(session=SESSION))
    erase(parts_of(read), storage)
    seq = store(alices_shop, changes(T + 20_000, 20), seq)
    second = advance_keyframes(session(), storage, interval_ms=5_000)
    assert (second.written, second.inexact) == (0, "canvas drawing")
    assert session().keyframe_stuck_seq == seq - 1
    assert (session().keyframe_ms or 0) >= T + 35_000  # not due again for an interval

    # The recorder snapshots: keyframes come again, the page as replayed from there.
    snapshot_at = T + 40_000
    after = [*page(snapshot_at), *changes(snapshot_at + 1000, 12)]
    store(alices_shop, after, seq)
    third = advance_keyframes(session(), storage, interval_ms=5_000)
    assert third.written >= 2
    assert third.inexact is None
    assert (session().keyframe_stuck_seq, session().keyframe_stuck) == (None, "")
    for frame in Keyframe.objects.filter(session=SESSION):
        assert load_keyframe(frame, storage) == replayed(after, frame.timestamp)


def test_one_pass_skips_a_stuck_stretch_and_writes_what_comes_after_it(alices_shop):
    """The whole session in one pass: 30 s of a canvas page, a reload, 20 s more."""
    events = [*page(T), drawing(T + 500), *changes(T + 1000, 29)]
    reloaded = [*page(T + 30_000), *changes(T + 31_000, 19)]
    store(alices_shop, [*events, *reloaded], 0)
    result = advance_keyframes(session(), get_storage(), interval_ms=5_000)
    frames = list(Keyframe.objects.filter(session=SESSION).order_by("after_seq"))
    assert result.written == len(frames) >= 3
    assert all(frame.timestamp > T + 30_000 for frame in frames)
    assert session().keyframe_stuck_seq is None
    # Each is what a replay of the whole session shows at its moment.
    for frame in frames:
        assert load_keyframe(frame, get_storage()) == replayed(events + reloaded, frame.timestamp)


def test_a_page_without_a_snapshot_waits_for_one(alices_shop):
    """A recording whose first snapshot was lost: nothing to write until one comes."""
    seq = store(alices_shop, changes(T, 12), 0)
    assert advance_keyframes(session(), get_storage(), interval_ms=5_000).written == 0
    assert session().keyframe_stuck_seq == seq - 1
    store(alices_shop, [*page(T + 12_000), *changes(T + 13_000, 12)], seq)
    assert advance_keyframes(session(), get_storage(), interval_ms=5_000).written >= 2
    assert session().keyframe_stuck_seq is None
