"""The real recorder in Chromium through failures: the server killed with SIGKILL,
storage unreachable, a navigation in the middle of a batch, and a buffer that fills
while nothing can be stored. Every test compares the export with the events the page
produced (captured beside the recorder, across page loads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from replay.models import Gap, Session
from tests.recording import (
    FLUSH,
    KEPT,
    assert_stored_as_produced,
    come_back_after_the_server_was_down,
    export,
    frame_events,
    kept,
    log_in,
    open_demo,
    record_while_the_server_is_down,
    shop_and_buy,
)
from tests.relay import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.scaleout]


def wiggle(page: Any, rounds: int) -> None:
    """Mouse movement over the shop: steady recording traffic."""
    for i in range(rounds):
        page.mouse.move(100 + (i * 37) % 900, 150 + (i * 53) % 500, steps=4)


@pytest.mark.parametrize("trial", range(2))
def test_kill_9_while_recording_loses_and_doubles_nothing(daphne, shop, alice, page, trial):
    session_id = open_demo(page, daphne.url)
    page.click("#add-fern")
    wiggle(page, 10 + 15 * trial)  # killed with a batch or two in flight, or not
    daphne.kill()
    shop_and_buy(page)  # recorded while the server is gone
    wiggle(page, 10)
    daphne.start()
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert Session.objects.get(pk=session_id).completeness == 1.0


def test_the_recorder_moves_to_another_process_behind_the_load_balancer(start_daphne, alice, page):
    from replay.models import Project

    first, second = start_daphne(), start_daphne()
    balancer = TcpProxy(first.port)  # stands in for any load balancer
    balancer.start()
    project = Project.objects.create(name="Demo shop", allowed_origins=[balancer.url], scrub=False)
    project.members.add(alice)
    try:
        session_id = open_demo(page, balancer.url)
        page.click("#add-fern")
        page.evaluate(FLUSH)
        first.kill()
        balancer.target_port = second.port  # new connections go to the other process
        shop_and_buy(page)
        flushed = page.evaluate(FLUSH)
        assert_stored_as_produced(export(second, alice, session_id), page, flushed)
    finally:
        balancer.stop()


def test_navigation_in_the_middle_of_a_batch_loses_and_doubles_nothing(daphne, shop, alice, page):
    session_id = open_demo(page, daphne.url)
    for _ in range(3):
        page.click("#add-cactus")
        wiggle(page, 3)
        # Leave at once: the last events are in no batch yet, or in one not acknowledged.
        page.goto(f"{daphne.url}/demo/?step=next")
        page.wait_for_function("() => window.replay && window.replay.sessionId()")
    assert page.evaluate("replay.sessionId()") == session_id
    flushed = page.evaluate(FLUSH)
    events = export(daphne, alice, session_id)
    assert_stored_as_produced(events, page, flushed)
    assert [e["type"] for e in events].count(4) == 4  # a Meta per page load


# A page whose WebSocket stalls on demand (what it sends goes nowhere, as over a network
# that stopped carrying it), and that sends the beacons it hands over as it goes last
# first, as the browser may deliver them over several connections; how many there were
# is kept for the next page.
STALL_AND_BEACON_LAST_FIRST = """(() => {
  const write = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!window.__stalled) write.call(this, data);
  };
  const send = navigator.sendBeacon.bind(navigator);
  const held = [];
  navigator.sendBeacon = (url, body) => {
    if (!held.length) {
      queueMicrotask(() => {
        sessionStorage.setItem('test:beacons', String(held.length));
        for (const [to, sent] of held.splice(0).reverse()) send(to, sent);
      });
    }
    held.push([url, body]);
    return true;
  };
})();"""


def test_beacons_that_arrive_last_first_lose_nothing(daphne, shop, alice, page):
    page.add_init_script(STALL_AND_BEACON_LAST_FIRST)
    session_id = open_demo(page, daphne.url)
    page.evaluate(FLUSH)
    page.evaluate("window.__stalled = true")
    for _ in range(3):
        page.click("#add-cactus")
        wiggle(page, 3)
        page.wait_for_timeout(1100)  # a batch each, none acknowledged
    page.goto(f"{daphne.url}/demo/?step=next")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    assert page.evaluate("replay.sessionId()") == session_id
    assert int(page.evaluate("sessionStorage.getItem('test:beacons')")) >= 3
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert not Gap.objects.filter(session_id=session_id).exists()


@pytest.fixture
def s3_behind_a_proxy(settings, s3_endpoint, s3_bucket):
    """The server's S3 reached through a relay the test can cut."""
    from replay.storage import get_storage

    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    proxy.start()
    settings.REPLAY_STORAGE_URL = f"s3://{s3_bucket}/segments"
    settings.REPLAY_S3_ENDPOINT_URL = proxy.url
    get_storage.cache_clear()
    yield proxy
    proxy.stop()


