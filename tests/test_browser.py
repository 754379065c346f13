"""End to end in real headless Chromium: the demo shop records itself through the real
recorder into a real Daphne process, and the player page replays it."""

from __future__ import annotations

import json
import time

import pytest

from replay.models import Session
from tests.recording import (
    FLUSH,
    KEPT,
    TYPED,
    assert_stored_as_produced,
    come_back_after_the_server_was_down,
    export,
    gift_id,
    kept,
    kept_batches,
    log_in,
    record_while_the_server_is_down,
    shop_and_buy,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_demo_is_recorded_masked_and_replayed_to_its_final_state(
    daphne, shop, alice, page, browser
):
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    shop_and_buy(page)
    flushed = page.evaluate(FLUSH)
    session_id = page.evaluate("replay.sessionId()")
    events = export(daphne, alice, session_id)
    assert_stored_as_produced(events, page, flushed)
    text = json.dumps(events)
    for typed in TYPED.values():
        assert typed not in text
        assert typed.replace(" ", "") not in text
    assert "Alice" not in text
    inputs = [e["data"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]
    typed_into = [i for i in inputs if i["id"] != gift_id(events)]
    assert typed_into
    assert all(set(i["text"]) <= {"*"} for i in typed_into)
    assert {e["type"] for e in events} >= {2, 3, 4, 5}  # snapshot, interactions, meta, custom

    session = Session.objects.get(pk=session_id)
    assert session.urls == [f"{daphne.url}/demo/"]
    # The session counts what it stored. (The page may still send an event after the
    # flush, a blur or a move: the two are compared once nothing more came in between.)
    counted, stored = session.event_count, len(events)
    for _ in range(20):
        if counted == stored:
            break
        time.sleep(0.25)
        counted = Session.objects.get(pk=session_id).event_count
        stored = len(export(daphne, alice, session_id))
    assert counted == stored

    # The player, opened at the end, shows the order confirmation.
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(viewer, daphne, "alice", "alice-password-1")
    end = (events[-1]["timestamp"] - events[0]["timestamp"]) / 1000 + 1
    viewer.goto(f"{daphne.url}/sessions/{session_id}?t={end:.1f}")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    replayed = viewer.frame_locator("#stage iframe")
    replayed.locator("#confirmation").wait_for(state="visible", timeout=10000)
    assert "Order confirmed" in replayed.locator("#confirmation").inner_text()
    assert replayed.locator("#cart-count").inner_text() == "2"
    assert replayed.locator("#form-error").is_hidden()
    assert (
        viewer.locator("#time-current").inner_text() == viewer.locator("#time-total").inner_text()
    )
    # Recorded scripts never run in the replay: its iframe allows same-origin access only.
    assert viewer.locator("#stage iframe").get_attribute("sandbox") == "allow-same-origin"
    viewer.close()


def test_a_page_load_continues_the_session_and_its_sequence(daphne, shop, alice, page):
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    page.click("#add-fern")
    page.evaluate(FLUSH)
    first_id = page.evaluate("replay.sessionId()")
    before_reload = page.evaluate("window.__produced")
    stored_before = export(daphne, alice, first_id)

    page.reload()
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    page.click("#add-monstera")
    page.evaluate("history.pushState({}, '', '/demo/checkout')")
    page.evaluate("replay.identify('customer-17', {plan: 'pro'})")
    page.evaluate("replay.track('coupon-tried', {code: 'SPRING'})")
    flushed = page.evaluate(FLUSH)
    assert page.evaluate("replay.sessionId()") == first_id

    events = export(daphne, alice, first_id)
    # The first page's tail went out with the reload (beacon or the resend from
    # sessionStorage); either way it is stored once, before the second page's events.
    assert len(stored_before) <= len(before_reload) < flushed
    assert_stored_as_produced(events, page, flushed)
    assert [e["type"] for e in events].count(4) == 2  # a Meta per page load
    session = Session.objects.get(pk=first_id)
    assert session.urls == [f"{daphne.url}/demo/", f"{daphne.url}/demo/checkout"]
    assert session.user_id == "customer-17"
    tags = [e["data"]["tag"] for e in events if e["type"] == 5]
    assert "coupon-tried" in tags
    assert "replay/navigation" in tags
    assert page.evaluate("replay.replayUrl()").startswith(f"{daphne.url}/sessions/{first_id}?t=")


def test_batches_recorded_while_the_server_is_down_are_resent_after_it_returns(
    daphne, shop, alice, page
):
    session_id = record_while_the_server_is_down(page, daphne)
    page.click("#add-fern")
    page.click("#add-cactus")
    page.wait_for_timeout(1500)  # a batch or two are cut and fail to send
    pending = len(kept(page, shop.key)["unacked"])
    assert pending >= 1  # kept for resending, in sessionStorage too
    daphne.start()  # same port: the recorder reconnects with backoff and resends

    flushed = page.evaluate(FLUSH)
    events = export(daphne, alice, session_id)
    assert_stored_as_produced(events, page, flushed)
    assert kept(page, shop.key)["unacked"] == []


def test_batches_kept_compressed_while_the_server_is_down_are_sent_by_the_next_page(
    daphne, shop, alice, page
):
    # What the tab keeps for a later page is each batch's compressed frame, a fraction of
    # its events' JSON: sessionStorage holds that much more of an outage, and writing it
    # costs the page less.
    session_id = record_while_the_server_is_down(page, daphne)
    for _ in range(3):
        page.click("#add-fern")
        page.click("#add-cactus")
        page.wait_for_timeout(600)  # a batch each time, which fails to send
    stored = page.evaluate(KEPT, f"replay:{shop.key}")
    batches = kept_batches(stored)
    frames = [batch for batch in batches if batch["frame"]]
    assert len(frames) >= 2
    produced = page.evaluate("window.__produced")
    assert all(event in produced for batch in frames for event in batch["events"])
    as_events = sum(len(json.dumps(batch["events"])) for batch in batches)
    assert len(stored) < as_events / 2

    come_back_after_the_server_was_down(page, daphne)
    assert page.evaluate("replay.sessionId()") == session_id
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert kept(page, shop.key)["unacked"] == []


# Counts the characters the page writes to sessionStorage under the recorder's keys.
COUNT_WRITES = """(() => {
  const write = Storage.prototype.setItem;
  window.__written = 0;
  Storage.prototype.setItem = function (name, value) {
    if (String(name).startsWith('replay:')) window.__written += String(value).length;
    return write.call(this, name, value);
  };
})();"""
# A paragraph of 3,000 characters that compress poorly each round, a batch apart.
NOTES = """async (rounds) => {
  for (let i = 0; i < rounds; i++) {
    let text = '';
    while (text.length < 3000) text += Math.random().toString(36).slice(2);
    const note = document.createElement('p');
    note.textContent = text;
    document.body.appendChild(note);
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
}"""


def test_through_an_outage_each_batch_is_written_to_the_tab_once(daphne, shop, alice, page):
    # Each kept batch is an item of its own: the page writes it once, not everything
    # kept again with every batch (which grows with the outage, 25 ms a megabyte).
    page.add_init_script(COUNT_WRITES)
    session_id = record_while_the_server_is_down(page, daphne)
    page.evaluate("window.__written = 0")
    page.evaluate(NOTES, 8)
    written = page.evaluate("window.__written")
    frames = [batch["frame"] for batch in kept(page, shop.key)["unacked"]]
    assert len(frames) >= 8
    assert sum(map(len, frames)) < written < 1.5 * sum(map(len, frames))

    come_back_after_the_server_was_down(page, daphne)
    assert page.evaluate("replay.sessionId()") == session_id
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert kept(page, shop.key)["unacked"] == []
    assert page.evaluate("Object.keys(sessionStorage).filter((k) => k.includes(':batch:'))") == []


# Before the recorder of the next page reads what the tab kept: the state as the
# recorder before per-batch items kept it, its batches inline in `unacked`.
AS_AN_OLDER_RECORDER_KEPT_IT = f"""(() => {{
  if (!location.protocol.startsWith('http')) return; // an error page has no storage
  const key = sessionStorage.getItem('test:as-older');
  if (!key) return;
  sessionStorage.removeItem('test:as-older');
  const state = JSON.parse(({KEPT})(key));
  for (const name of Object.keys(sessionStorage)) {{
    if (name.startsWith(key + ':batch:')) sessionStorage.removeItem(name);
  }}
  delete state.kept;
  delete state.batches;
  sessionStorage.setItem(key, JSON.stringify(state));
  sessionStorage.setItem('test:was-older', String(state.unacked.length));
}})();"""


def test_what_the_previous_recorder_version_kept_is_sent_by_the_next_page(
    daphne, shop, alice, page
):
    page.add_init_script(AS_AN_OLDER_RECORDER_KEPT_IT)
    session_id = record_while_the_server_is_down(page, daphne)
    for _ in range(2):
        page.click("#add-fern")
        page.wait_for_timeout(1100)  # a batch each time, which fails to send
    page.evaluate(f"sessionStorage.setItem('test:as-older', 'replay:{shop.key}')")
    come_back_after_the_server_was_down(page, daphne)
    assert int(page.evaluate("sessionStorage.getItem('test:was-older')")) >= 2
    assert page.evaluate("replay.sessionId()") == session_id
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert kept(page, shop.key)["unacked"] == []


def test_a_long_outage_keeps_the_oldest_batches_and_leaves_the_page_half_the_storage(
    daphne, shop, browser
):
    # A tab of its own: the `page` fixture keeps a copy of every event in sessionStorage.
    context = browser.new_context()
    try:
        page = context.new_page()
        record_while_the_server_is_down(page, daphne)
        # 12 batches of about 260,000 characters each once kept: 3.1 million in all.
        page.evaluate(NOTES.replace("3000", "300000"), 12)
        state = kept(page, shop.key)
        sizes = [len(batch["frame"]) for batch in state["unacked"]]
        assert 6 <= len(sizes) < 12
        assert sum(sizes) <= 2_500_000
        # The oldest, from the first the server lacks, with none left out.
        first = state["acked"] + 1
        assert [b["seq"] for b in state["unacked"]] == list(range(first, first + len(sizes)))
        # The page's own data still fits.
        page.evaluate("sessionStorage.setItem('page:draft', 'x'.repeat(2000000))")
    finally:
        context.close()
