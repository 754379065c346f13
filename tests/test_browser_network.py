"""The page's requests, recorded by the real recorder in Chromium as rrweb plugin events
(`rrweb/network@1`) and read back from what the server stored: statuses, timings,
sizes, failures, headers and bodies as the project's options say, credentials never,
and no request lost past the page's resource timing buffer (tests/capture.py has the
site)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.capture import (
    BIG,
    LEFT_OUT,
    PIXEL,
    PRODUCED_REQUESTS,
    SECRET_COOKIE,
    SECRET_TOKEN,
    UNSIZED,
    Recorded,
    by_path,
    console_of,
    requests_of,
    sent_requests,
    stored,
    stored_once_the_page_went,
    wait_for_requests,
)
from tests.recording import KEPT, kept_batches
from tests.support import DaphneServer, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


# -- the network --

MAKE_REQUESTS = """async (closedPort) => {
  await fetch('/api/cookie');
  await fetch('/api/fail').then((r) => r.text());
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/ok');
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('X-Request-Id', 'xhr-7');
    xhr.onloadend = resolve;
    xhr.send(JSON.stringify({item: 'fern', quantity: 2}));
  });
  const refused = await fetch(`http://127.0.0.1:${closedPort}/nothing`).catch((e) => e.name);
  const controller = new AbortController();
  const aborted = fetch('/api/slow?abort=1', {signal: controller.signal}).catch((e) => e.name);
  setTimeout(() => controller.abort(), 100);
  const dropped = new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/slow?xhr=1');
    xhr.onloadend = () => resolve(xhr.status);
    xhr.send();
    setTimeout(() => xhr.abort(), 100);
  });
  const slow = await fetch('/api/slow').then((r) => r.json());
  const secret = await fetch('/api/ok', {
    method: 'POST',
    headers: {
      Authorization: 'Bearer SECRET-TOKEN-123',
      'X-Request-Id': 'req-42',
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({hello: 'server'}),
  }).then((r) => r.json());
  await new Promise((resolve) => {
    const image = document.getElementById('pixel');
    image.onload = resolve;
    image.src = '/pixel.png';
  });
  // Another origin that does not let the page read its timing (no Timing-Allow-Origin).
  const other = location.origin.replace('127.0.0.1', 'localhost') + '/api/ok?other=1';
  const crossed = await fetch(other).then((r) => r.status);
  return [refused, await aborted, await dropped, slow, secret, document.cookie, crossed];
}"""


def test_requests_are_recorded_without_credentials_or_bodies(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    headers = ["authorization", "cookie", "x-request-id", "content-type"]
    tab, origin = open_tab(daphne, network_headers=headers)
    tab.recording()
    before = time.time() * 1000
    answers = tab.page.evaluate(MAKE_REQUESTS, free_port())
    assert answers == [
        "TypeError",
        "AbortError",
        0,
        {"slow": True},
        {"ok": True, "echo": '{"hello":"server"}'},
        f"session={SECRET_COOKIE}",
        200,
    ]
    wait_for_requests(tab, 10, last="other=1")
    events = stored(daphne, alice, tab)
    requests = requests_of(events)
    found = by_path(requests)

    failing = found["/api/fail"]
    assert (failing["status"], failing["failed"], failing["initiatorType"]) == (500, False, "fetch")
    assert failing["responseSize"] == len('{"error": "out of stock"}')
    xhr = next(r for r in requests if r["initiatorType"] == "xmlhttprequest" and r["status"])
    sent = json.dumps({"item": "fern", "quantity": 2}, separators=(",", ":"))
    assert (xhr["method"], xhr["url"], xhr["status"]) == ("POST", f"{origin}/api/ok", 200)
    assert xhr["requestSize"] == len(sent)
    assert xhr["requestHeaders"] == {"content-type": "application/json", "x-request-id": "xhr-7"}
    assert xhr["responseHeaders"] == {"content-type": "application/json", "x-request-id": "xhr-7"}
    assert xhr["responseSize"] == len(json.dumps({"ok": True, "echo": sent}))
    refused = found["/nothing"]
    assert (refused["failed"], refused["aborted"], refused["status"]) == (True, False, 0)
    assert refused["error"].startswith("TypeError")
    for path in ("/api/slow?abort=1", "/api/slow?xhr=1"):
        aborted = found[path]
        assert (aborted["aborted"], aborted["failed"], aborted["status"]) == (True, False, 0)
    slow = found["/api/slow"]
    assert slow["status"] == 200
    assert slow["endTime"] - slow["startTime"] >= 3000
    assert before - 1000 <= slow["startTime"] <= time.time() * 1000
    crossed = found["/api/ok?other=1"]
    assert crossed["url"].startswith("http://localhost:")
    # Its timing hides the size: the response's Content-Length tells it.
    assert crossed["responseSize"] == len(json.dumps({"ok": True, "echo": ""}))
    image = found["/pixel.png"]
    assert (image["initiatorType"], image["status"]) == ("img", 200)
    assert image["responseSize"] == len(PIXEL)
    posted = next(r for r in requests if r["requestHeaders"].get("x-request-id") == "req-42")
    sent_headers = {"x-request-id": "req-42", "content-type": "application/json"}
    assert posted["requestHeaders"] == sent_headers
    assert posted["responseHeaders"]["x-request-id"] == "req-42"
    for request in requests:
        assert (request["requestBody"], request["responseBody"]) == (None, None)
        assert not request["url"].startswith(daphne.url)  # the recorder's own traffic
    for request in sent_requests(events):  # defaults are not sent
        assert not [name for name, value in LEFT_OUT.items() if request.get(name, ...) == value]
    text = json.dumps(events)
    assert SECRET_TOKEN not in text
    assert SECRET_COOKIE not in text
    assert '"x-request-id": "req-42"' in text
    assert '"content-type": "application/json"' in text


BODIES = """async () => {
  const echoed = await fetch('/api/ok', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"item":"fern"}',
  }).then((r) => r.json());
  const big = await fetch('/api/big').then((r) => r.json());
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/ok?long=1');
    xhr.onloadend = resolve;
    xhr.send('y'.repeat(20000));
  });
  await fetch('/api/ok?form=1', {method: 'POST', body: new URLSearchParams({a: '1', b: 'two'})});
  await fetch('/api/ok?blob=1', {method: 'POST', body: new Blob(['blob body'])});
  await fetch('/pixel.png?fetched=1').then((r) => r.blob());
  return [echoed.echo, big.items.length];
}"""


# As the browser hides the tab (headless Chromium never does).
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
FILL_OR_CLEAR = """async (how) => {
  const load = (src) => new Promise((resolve) => {
    const image = new Image();
    image.onload = image.onerror = resolve;
    image.src = src;
  });
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  if (how === 'shrinks') performance.setResourceTimingBufferSize(20);
  await load('/pixel.png?first=1');
  await pause(300);
  if (how === 'clears') performance.clearResourceTimings();
  // As a script holding the method from before the recorder came would.
  if (how === 'clears-unseen') Performance.prototype.clearResourceTimings.call(performance);
  await load('/pixel.png?then=1');
  await pause(300);
  for (let i = 0; i < 260; i++) await fetch('/api/unsized?n=' + i).then((r) => r.text());
  await load('/pixel.png?last=1');
}"""


@pytest.mark.parametrize("how", ["fills", "clears", "clears-unseen", "shrinks"])
def test_no_request_is_lost_past_the_pages_timing_buffer_or_when_the_page_clears_it(
    daphne: DaphneServer, alice: Any, open_tab: Recorded, how: str
) -> None:
    # The page's resource timing buffer holds 250 entries unless the page sets its size,
    # and a page may clear it (RUM scripts do): timings.js reads the buffer until it
    # could lose entries and then observes them, so every resource is recorded and every
    # fetch still gets its size from its entry. Only a clearing it cannot see may take
    # what came since its last reading (here the first image).
    tab, _ = open_tab(daphne)
    tab.recording()
    tab.page.evaluate(FILL_OR_CLEAR, how)
    tab.page.wait_for_function(
        f"""() => {{
          const urls = ({PRODUCED_REQUESTS})().map((r) => r.url);
          return urls.some((u) => u.endsWith('/pixel.png?last=1')) &&
            urls.filter((u) => u.includes('/api/unsized?')).length >= 260;
        }}"""
    )
    # What waits for its request is sent as the tab is hidden: nothing is there twice.
    tab.page.evaluate(HIDE)
    requests = requests_of(stored(daphne, alice, tab))
    paths = Counter(urlsplit(r["url"]).path for r in requests)
    assert (paths["/api/unsized"], paths["/pixel.png"]) == (260, 3 if how != "clears-unseen" else 2)
    found = by_path(requests)
    images = ["/pixel.png?then=1", "/pixel.png?last=1"]
    if how != "clears-unseen":
        images.append("/pixel.png?first=1")
    for path in images:
        assert (found[path]["initiatorType"], found[path]["status"]) == ("img", 200), path
        assert found[path]["responseSize"] == len(PIXEL), path
    # (More than the 250 entries the page's buffer holds.)
    fetched = [found.get(f"/api/unsized?n={i}") for i in range(260)]
    assert [(r or {}).get("responseSize") for r in fetched] == [len(UNSIZED)] * 260
    assert {(r or {}).get("method") for r in fetched} == {"GET"}


def test_bodies_are_recorded_only_once_the_project_asks(
    start_daphne: Callable[..., DaphneServer], alice: Any, open_tab: Recorded, shop: Any
) -> None:
    # Connections close after 2 quiet seconds; the recorder's next connection hears the
    # project's new options in its welcome and starts rrweb (and its plugins) over.
    server = start_daphne(REPLAY_IDLE_TIMEOUT="2")
    tab, _ = open_tab(server)
    tab.recording()
    tab.page.evaluate("() => fetch('/api/ok', {method: 'POST', body: 'before'})")
    wait_for_requests(tab, 1)

    shop.capture_network_bodies = True
    shop.save()
    tab.page.wait_for_timeout(10_500)  # each server process rereads a project within 10 s
    tab.page.evaluate("console.log('wake up')")
    tab.page.wait_for_function("() => window.__produced.filter((e) => e.type === 2).length >= 2")
    assert tab.page.evaluate(BODIES) == ['{"item":"fern"}', 1500]
    wait_for_requests(tab, 7, last="fetched=1")
    events = stored(server, alice, tab)
    found = by_path(requests_of(events))

    before = found["/api/ok"]
    assert (before["requestSize"], before["requestBody"], before["responseBody"]) == (6, None, None)
    # After the restart, one record per request: the wrappers were put back, not stacked.
    assert [r["method"] for r in requests_of(events) if "/api/big" in r["url"]] == ["GET"]
    assert ["wake up" in m["payload"][0] for m in console_of(events)] == [True]
    first = next(r for r in requests_of(events) if r["requestBody"] == '{"item":"fern"}')
    assert json.loads(first["responseBody"]) == {"ok": True, "echo": '{"item":"fern"}'}
    big = found["/api/big"]
    assert len(big["responseBody"]) == 10_240
    assert big["responseBody"].endswith("…")
    assert BIG.startswith(big["responseBody"][:-1])
    assert big["responseSize"] == len(BIG)
    long = found["/api/ok?long=1"]
    assert long["requestBody"] == "y" * 10_239 + "…"
    assert long["requestSize"] == 20_000
    assert len(long["responseBody"]) == 10_240
    assert found["/api/ok?form=1"]["requestBody"] == "a=1&b=two"
    blob = found["/api/ok?blob=1"]
    assert (blob["requestBody"], blob["requestSize"]) == (None, 9)
    assert found["/pixel.png?fetched=1"]["responseBody"] is None


def test_what_the_plugins_hold_is_sent_as_the_page_goes(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    # The page goes right after an answer, before the outbox's next sweep, and after more
    # console messages than a minute keeps: the plugins send the request and the count
    # of messages dropped as the page goes, before the recorder cuts its last batch.
    tab, origin = open_tab(daphne)
    events = stored_once_the_page_went(
        daphne,
        alice,
        tab,
        """() => {
          for (let i = 0; i < 130; i++) console.log('message', i);
          fetch('/api/ok?last=1').then((r) => r.text())
            .then(() => location.assign(location.href));
        }""",
    )
    last = by_path(requests_of(events))["/api/ok?last=1"]
    assert (last["method"], last["status"], last["url"]) == ("GET", 200, f"{origin}/api/ok?last=1")
    dropped = [e["data"] for e in events if e["type"] == 5 and "console" in e["data"]["tag"]]
    assert dropped == [{"tag": "replay/console-dropped", "payload": {"count": 30}}]


ANSWERS_OUT_OF_ORDER = """async () => {
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const answers = [];
  for (let round = 0; round < 3; round++) {
    // The first request of a round ends after the others were read: the page's buffer
    // lists its entry among theirs, by when it started.
    answers.push(fetch(`/api/wait?ms=900&round=${round}`).then((r) => r.text()));
    await pause(50);
    for (let i = 0; i < 4; i++) {
      answers.push(fetch(`/api/ok?round=${round}&i=${i}`).then((r) => r.text()));
    }
    await pause(700);
  }
  await Promise.all(answers);
  location.assign(location.href);
}"""


def test_each_request_is_recorded_once_when_answers_come_out_of_order(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    # A request that ends after later ones, read meanwhile, was taken for a clearing of
    # the page's buffer: all of it was read again, and every request in it recorded a
    # second time (without its method) as the page went.
    tab, _ = open_tab(daphne)
    requests = requests_of(stored_once_the_page_went(daphne, alice, tab, ANSWERS_OUT_OF_ORDER))
    urls = [r["url"].split("/", 3)[-1] for r in requests]
    expected = [f"api/wait?ms=900&round={n}" for n in range(3)]
    expected += [f"api/ok?round={n}&i={i}" for n in range(3) for i in range(4)]
    assert sorted(u for u in urls if u.startswith("api/")) == sorted(expected)
    fetched = [r for r in requests if "/api/" in r["url"]]
    assert {(r["method"], r["status"], r["initiatorType"]) for r in fetched} == {
        ("GET", 200, "fetch")
    }
    assert all(r["responseSize"] for r in fetched)


HIDE_RIGHT_AFTER_AN_ANSWER = f"""async (key) => {{
  for (let i = 0; i < 130; i++) console.log('message', i);
  await fetch('/api/ok?hidden=1').then((r) => r.text());
  // As the browser hides the tab (headless Chromium never does).
  Object.defineProperty(document, 'visibilityState', {{configurable: true, get: () => 'hidden'}});
  document.dispatchEvent(new Event('visibilitychange'));
  return ({KEPT})('replay:' + key); // before it can be sent and acknowledged
}}"""


def test_what_the_plugins_hold_is_cut_into_the_batch_when_the_tab_is_hidden(
    daphne: DaphneServer, open_tab: Recorded, shop: Any
) -> None:
    # A hidden tab may be discarded without pagehide (mobile browsers do): the batch cut
    # as it is hidden, kept in sessionStorage and sent, holds the request that had just
    # ended (its handling waits for the outbox's next sweep) and the count of messages
    # dropped.
    tab, origin = open_tab(daphne)
    tab.recording()
    kept = kept_batches(tab.page.evaluate(HIDE_RIGHT_AFTER_AN_ANSWER, shop.key))
    cut = [event for batch in kept for event in batch["events"]]
    assert f"{origin}/api/ok?hidden=1" in [r["url"] for r in sent_requests(cut)]
    dropped = [e["data"] for e in cut if e["type"] == 5 and "console" in e["data"]["tag"]]
    assert dropped == [{"tag": "replay/console-dropped", "payload": {"count": 30}}]
