"""The project's privacy options, followed by the real recorder in Chromium: what it
masks, blocks and ignores, where and for whom it records nothing, and a change made in
the project reaching a page that is already recording."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from replay.models import Session
from tests.recording import CAPTURE_EVENTS, FLUSH, TYPED, export, shop_and_buy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SETTLED = "async () => { await replay.flush(); return replay.sessionId(); }"


def find(node: dict[str, Any], element_id: str) -> dict[str, Any] | None:
    if node.get("attributes", {}).get("id") == element_id:
        return node
    for child in node.get("childNodes", []):
        if (found := find(child, element_id)) is not None:
            return found
    return None


def snapshot_node(events: list[dict[str, Any]], element_id: str, nth: int = 0) -> dict[str, Any]:
    snapshot = [e for e in events if e["type"] == 2][nth]
    node = find(snapshot["data"]["node"], element_id)
    assert node is not None, element_id
    return node


def typed_into(events: list[dict[str, Any]], node_id: int) -> list[str]:
    return [
        e["data"]["text"]
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 5 and e["data"]["id"] == node_id
    ]


def texts(node: dict[str, Any]) -> Iterator[str]:
    if node.get("type") == 3:
        yield node["textContent"]
    for child in node.get("childNodes", []):
        yield from texts(child)


def blocked(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "rr_width" in node.get("attributes", {}):
        yield node
    for child in node.get("childNodes", []):
        yield from blocked(child)


def masked(text: str) -> bool:
    return set("".join(text.split())) <= {"*"}


def record_the_demo(daphne: Any, alice: Any, page: Any) -> list[dict[str, Any]]:
    page.goto(f"{daphne.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    shop_and_buy(page)
    page.evaluate(FLUSH)
    return export(daphne, alice, page.evaluate("replay.sessionId()"))


def test_inputs_shown_when_the_project_allows_but_passwords_cards_and_hidden_fields_not(
    daphne, shop, alice, page
):
    shop.mask_all_inputs = False
    shop.save()
    events = record_the_demo(daphne, alice, page)

    assert typed_into(events, snapshot_node(events, "name")["id"])[-1] == TYPED["#name"]
    assert typed_into(events, snapshot_node(events, "email")["id"])[-1] == TYPED["#email"]
    for field in ("card", "password"):
        typed = typed_into(events, snapshot_node(events, field)["id"])
        assert typed
        assert all(set(text) <= {"*"} for text in typed)
    assert set(snapshot_node(events, "referral")["attributes"]["value"]) == {"*"}
    text = json.dumps(events)
    assert "ZX81" not in text
    assert "4242 4" not in text  # (a bare "4242" can be part of a timestamp)
    assert "hunter2" not in text


def test_text_blocked_and_ignored_elements_follow_the_project(daphne, shop, alice, page):
    shop.mask_all_text = True
    shop.block_selector = "#cart-items"
    shop.ignore_selector = "#email"
    shop.save()
    events = record_the_demo(daphne, alice, page)

    snapshot = next(e for e in events if e["type"] == 2)["data"]["node"]
    words = [t for t in texts(snapshot) if t.strip()]
    assert words
    assert all(masked(word) for word in words)
    added = [
        node["textContent"]
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 0
        for add in e["data"]["adds"]
        for node in [add["node"]]
        if node.get("type") == 3 and node["textContent"].strip()
    ]
    assert all(masked(word) for word in added)
    text = json.dumps(events)
    for visible in ("Boston fern", "Add to cart", "Order confirmed", "Checkout"):
        assert visible not in text
    # Blocked: an empty box of the element's size, and nothing inside it ever.
    (cart,) = list(blocked(snapshot))  # rrweb keeps a blocked element's tag and size only
    assert cart["tagName"] == "ul"
    assert cart["childNodes"] == []
    changed_in_cart = [
        e
        for e in events
        if e["type"] == 3
        and e["data"].get("source") == 0
        and any(add["parentId"] == cart["id"] for add in e["data"]["adds"])
    ]
    assert changed_in_cart == []
    # Ignored: typing into the field is not recorded at all.
    assert typed_into(events, snapshot_node(events, "email")["id"]) == []
    assert typed_into(events, snapshot_node(events, "name")["id"])  # the others are


def test_pages_where_nothing_is_recorded(daphne, shop, alice, page):
    shop.excluded_urls = ["*private*"]
    shop.save()
    websockets: list[str] = []
    page.on("websocket", lambda ws: websockets.append(ws.url))

    # A first page that is excluded opens no session.
    page.goto(f"{daphne.url}/demo/?private=1")
    assert page.evaluate(SETTLED) is None
    page.click("#add-fern")
    page.wait_for_timeout(300)
    assert websockets == []
    assert not Session.objects.exists()

    # Leaving it for a recorded page starts recording; entering an excluded page again
    # pauses it, and leaving resumes with a fresh snapshot.
    page.evaluate("history.pushState({}, '', '/demo/')")
    page.wait_for_function("() => window.replay.sessionId()")
    page.click("#add-cactus")
    page.evaluate("history.pushState({}, '', '/demo/private-orders')")
    page.click("#add-monstera")
    page.evaluate("history.pushState({}, '', '/demo/#cart')")
    page.click("#add-fern")
    page.evaluate(FLUSH)
    events = export(daphne, alice, page.evaluate("replay.sessionId()"))

    assert "private" not in json.dumps(events)
    paused = next(
        i for i, e in enumerate(events) if e["type"] == 5 and e["data"]["tag"] == "replay/paused"
    )
    assert events[paused + 1]["type"] == 4  # nothing between the pause and the next page
    assert events[paused + 1]["data"]["href"] == f"{daphne.url}/demo/#cart"
    assert [e["type"] for e in events].count(2) == 2
    session = Session.objects.get()
    assert all("private" not in url for url in session.urls)


def test_sampled_out_sessions_are_not_recorded(daphne, shop, page):
    shop.sample_rate = 0.0
    shop.save()
    page.goto(f"{daphne.url}/demo/")
    assert page.evaluate(SETTLED) is None
    page.click("#add-fern")
    page.reload()  # the draw holds for the session: later pages are not recorded either
    assert page.evaluate(SETTLED) is None
    page.wait_for_timeout(300)
    assert not Session.objects.exists()


def test_do_not_track_is_respected_when_the_project_asks(daphne, shop, alice, browser, page):
    shop.respect_dnt = True
    shop.save()
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"
    )
    tracked_not = context.new_page()
    tracked_not.goto(f"{daphne.url}/demo/")
    assert tracked_not.evaluate(SETTLED) is None
    tracked_not.click("#add-fern")
    tracked_not.wait_for_timeout(300)
    assert not Session.objects.exists()
    context.close()

    page.goto(f"{daphne.url}/demo/")  # no Do Not Track: recorded
    page.wait_for_function("() => window.replay.sessionId()")
    assert Session.objects.count() == 1


def test_consent_required_by_the_project(daphne, shop, alice, page):
    shop.require_consent = True
    shop.save()
    page.goto(f"{daphne.url}/demo/")
    assert page.evaluate(SETTLED) is None
    page.click("#add-fern")
    page.wait_for_timeout(300)
    assert not Session.objects.exists()

    page.evaluate("replay.consent(true)")
    page.wait_for_function("() => window.replay.sessionId()")
    page.click("#add-cactus")
    page.evaluate(FLUSH)
    events = export(daphne, alice, page.evaluate("replay.sessionId()"))
    assert [e["type"] for e in events][:2] == [4, 2]
    assert any(e["type"] == 3 and e["data"].get("source") == 2 for e in events)  # the click


def test_a_change_in_the_project_reaches_a_page_already_recording(
    start_daphne, shop, alice, browser
):
    # Connections close after 2 quiet seconds; the recorder's next connection hears the
    # project's new options in its welcome and starts over with them.
    server = start_daphne(REPLAY_IDLE_TIMEOUT="2")
    shop.allowed_origins = [server.url]
    shop.save()
    context = browser.new_context()
    context.add_init_script(CAPTURE_EVENTS)
    page = context.new_page()
    page.goto(f"{server.url}/demo/")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    page.click("#add-fern")
    page.evaluate(FLUSH)

    shop.mask_all_text = True
    shop.save()
    page.wait_for_timeout(10_500)  # each server process rereads a project within 10 s
    page.click("#add-cactus")
    page.wait_for_function("() => window.__produced.filter((e) => e.type === 2).length >= 2")
    page.evaluate(FLUSH)
    events = export(server, alice, page.evaluate("replay.sessionId()"))
    context.close()

    first, second = (e["data"]["node"] for e in events if e["type"] == 2)
    assert "Boston fern" in list(texts(first))
    assert "Boston fern" not in list(texts(second))
    assert all(masked(text) for text in texts(second))
