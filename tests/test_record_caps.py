"""What one session may make the server keep (replay/tracking.py, replay/signals.py):
at most MAX_RECORDS records of each kind and capped signals, so that a client within
every ingest limit cannot pile millions of records into memory, the checkpoint and the
database; what went over is counted on the session and said in the player, and friction
is not made up from what was not kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from replay.models import Session, TrackedEvent
from replay.quota import MAX_RECORDS
from replay.records import track_session
from replay.signals import MAX_POINTER
from replay.storage import get_storage
from replay.tracking import Extractor
from tests.stored import store_at_pace
from tests.test_records import as_user
from tests.test_records_passes import rows, store_more

T = 1_700_000_000_000
URL = "https://shop.alice.example/"


def page(ts: int) -> list[dict[str, Any]]:
    """Meta and FullSnapshot: a page with a button (node 10)."""
    button = {
        "type": 2,
        "tagName": "button",
        "attributes": {"id": "buy"},
        "childNodes": [],
        "id": 10,
    }
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [button], "id": 4}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [body], "id": 2}
    document = {"type": 0, "childNodes": [html], "id": 1}
    return [
        {"type": 4, "timestamp": ts, "data": {"href": URL, "width": 1280, "height": 800}},
        {
            "type": 2,
            "timestamp": ts,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        },
    ]


def click(ts: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": ts, "data": {"source": 2, "type": 2, "id": 10, "x": 5, "y": 5}}


def change(ts: int) -> dict[str, Any]:
    mutation = {
        "source": 0,
        "texts": [],
        "attributes": [{"id": 10, "attributes": {"class": str(ts)}}],
    }
    return {"type": 3, "timestamp": ts, "data": {**mutation, "removes": [], "adds": []}}


def custom(ts: int, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 5, "timestamp": ts, "data": {"tag": tag, "payload": payload}}


def test_a_session_keeps_at_most_max_records_of_a_kind_and_counts_the_rest():
    extractor = Extractor()
    events = page(T)
    for n in range(MAX_RECORDS + 300):  # each click answered by the page
        events += [click(T + 1000 + 10 * n), change(T + 1005 + 10 * n)]
    late = T + 1000 + 10 * (MAX_RECORDS + 300)
    events.append(custom(late, "replay/error", {"message": "TypeError: x is null"}))
    records = [r for e in events for r in extractor.feed(e)]
    clicks = [r for r in records if r.kind == "click"]
    assert len(clicks) == MAX_RECORDS
    assert clicks[-1].ts == T + 1000 + 10 * (MAX_RECORDS - 1)  # the first ones are kept
    assert extractor.quota.dropped == {"click": 300}
    assert extractor.cut == T + 1000 + 10 * MAX_RECORDS  # the first click not kept
    # Other kinds are not crowded out by one that went over.
    assert [r.data["message"] for r in records if r.kind == "error"] == ["TypeError: x is null"]


def flooded() -> list[dict[str, Any]]:
    """A page with a dead click at 1 s and a custom event at 4 s, then more pointer
    positions than a session keeps (5 s on) and more custom events (6 s on: 5,100 in
    all), then a click the page does not answer either (10 s), an error (15 s) and, to
    close the windows, a change (20 s)."""
    events = [*page(T), click(T + 1000), custom(T + 4000, "checkout", {})]
    for n in range(MAX_POINTER // 1000 + 1):
        moves = [{"x": 300, "y": 300, "id": 4, "timeOffset": 0}] * 1000  # resting
        events.append(
            {"type": 3, "timestamp": T + 5000 + n, "data": {"source": 1, "positions": moves}}
        )
    events += [custom(T + 6000 + n // 2, "spam", {"n": n}) for n in range(MAX_RECORDS + 99)]
    events += [click(T + 10_000), custom(T + 15_000, "replay/error", {"message": "boom"})]
    return [*events, change(T + 20_000)]


@pytest.mark.django_db
def test_a_flooded_session_is_tracked_within_its_caps_and_says_what_went_over(
    alices_shop, client: Client, alice
):
    store_at_pace(alices_shop, "session-flooded", flooded())
    session = Session.objects.select_related("project").get(pk="session-flooded")
    tracked = track_session(session, get_storage())
    kinds = {
        k: TrackedEvent.objects.filter(session=session, kind=k).count()
        for k in ("custom", "click", "error")
    }
    assert kinds == {"custom": MAX_RECORDS, "click": 2, "error": 1}
    # The dead click before the flood is found; the unanswered click after it is not a
    # dead click: the changes that would have answered it were no longer kept.
    found = TrackedEvent.objects.filter(session=session, kind="friction")
    assert [(f.name, f.ts) for f in found] == [("dead_click", T + 1000)]
    assert tracked.friction == 1
    session.refresh_from_db()
    assert session.records_dropped == {"custom": 100}

    summary = client.get("/api/sessions/session-flooded", **as_user("alice")).json()
    assert summary["records_dropped"] == {"custom": 100}
    client.force_login(alice)
    player = client.get("/sessions/session-flooded").content.decode()
    assert f"Records past {MAX_RECORDS:,} of a kind were not tracked: 100 custom records." in player


@pytest.mark.django_db
def test_passes_over_a_flooded_session_agree_with_one_from_the_start(alices_shop):
    events = flooded()
    middle = next(
        i for i, e in enumerate(events) if e["type"] == 5 and e["data"]["payload"].get("n") == 3000
    )
    for session_id in ("session-caps-step", "session-caps-once"):
        store_at_pace(alices_shop, session_id, events[:middle])
    step = Session.objects.select_related("project").get(pk="session-caps-step")
    track_session(step, get_storage())
    for session_id in ("session-caps-step", "session-caps-once"):
        store_more(session_id, events[middle:], per_batch=1000)
    later = track_session(step, get_storage())
    once = Session.objects.select_related("project").get(pk="session-caps-once")
    assert track_session(once, get_storage()) == later
    assert rows("session-caps-step") == rows("session-caps-once")
    dropped = Session.objects.filter(pk__in=["session-caps-step", "session-caps-once"])
    assert [s.records_dropped for s in dropped] == [{"custom": 100}] * 2