@pytest.mark.s3
def test_storage_outage_then_everything_is_stored(s3_behind_a_proxy, daphne, shop, alice, page):
    session_id = open_demo(page, daphne.url)
    page.evaluate(FLUSH)
    s3_behind_a_proxy.stop()
    shop_and_buy(page)
    wiggle(page, 10)
    page.wait_for_timeout(2500)  # flushes fail; the recorder is told 4503 and backs off
    assert kept(page, shop.key)["unacked"]
    s3_behind_a_proxy.start()
    flushed = page.evaluate(FLUSH)
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)


GROW_PAGE = """async (rounds) => {
  // A page that keeps changing: 2 KB of new text every 100 ms.
  for (let i = 0; i < rounds; i++) {
    const note = document.createElement('p');
    note.textContent = 'note ' + i + ' ' + 'x'.repeat(2000);
    document.querySelector('.products').appendChild(note);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}"""


def test_a_full_buffer_drops_openly_and_resumes_with_a_snapshot(daphne, shop, alice, page, browser):
    # The same demo page, with a 20 KB buffer instead of 5 MB.
    page.add_init_script("window.replayOptions = {bufferBytes: 20000};")
    session_id = open_demo(page, daphne.url)
    page.evaluate(FLUSH)
    daphne.kill()
    page.evaluate(GROW_PAGE, 40)  # 80 KB of mutations while nothing can be stored
    page.wait_for_timeout(1200)
    daphne.start()
    # Once the server holds what was kept, the recorder takes a new full snapshot.
    page.wait_for_function("() => window.__produced.filter((e) => e.type === 2).length === 2")
    page.evaluate(FLUSH)
    wiggle(page, 5)
    flushed = page.evaluate(FLUSH)

    events = export(daphne, alice, session_id)
    produced = page.evaluate("window.__produced")
    assert len(events) < flushed  # some were dropped...
    gaps = list(Gap.objects.filter(session_id=session_id))
    assert [g.reason for g in gaps] == ["client-dropped"]  # ...and said so
    assert gaps[0].detail == "recorder buffer full"
    assert gaps[0].start_ms is not None
    assert gaps[0].end_ms is not None
    # What was stored is what the page produced, in order, minus the dropped stretch,
    # and recording resumed with a fresh full snapshot.
    position = iter(produced)
    assert all(any(event == candidate for candidate in position) for event in events)
    snapshots = [i for i, e in enumerate(events) if e["type"] == 2]
    assert len(snapshots) == 2
    session = Session.objects.get(pk=session_id)
    assert 0 < session.completeness < 1

    # The player marks the missing stretch on the timeline.
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{session_id}")
    viewer.wait_for_selector("#stage[data-ready=true]")
    assert viewer.locator(".timeline-marks .mark.gap").count() == 1
    assert "recorder buffer full" in viewer.locator(".gaps").inner_text()
    viewer.close()


# A network that refuses WebSockets: every connection fails before it opens.
NO_WEBSOCKETS = """
window.WebSocket = class {
  constructor() {
    this.readyState = 3;
    setTimeout(() => {
      if (this.onerror) this.onerror(new Event('error'));
      if (this.onclose) this.onclose({ code: 1006 });
    }, 10);
  }
  send() { throw new Error('not open'); }
  close() {}
};
window.WebSocket.OPEN = 1;
"""


def test_without_websockets_the_recorder_posts_its_batches(daphne, shop, alice, page):
    page.add_init_script(NO_WEBSOCKETS)
    session_id = open_demo(page, daphne.url)
    shop_and_buy(page)
    flushed = page.evaluate(FLUSH)  # resolves on the HTTP answers
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)
    assert Session.objects.get(pk=session_id).completeness == 1.0


