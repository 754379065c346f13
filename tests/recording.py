"""Helpers for browser tests: what the page produced (captured beside the recorder),
what the server stored (the export API), and the demo shop's user journey."""

from __future__ import annotations

import base64
import json
import urllib.request
import zlib
from typing import Any

import msgpack
import pytest

from replay.models import ApiToken
from tests.support import DaphneServer

# Keeps a copy of every event rrweb hands to the recorder, so the test knows exactly
# what the page produced. It wraps rrweb.record when the UMD bundle defines `rrweb`, and
# keeps the copies in sessionStorage so they survive page loads in the tab.
CAPTURE_EVENTS = """
(() => {
  if (!location.protocol.startsWith('http')) return; // an error page has no storage
  window.__produced = JSON.parse(sessionStorage.getItem('test:produced') || '[]');
  let real;
  Object.defineProperty(window, 'rrweb', {
    configurable: true,
    get() { return real; },
    set(value) {
      const record = value.record;
      const wrapped = function (options) {
        const emit = options.emit;
        options.emit = (event, isCheckout) => {
          window.__produced.push(JSON.parse(JSON.stringify(event)));
          sessionStorage.setItem('test:produced', JSON.stringify(window.__produced));
          emit(event, isCheckout);
        };
        // For tests that need an event no page of ours produces (canvas drawing).
        window.__emit = options.emit;
        return record(options);
      };
      Object.assign(wrapped, record);
      value.record = wrapped;
      real = value;
    },
  });
})();
"""

TYPED = {
    "#name": "Alice Example",
    "#email": "alice@example.com",
    "#card": "4242 4242 4242 4242",
    "#password": "hunter2-secret",
}


# Everything the page produced before flush() was called; flush() resolves once all of
# it is acknowledged. Events produced later may or may not be stored yet.
FLUSH = """async () => {
  const produced = window.__produced.length;
  await replay.flush();
  return produced;
}"""


def assert_stored_as_produced(events: list[dict[str, Any]], page: Any, flushed: int) -> None:
    produced = page.evaluate("window.__produced")
    assert len(events) >= flushed
    assert events == produced[: len(events)]  # every event, once, in the page's order


def export(server: DaphneServer, user: Any, session_id: str) -> list[dict[str, Any]]:
    _, token = ApiToken.issue(user)
    request = urllib.request.Request(
        f"{server.url}/api/sessions/{session_id}/events",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return list(json.loads(response.read()))


def shop_and_buy(page: Any) -> None:
    page.click("#add-fern")
    page.click("#add-cactus")
    page.click("#buy")  # refused: the form is empty
    page.wait_for_selector("#form-error:not([hidden])")
    for selector, text in TYPED.items():
        page.click(selector)
        page.keyboard.type(text, delay=5)
    page.click("#gift")
    page.click("#buy")
    page.wait_for_selector("#confirmation:not([hidden])")


def gift_id(events: list[dict[str, Any]]) -> int:
    """The rrweb id of the gift checkbox (its input events carry its value, "on")."""

    def find(node: dict[str, Any]) -> int | None:
        if node.get("attributes", {}).get("id") == "gift":
            return int(node["id"])
        for child in node.get("childNodes", []):
            if (found := find(child)) is not None:
                return found
        return None

    snapshot = next(e for e in events if e["type"] == 2)
    found = find(snapshot["data"]["node"])
    assert found is not None
    return found


def log_in(page: Any, server: DaphneServer, username: str, password: str) -> None:
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/sessions")


def open_demo(page: Any, url: str) -> str:
    """The demo shop of the server at `url`, once it records; its session id."""
    page.goto(f"{url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    return str(page.evaluate("replay.sessionId()"))


def record_while_the_server_is_down(page: Any, server: DaphneServer) -> str:
    """The demo opened and all of it acknowledged, then `server` stopped: what the page
    records from then on waits in the tab. The session id."""
    session_id = open_demo(page, server.url)
    page.evaluate("replay.flush()")
    server.stop()
    return session_id


def come_back_after_the_server_was_down(page: Any, server: DaphneServer) -> None:
    """The tab goes to the demo while `server` is down (no beacon gets through, so what
    the tab keeps is all the next page has), then again once it is back up."""
    from playwright.sync_api import Error as PlaywrightError

    with pytest.raises(PlaywrightError):  # the server is down
        page.goto(f"{server.url}/demo/")
    server.start()
    page.goto(f"{server.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")


# What the recorder keeps in the tab's sessionStorage under `key` ('replay:' and the
# project's key), as JSON text: its state, with the batches it keeps, each an item of its
# own, put back in as `unacked` ({seq, frame} or {seq, events}).
KEPT = """(key) => {
  const state = JSON.parse(sessionStorage.getItem(key));
  state.unacked = state.kept.map((seq) => {
    const text = sessionStorage.getItem(key + ':batch:' + state.batches + ':' + seq);
    return text[0] === 'F' ? {seq, frame: text.slice(1)} : {seq, events: JSON.parse(text.slice(1))};
  });
  return JSON.stringify(state);
}"""


def kept(page: Any, key: str) -> dict[str, Any]:
    """What the recorder of the project with `key` keeps in the tab (see KEPT)."""
    state: dict[str, Any] = json.loads(page.evaluate(KEPT, f"replay:{key}"))
    return state


def kept_batches(text: str) -> list[dict[str, Any]]:
    """The unacknowledged batches in `text` (KEPT's), what the recorder keeps in the
    tab's sessionStorage, each as {seq, events, frame}: `frame` says it was kept as its
    compressed frame, whose events are read here the way the server reads them."""
    kept = []
    for batch in json.loads(text)["unacked"]:
        if "frame" in batch:
            events = frame_events(batch["frame"], batch["seq"])
            kept.append({"seq": batch["seq"], "events": events, "frame": True})
        else:
            kept.append({"seq": batch["seq"], "events": batch["events"], "frame": False})
    return kept


def frame_events(text: str, seq: int) -> list[dict[str, Any]]:
    """The events of the compressed batch frame `seq` the recorder keeps as `text`."""
    frame = msgpack.unpackb(base64.b64decode(text))
    assert (frame["type"], frame["seq"], frame["format"]) == ("batch", seq, "json")
    window = -15 if frame["encoding"] == "deflate-raw" else 31
    events: list[dict[str, Any]] = json.loads(zlib.decompress(frame["events"], window))
    return events
