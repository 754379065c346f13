"""The player opens a moment from the keyframe before it: it fetches that keyframe and
the segments after it, not the recording from its start, and shows what a replay from
the start shows at that moment."""

from __future__ import annotations

from typing import Any

import pytest

from replay.keyframes import advance_keyframes
from replay.models import AuditEntry, Keyframe, Session
from replay.storage import get_storage
from tests.recording import log_in
from tests.replayer import open_oracle, picture, shown
from tests.test_keyframes import record_at_pace
from tests.test_mirror_replay import difference

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def without_hover(picture: Any) -> Any:
    """The picture without the replayer's simulated `:hover` classes, which follow its
    cursor rather than the recorded page (the cursor itself is compared elsewhere)."""
    if isinstance(picture, dict):
        cleaned = {key: without_hover(value) for key, value in picture.items()}
        if isinstance(cleaned.get("attrs"), dict) and "class" in cleaned["attrs"]:
            attrs = dict(cleaned["attrs"])
            classes = [c for c in attrs.pop("class").split() if c != ":hover"]
            if classes:
                attrs["class"] = " ".join(classes)
            cleaned["attrs"] = attrs
        return cleaned
    if isinstance(picture, list):
        return [without_hover(item) for item in picture]
    return picture


def test_opening_a_late_moment_loads_one_keyframe_and_what_follows(
    daphne, alice, alices_shop, browser
):
    events = record_at_pace(alices_shop, "session-seek-0001", "spa")
    session = Session.objects.get(pk="session-seek-0001")
    advance_keyframes(session, get_storage(), interval_ms=10_000)
    frames = list(Keyframe.objects.filter(session=session))
    start = events[0]["timestamp"]
    moment = 52.3  # seconds in: after the last keyframe
    last = max(
        (f for f in frames if f.timestamp <= start + moment * 1000), key=lambda f: f.timestamp
    )

    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    requests: list[str] = []
    viewer.on("request", lambda request: requests.append(request.url))
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{session.id}?t={moment}")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    viewer.wait_for_timeout(200)  # the replayer applies the cursor's hover after a pause
    fetched = [
        url.split("/api/sessions/session-seek-0001/")[1]
        for url in requests
        if "/api/sessions/" in url
    ]
    assert f"keyframes/{last.after_seq}" in fetched
    segments = [
        int(part.split("/")[1].split("?")[0]) for part in fetched if part.startswith("segments/")
    ]
    assert segments
    assert min(segments) > last.after_seq
    assert "events" not in fetched  # never the whole export

    oracle = open_oracle(browser)
    try:
        whole = picture(oracle, events, moment * 1000)
    finally:
        oracle.close()
    problem = difference(without_hover(shown(viewer, "#stage iframe")), without_hover(whole))
    assert problem is None, problem

    # The link for a bug report comes from the server, which notes who shared what.
    viewer.click("#copy-link")
    viewer.wait_for_function(
        "() => document.getElementById('copy-link').textContent !== 'Copy link at this moment'"
    )
    shared = AuditEntry.objects.get(session_id=session.id, action="share")
    assert (shared.username, shared.detail) == ("alice", {"t": moment})
    assert f"t={moment}" in viewer.url

    # Seeking back to the start loads from the beginning and shows the start.
    viewer.evaluate("window.replayPlayer.seek(1500, false)")
    viewer.wait_for_timeout(300)
    oracle = open_oracle(browser)
    try:
        early = picture(oracle, events, 1500)
    finally:
        oracle.close()
    problem = difference(without_hover(shown(viewer, "#stage iframe")), without_hover(early))
    assert problem is None, problem
    viewer.close()


def test_long_play_lets_go_of_what_is_far_behind(daphne, alice, alices_shop, browser):
    events = record_at_pace(alices_shop, "session-trim-0001", "spa")
    session = Session.objects.get(pk="session-trim-0001")
    advance_keyframes(session, get_storage(), interval_ms=10_000)
    start = events[0]["timestamp"]

    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{session.id}?t=0")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    # Keep 5 s behind the playhead rather than a minute, so a 59 s recording shows it.
    viewer.evaluate("window.ReplayInternals.KEEP_BEHIND_MS = 5000")
    viewer.select_option("#speed", "8")
    viewer.click("#play")
    # (Trimming runs while it plays, when it can: on a busy machine, wait for it.) It
    # pauses as soon as it has: played to its end, a click on Play would start it over.
    viewer.wait_for_function(
        f"""() => {{
          const player = window.replayPlayer;
          const trimmed = player.now() > 45000 &&
            (player.held()[0] || {{}}).timestamp > {start + 25_000};
          if (trimmed && player.playing()) document.querySelector('#play').click();
          return trimmed;
        }}""",
        timeout=30000,
    )
    held = viewer.evaluate(
        "window.replayPlayer.held().map(e => [e.type, e.timestamp, !!e.synthetic])"
    )
    at = viewer.evaluate("window.replayPlayer.now()")
    # What the Replayer holds starts with a keyframe (or a page load) a little behind
    # the playhead, not at the start of the recording.
    assert held[0][0] == 4
    assert start + 25_000 < held[0][1] <= start + at
    assert len(held) < len(events) * 2 // 3
    assert [t for _, t, _ in held] == sorted(t for _, t, _ in held)

    oracle = open_oracle(browser)
    try:
        for moment in (at - 2_000, 12_000.0):  # within what is kept; before it
            viewer.evaluate(f"window.replayPlayer.seek({moment}, false)")
            viewer.wait_for_timeout(300)
            expected = picture(oracle, events, moment)
            problem = difference(
                without_hover(shown(viewer, "#stage iframe")), without_hover(expected)
            )
            assert problem is None, (moment, problem)
    finally:
        oracle.close()
    viewer.close()
