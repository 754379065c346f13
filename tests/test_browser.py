"""End to end in real headless Chromium: the demo shop records itself through the real
recorder into a real Daphne process, and the player page replays it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from replay.models import ApiToken, Project, Session
from tests.support import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Keeps a copy of every event rrweb hands to the recorder, so the test knows exactly
# what the page produced. It wraps rrweb.record when the UMD bundle defines `rrweb`.
CAPTURE_EVENTS = """
window.__produced = [];
(() => {
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
          emit(event, isCheckout);
        };
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


@pytest.fixture
def shop(daphne: DaphneServer, alice: Any) -> Project:
    project = Project.objects.create(name="Demo shop", allowed_origins=[daphne.url])
    project.members.add(alice)
    return project


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CAPTURE_EVENTS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == []


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


def test_the_demo_is_recorded_masked_and_replayed_to_its_final_state(
    daphne, shop, alice, page, browser
):
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("window.replay && window.replay.sessionId()")
    shop_and_buy(page)
    flushed = page.evaluate(FLUSH)
    session_id = page.evaluate("replay.sessionId()")
    events = export(daphne, alice, session_id)
    assert_stored_as_produced(events, page, flushed)
    text = json.dumps(events)
    for typed in TYPED.values():
        assert typed not in text
        assert typed.split()[0] not in text
    inputs = [e["data"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]
    typed_into = [i for i in inputs if i["id"] != gift_id(events)]
    assert typed_into
    assert all(set(i["text"]) <= {"*"} for i in typed_into)
    assert {e["type"] for e in events} >= {2, 3, 4, 5}  # snapshot, interactions, meta, custom

    session = Session.objects.get(pk=session_id)
    assert session.urls == [f"{daphne.url}/demo/"]
    assert session.event_count == len(events)

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
    page.wait_for_function("window.replay && window.replay.sessionId()")
    page.click("#add-fern")
    page.evaluate(FLUSH)
    first_id = page.evaluate("replay.sessionId()")
    before_reload = page.evaluate("window.__produced")
    stored_before = export(daphne, alice, first_id)

    page.reload()
    page.wait_for_function("window.replay && window.replay.sessionId()")
    page.click("#add-monstera")
    page.evaluate("history.pushState({}, '', '/demo/checkout')")
    page.evaluate("replay.identify('customer-17', {plan: 'pro'})")
    page.evaluate("replay.track('coupon-tried', {code: 'SPRING'})")
    flushed = page.evaluate(FLUSH)
    assert page.evaluate("replay.sessionId()") == first_id

    events = export(daphne, alice, first_id)
    # The first page's tail went out with the reload (beacon or the resend from
    # sessionStorage); either way it is stored once, before the second page's events.
    assert events[: len(before_reload)] == before_reload
    assert len(stored_before) <= len(before_reload)
    assert_stored_as_produced(events[len(before_reload) :], page, flushed)
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
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("window.replay && window.replay.sessionId()")
    page.evaluate(FLUSH)
    session_id = page.evaluate("replay.sessionId()")

    daphne.stop()
    page.click("#add-fern")
    page.click("#add-cactus")
    page.wait_for_timeout(1500)  # a batch or two are cut and fail to send
    pending = page.evaluate(
        f"JSON.parse(sessionStorage.getItem('replay:{shop.key}')).unacked.length"
    )
    assert pending >= 1  # kept for resending, in sessionStorage too
    daphne.start()  # same port: the recorder reconnects with backoff and resends

    flushed = page.evaluate(FLUSH)
    events = export(daphne, alice, session_id)
    assert_stored_as_produced(events, page, flushed)
    assert (
        page.evaluate(f"JSON.parse(sessionStorage.getItem('replay:{shop.key}')).unacked.length")
        == 0
    )
