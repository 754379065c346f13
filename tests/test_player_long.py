"""Opening moments of long recordings by link: the player must show what rrweb's own
Replayer shows after replaying the whole recording to the same moment, at moments just
after page loads, around keyframes, after iframe and style sheet changes, and at the
end; whether the session was stored a second at a time or in large backlogs, and
whether its keyframes are written yet or not."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.commit import commit_batches
from ingest.plan import Received
from ingest.scan import scan_events
from replay.codec import pack_batch
from replay.keyframes import advance_keyframes
from replay.models import Keyframe, Session
from replay.storage import get_storage
from tests.recording import log_in
from tests.replayer import hold, open_oracle, picture, shown
from tests.support import load_recording, start_session
from tests.test_mirror_replay import difference
from tests.test_player_seek import without_hover

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

INCREMENTAL, STYLE_RULE, STYLE_DECLARATION, ADOPTED = 3, 8, 13, 15


def store(project: Any, session_id: str, events: list[dict[str, Any]], seconds: int) -> None:
    """Store `events` as ingest does: a batch per second of recording, and a segment
    per `seconds` of them (1: a recorder at pace; more: a backlog sent at once)."""
    start_session(project, session_id)
    start = events[0]["timestamp"]
    by_second: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_second.setdefault(int((event["timestamp"] - start) // 1000), []).append(event)
    received = []
    for seq, second in enumerate(sorted(by_second)):
        packed = pack_batch(seq, by_second[second]).packed
        scanned = scan_events(packed, max_events=10**6)
        received.append((second, Received.scanned(seq, packed, scanned, len(packed))))
    groups: dict[int, list[Received]] = {}
    for second, batch in received:
        groups.setdefault(second // seconds, []).append(batch)
    for group in sorted(groups):
        commit_batches(session_id, groups[group], get_storage(), max_session_bytes=10**10)


def moments(events: list[dict[str, Any]], frames: list[int], count: int) -> list[float]:
    """`count` milliseconds from the start to open, spread over: just after each page load
    (and after what follows its snapshot at the same time), around keyframes, after style
    sheet and adopted sheet changes. Half milliseconds, so that no event sits exactly at
    one. Half the count picks every other of the same choices."""
    start = events[0]["timestamp"]
    loads = [e["timestamp"] - start for e in events if e["type"] == 4]
    sheets = [
        e["timestamp"] - start
        for e in events
        if e["type"] == INCREMENTAL
        and e["data"].get("source") in {STYLE_RULE, STYLE_DECLARATION, ADOPTED}
    ]
    chosen = {500.5, 60_000.5}
    for load in loads[1:]:
        chosen |= {load + 0.5, load + 1.5}
    for frame in frames[2 :: max(1, len(frames) // 2)]:
        chosen |= {frame - start - 0.5, frame - start + 0.5}
    chosen |= {at + 0.5 for at in sheets[1 :: max(1, len(sheets) // 3)]}
    ordered = sorted(chosen)
    return (
        [ordered[i * len(ordered) // count] for i in range(count)]
        if len(ordered) > count
        else ordered
    )


def half_hour() -> list[dict[str, Any]]:
    """A 30-minute recording: the long one three times over, each time a new page load
    of the same page (rrweb starts every page load over with a Meta and a snapshot)."""
    once = load_recording("long-10min")
    span = once[-1]["timestamp"] - once[0]["timestamp"] + 1000
    return [
        {**event, "timestamp": event["timestamp"] + n * span} for n in range(3) for event in once
    ]


# What rrweb's Replayer shows at each moment of a recording, kept across the layouts.
_seen: dict[tuple[str, float], Any] = {}


# The backlog and bare layouts store the same ten minutes as the pace, in other ways: they
# open every other one of its moments (each opening costs seconds), the half hour three
# quarters as many.
@pytest.mark.parametrize(
    ("recording", "layout", "keyframes", "count"),
    [
        ("10min", 1, True, 16),
        ("10min", 60, True, 8),
        ("10min", 60, False, 8),
        ("30min", 1, True, 12),
    ],
    ids=["pace", "backlog", "bare", "half-hour"],
)
def test_every_moment_of_a_long_recording_opens_as_replayed_from_the_start(
    daphne, alice, alices_shop, browser, recording, layout, keyframes, count
):
    events = load_recording("long-10min") if recording == "10min" else half_hour()
    store(alices_shop, "session-long-0001", events, layout)
    session = Session.objects.get(pk="session-long-0001")
    if keyframes:
        advance_keyframes(session, get_storage(), interval_ms=30_000)
    frames = list(Keyframe.objects.filter(session=session).values_list("timestamp", flat=True))
    assert bool(frames) == keyframes
    start, end = events[0]["timestamp"], events[-1]["timestamp"]
    wanted = moments(events, frames, count)
    assert len(wanted) == count

    oracle = open_oracle(browser)
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(viewer, daphne, "alice", "alice-password-1")
    problems: list[tuple[float | None, str]] = []
    try:
        if any((recording, at) not in _seen for at in wanted):
            hold(oracle, events)
        for at in [*wanted, None]:  # None: the end, as the player's "end" shows it
            link = f"{at / 1000:.4f}" if at is not None else f"{(end - start) / 1000 + 60:.1f}"
            viewer.goto(f"{daphne.url}/sessions/{session.id}?t={link}")
            viewer.wait_for_selector("#stage[data-ready=true]", timeout=30000)
            viewer.wait_for_timeout(100)
            offset = at if at is not None else end - start + 1
            if (recording, offset) not in _seen:
                _seen[recording, offset] = picture(oracle, None, offset)
            expected = _seen[recording, offset]
            problem = difference(
                without_hover(shown(viewer, "#stage iframe")), without_hover(expected)
            )
            if problem:
                problems.append((at, problem[:300]))
    finally:
        oracle.close()
        viewer.close()
    assert problems == []


def test_a_page_load_whose_meta_ends_the_segment_before_opens_without_a_keyframe(
    daphne, alice, alices_shop, browser
):
    """The second page's Meta is the last event of one segment and its snapshot opens the
    next (a batch cut between the two); no keyframes are written yet."""
    events = load_recording("routes")
    meta = next(i for i, e in enumerate(events) if i > 2 and e["type"] == 4)
    start_session(alices_shop, "session-split-001")
    for seq, part in enumerate([events[: meta + 1], events[meta + 1 :]]):
        packed = pack_batch(seq, part).packed
        scanned = scan_events(packed, max_events=10**6)
        received = [Received.scanned(seq, packed, scanned, len(packed))]
        commit_batches("session-split-001", received, get_storage(), max_session_bytes=10**9)
    moment = events[meta]["timestamp"] - events[0]["timestamp"] + 1500.5

    oracle = open_oracle(browser)
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        log_in(viewer, daphne, "alice", "alice-password-1")
        viewer.goto(f"{daphne.url}/sessions/session-split-001?t={moment / 1000:.4f}")
        viewer.wait_for_selector("#stage[data-ready=true]", timeout=30000)
        viewer.wait_for_timeout(100)
        held = viewer.evaluate("window.replayPlayer.held().map(e => e.type)")
        assert held[:2] == [4, 2]  # it starts at the page load's Meta, from the segment before
        expected = picture(oracle, events, moment)
        problem = difference(without_hover(shown(viewer, "#stage iframe")), without_hover(expected))
        assert problem is None, problem
    finally:
        oracle.close()
        viewer.close()