def test_over_http_the_next_page_posts_the_events_of_batches_kept_compressed(
    daphne, shop, alice, page
):
    # The batch endpoint takes events, not frames: what an earlier page kept as its
    # compressed frame is read back into its events before it is posted.
    page.add_init_script(NO_WEBSOCKETS)
    session_id = record_while_the_server_is_down(page, daphne)
    page.click("#add-fern")
    page.wait_for_function(
        f"key => JSON.parse(({KEPT})(key)).unacked.some((b) => b.frame)",
        arg=f"replay:{shop.key}",
    )
    come_back_after_the_server_was_down(page, daphne)
    page.click("#add-cactus")
    flushed = page.evaluate(FLUSH)
    assert page.evaluate("replay.sessionId()") == session_id
    assert_stored_as_produced(export(daphne, alice, session_id), page, flushed)


# Before the recorder of the next page reads what the tab kept: the first batch kept as
# its frame is written over with text that is no frame's.
WRITE_OVER_A_KEPT_FRAME = """
(() => {
  if (!location.protocol.startsWith('http')) return; // an error page has no storage
  const key = sessionStorage.getItem('test:write-over');
  if (!key) return;
  sessionStorage.removeItem('test:write-over');
  const state = JSON.parse(sessionStorage.getItem(key));
  for (const seq of state.kept) {
    const item = key + ':batch:' + state.batches + ':' + seq;
    const text = sessionStorage.getItem(item);
    if (text[0] !== 'F') continue;
    sessionStorage.setItem('test:written-over', JSON.stringify([seq, text.slice(1)]));
    sessionStorage.setItem(item, 'Fnot a frame!');
    return;
  }
})();
"""


def test_a_kept_frame_the_page_wrote_over_is_a_gap_and_the_rest_is_sent(daphne, shop, alice, page):
    page.add_init_script(WRITE_OVER_A_KEPT_FRAME)
    session_id = record_while_the_server_is_down(page, daphne)
    for fern in range(2):
        page.click("#add-fern")
        page.wait_for_function(
            f"([key, n]) => JSON.parse(({KEPT})(key)).unacked.filter((b) => b.frame).length > n",
            arg=[f"replay:{shop.key}", fern],
        )
    page.evaluate(f"sessionStorage.setItem('test:write-over', 'replay:{shop.key}')")
    come_back_after_the_server_was_down(page, daphne)
    page.click("#add-cactus")
    flushed = page.evaluate(FLUSH)
    seq, frame = json.loads(page.evaluate("sessionStorage.getItem('test:written-over')"))
    assert page.evaluate("replay.sessionId()") == session_id
    gaps = Gap.objects.filter(session=session_id)
    assert [(g.seq_start, g.seq_end, g.reason, g.detail) for g in gaps] == [
        (seq, seq, "client-dropped", "kept batch unreadable")
    ]
    lost = frame_events(frame, seq)
    produced = page.evaluate("window.__produced")
    assert lost
    assert all(event in produced[:flushed] for event in lost)
    stored = export(daphne, alice, session_id)  # the rest, each once, in the page's order
    assert len(stored) >= flushed - len(lost)
    assert stored == [event for event in produced if event not in lost][: len(stored)]


def test_a_session_deleted_while_its_tab_was_away_is_not_recorded_into_again(
    daphne, shop, alice, page
):
    """The tab's session was deleted while the tab could not reach the server. On its
    return the server cannot continue it, and must not bring it back: the recorder
    records on under the new session the server names, starting with a full snapshot,
    and the deleted one stays deleted."""
    from replay.segments import delete_session
    from replay.storage import get_storage

    deleted = open_demo(page, daphne.url)
    page.click("#add-fern")
    page.evaluate(FLUSH)
    daphne.kill()
    delete_session(Session.objects.get(pk=deleted), get_storage())
    daphne.start()
    page.click("#add-fern")  # something to send: the tab reconnects
    page.wait_for_function("old => replay.sessionId() && replay.sessionId() !== old", arg=deleted)
    shop_and_buy(page)
    page.evaluate(FLUSH)
    current = str(page.evaluate("replay.sessionId()"))
    assert not Session.objects.filter(pk=deleted).exists()
    events = export(daphne, alice, current)
    assert events[0]["type"] == 4  # a Meta, then the full snapshot it replays from
    assert events[1]["type"] == 2
    assert Session.objects.get(pk=current).completeness == 1.0
