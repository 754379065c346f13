"""The player's moments in Chromium: the session's records marked on the timeline and
listed beside the replay; choosing one plays it from a second before, and "only
friction" jumps from one friction moment to the next."""

from __future__ import annotations

import pytest

from replay.models import Session, TrackedEvent
from replay.records import track_session
from replay.storage import get_storage
from tests.recording import log_in
from tests.stored import store_at_pace
from tests.support import load_recording

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SESSION = "session-moments-01"


def test_moments_are_listed_marked_and_one_click_away(daphne, alices_shop, alice, page):
    store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    track_session(Session.objects.select_related("project").get(pk=SESSION), get_storage())
    log_in(page, daphne, "alice", "alice-password-1")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{daphne.url}/sessions/{SESSION}?t=0")
    page.wait_for_selector("#moments[data-ready=true]")

    assert page.locator(".timeline-marks .mark.moment.friction").count() == 3
    items = page.locator("#moments .moment")
    texts = items.all_inner_texts()
    assert any("Rage click" in t and "#buy" in t and "Buy now" in t for t in texts)
    assert any("Page view" in t for t in texts)
    assert any("Event" in t and "purchase" in t for t in texts)
    rage = page.locator("#moments .moment.friction", has_text="Rage click")
    assert rage.locator("a").get_attribute("href").endswith(f"/sessions/{SESSION}?t=21.7")
    page.screenshot(path=str(daphne.log_path.parent / "moments.png"))

    rage.locator("a").click()
    page.wait_for_function("() => window.replayPlayer.now() > 21000")
    assert 21000 < page.evaluate("window.replayPlayer.now()") < 24000
    assert page.url.endswith(f"/sessions/{SESSION}?t=0")  # played in place, no reload

    page.check("#only-friction")
    assert page.locator("#moments .moment").count() == 3
    page.evaluate("window.replayPlayer.seek(0, true)")
    # From the start, "only friction" skips to a second before the first dead click.
    page.wait_for_function("() => window.replayPlayer.now() > 19500", timeout=5000)
    assert page.evaluate("window.replayPlayer.now()") < 26000


def test_a_long_list_of_moments_arrives_in_pages_after_the_first_frame(
    daphne, alices_shop, alice, page
):
    store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    session = Session.objects.select_related("project").get(pk=SESSION)
    track_session(session, get_storage())
    start = session.first_event_ms or 0
    TrackedEvent.objects.bulk_create(
        TrackedEvent(
            project=alices_shop,
            session=session,
            ts=start + 10 * i,
            kind="click" if i % 2 else "scroll",  # scrolls are not listed: not fetched
            url="https://shop.alice.example/",
            name=f"button {i}",
        )
        for i in range(2600)
    )
    # (Console messages are the devtools drawer's; failed requests are moments.)
    shown = TrackedEvent.objects.filter(session=session).exclude(
        kind__in=["scroll", "input", "console"]
    )
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/sessions/{SESSION}?t=0")
    page.wait_for_selector("#moments[data-ready=true]", timeout=20000)
    assert page.locator("#moments .moment").count() == shown.count()
    tracked = [url for url in fetched if "/tracked" in url]
    assert len(tracked) == 2  # 1,300 clicks and the recording's own moments: two pages
    assert all("kind=" in url and "scroll" not in url for url in tracked)
    # (The devtools drawer's data also comes after the first frame.)
    later = ("/tracked", "/devtools")
    data = [url for url in fetched if "/api/" in url and not any(p in url for p in later)]
    assert fetched.index(tracked[0]) > max(fetched.index(url) for url in data)
