"""The real recorder asked for a snapshot: when a page does something the server's
mirror cannot reproduce (canvas drawing), the server writes no keyframe from it, asks
the recorder for a real full snapshot over the WebSocket, and keyframes resume after it.
What is stored stays exactly what the page produced."""

from __future__ import annotations

import time
from typing import Any

import pytest

from replay.models import Keyframe, Project
from tests.recording import FLUSH, assert_stored_as_produced, export, open_demo
from tests.test_browser_faults import wiggle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CANVAS_DRAWING = """() => window.__emit({
  type: 3,
  timestamp: Date.now(),
  data: { source: 9, id: 1, type: 0, commands: [{ property: 'fillRect', args: [0, 0, 5, 5] }] },
})"""


def snapshots(page: Any) -> int:
    return int(page.evaluate("window.__produced.filter((e) => e.type === 2).length"))


def test_canvas_drawing_gets_a_real_snapshot_and_keyframes_resume(start_daphne, alice, page):
    daphne = start_daphne(REPLAY_KEYFRAME_SECONDS="1")
    Project.objects.create(name="Demo shop", allowed_origins=[daphne.url], scrub=False).members.add(
        alice
    )
    session_id = open_demo(page, daphne.url)
    wiggle(page, 10)
    page.evaluate(FLUSH)
    assert snapshots(page) == 1
    page.evaluate(CANVAS_DRAWING)
    drawn_at = int(page.evaluate("Date.now()"))
    # Recording goes on; once a keyframe is due, the server asks for a snapshot.
    deadline = time.monotonic() + 20
    while snapshots(page) < 2 and time.monotonic() < deadline:
        wiggle(page, 3)
        page.evaluate(FLUSH)
    assert snapshots(page) == 2
    resynced_at = page.evaluate("window.__produced.filter((e) => e.type === 2)[1].timestamp")
    assert resynced_at > drawn_at
    # From the real snapshot on, the mirror is exact again: keyframes follow it.
    keyframes = Keyframe.objects.filter(session_id=session_id)
    deadline = time.monotonic() + 20
    while not keyframes.filter(timestamp__gt=resynced_at).exists():
        assert time.monotonic() < deadline, "no keyframe after the snapshot"
        wiggle(page, 3)
        page.evaluate(FLUSH)
    # None between the drawing and the snapshot: it would have been wrong.
    assert not keyframes.filter(timestamp__gte=drawn_at, timestamp__lt=resynced_at).exists()
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
