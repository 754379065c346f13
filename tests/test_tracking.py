"""Event-tracking records from rrweb events (replay/tracking.py): what a product team
searches for later, named from the DOM mirror as the page stood at each event."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from replay.selectors import Selector
from replay.tracking import Extractor, Record
from tests.support import load_recording


def extract(events: list[dict[str, Any]]) -> list[Record]:
    extractor = Extractor()
    records: list[Record] = []
    for event in copy.deepcopy(events):
        records += extractor.feed(event)
    return records + extractor.close(events[-1]["timestamp"])


def test_the_checkout_recording_gives_the_records_a_person_would_list():
    events = load_recording("checkout")
    records = extract(events)
    kinds = Counter(r.kind for r in records)
    assert kinds == {
        "click": 21,
        "input": 10,
        "pageview": 1,
        "custom": 1,
        "scroll": 1,
        "console": 1,
    }
    view = records[0]
    assert (view.kind, view.data["how"], view.data["title"]) == (
        "pageview",
        "load",
        "Checkout - Harness Shop",
    )
    buys = [r for r in records if r.kind == "click" and r.data["selector"] == "#buy"]
    assert len(buys) == 7
    assert buys[0].data["text"] == "Buy now"
    assert buys[0].data["tag"] == "button"
    assert buys[0].data["classes"] == ["btn", "primary"]
    assert buys[0].data["actionable"] is True
    # Page coordinates: the click's viewport position plus the page's scroll.
    assert buys[0].data["y"] > 800
    # Inputs describe the field and never carry what was typed.
    notes = next(r for r in records if r.kind == "input" and r.data["id"] == "notes")
    assert notes.data["label"] == "Delivery notes"
    assert "Leave it" not in str(notes.data)
    names = [r for r in records if r.kind == "input" and r.data["id"] == "name"]
    assert len(names) == 1  # fifteen keystrokes, one record
    # A radio group: the choice, not the browser unchecking the others.
    radios = [r for r in records if r.kind == "input" and r.data["type"] == "radio"]
    assert [(r.data["label"], r.data["checked"]) for r in radios] == [("Express (+9.00)", True)]
    custom = next(r for r in records if r.kind == "custom")
    assert custom.data == {"name": "purchase", "props": {"order": "HS-10427", "total": 91.4}}
    depth = records[-1]
    assert depth.kind == "scroll"
    assert depth.data["depth_px"] > depth.data["viewport"] == 800


def test_a_label_passing_its_click_to_the_field_is_one_click():
    records = extract(load_recording("checkout"))
    at = [r for r in records if r.kind == "click" and r.data["text"] == "Create a password"]
    assert len(at) == 1
    assert not [r for r in records if r.kind == "click" and r.ts == at[0].ts and r is not at[0]]


def test_records_keep_enough_of_the_element_for_selectors_given_later():
    records = extract(load_recording("article"))
    link = next(r for r in records if r.kind == "click" and r.data["text"] == "Section 3")
    chain = link.data["ancestors"]
    assert Selector("#toc a").matches(link.data["element"], chain)
    assert Selector("ol > li > a").matches(link.data["element"], chain)
    assert not Selector("#sections a").matches(link.data["element"], chain)
    assert link.data["selector"] == "#toc > ol > li:nth-of-type(3) > a"


def test_scripted_changes_are_not_the_users_input():
    # "Toggle hot/done classes" in the spa recording ticks checkboxes from script, at the
    # moment of its click. The recorder now records with userTriggeredOnInput, which
    # marks such changes userTriggered: false; this recording predates that, so the
    # flag is set here: false at the toggle's moment, true elsewhere.
    events = copy.deepcopy(load_recording("spa"))
    toggled = next(
        r.ts for r in extract(events) if r.kind == "click" and r.data["selector"] == "#toggle"
    )
    by_script = 0
    for event in events:
        data = event.get("data")
        if isinstance(data, dict) and data.get("source") == 5:
            data["userTriggered"] = event["timestamp"] != toggled
            by_script += event["timestamp"] == toggled
    before = [r for r in extract(load_recording("spa")) if r.kind == "input"]
    after = [r for r in extract(events) if r.kind == "input"]
    assert by_script >= 19
    assert len(before) - len(after) == by_script
    assert all(r.ts != toggled for r in after)


def meta(ts: int, href: str) -> dict[str, Any]:
    return {"type": 4, "timestamp": ts, "data": {"href": href, "width": 1000, "height": 700}}


def snapshot(ts: int, title: str, body: list[Any]) -> dict[str, Any]:
    head = {
        "type": 2,
        "tagName": "head",
        "id": 3,
        "attributes": {},
        "childNodes": [
            {
                "type": 2,
                "tagName": "title",
                "id": 4,
                "attributes": {},
                "childNodes": [{"type": 3, "textContent": title, "id": 5}],
            }
        ],
    }
    html = {
        "type": 2,
        "tagName": "html",
        "id": 2,
        "attributes": {},
        "childNodes": [
            head,
            {"type": 2, "tagName": "body", "id": 6, "attributes": {}, "childNodes": body},
        ],
    }
    document = {"type": 0, "id": 1, "childNodes": [html]}
    return {
        "type": 2,
        "timestamp": ts,
        "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
    }


def custom(ts: int, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 5, "timestamp": ts, "data": {"tag": tag, "payload": payload}}


def test_page_views_loads_reloads_navigations_and_resynchronizing():
    masked = {
        "type": 2,
        "tagName": "button",
        "id": 7,
        "attributes": {"class": "pay"},
        "childNodes": [{"type": 3, "textContent": "*** ***", "id": 8}],
    }
    events = [
        meta(1000, "https://shop.example/"),
        snapshot(1000, "Shop", [masked]),
        custom(1001, "replay/page", {"referrer": "https://search.example/", "load": True}),
        {"type": 3, "timestamp": 1500, "data": {"source": 2, "type": 2, "id": 7, "x": 5, "y": 5}},
        # rrweb starting over on the same page (new options, a resync): not a page view.
        meta(2000, "https://shop.example/"),
        snapshot(2000, "Shop", [masked]),
        custom(2001, "replay/page", {"referrer": "https://search.example/", "load": False}),
        # The same URL loaded again: a reload.
        meta(3000, "https://shop.example/"),
        snapshot(3000, "Shop", [masked]),
        custom(3001, "replay/page", {"referrer": "https://shop.example/", "load": True}),
        custom(
            4000,
            "replay/navigation",
            {"href": "https://shop.example/cart", "kind": "pushState", "title": "Cart"},
        ),
        custom(4500, "replay/identify", {"id": "customer-17", "traits": {}}),
        custom(4600, "replay/error", {"kind": "error", "message": "x is undefined", "line": 3}),
        custom(4650, "replay/error", {"message": "y" * 9000, "stack": "at f\n" * 5000}),
        custom(4700, "coupon-tried", {"code": "SPRING"}),
        custom(4800, "replay/paused", {"reason": "excluded page"}),
    ]
    records = extract(events)
    views = [
        (r.ts, r.url, r.data["how"], r.data["referrer"]) for r in records if r.kind == "pageview"
    ]
    assert views == [
        (1000, "https://shop.example/", "load", "https://search.example/"),
        (3001, "https://shop.example/", "reload", "https://shop.example/"),
        (4000, "https://shop.example/cart", "pushState", "https://shop.example/"),
    ]
    click = next(r for r in records if r.kind == "click")
    assert click.data["text"] is None  # masked by the recorder: not guessed at
    assert click.data["selector"] == "body > button.pay"
    rest = [(r.kind, r.url, r.data) for r in records if r.kind in {"identify", "error", "custom"}]
    assert (
        rest
        == [
            ("identify", "https://shop.example/cart", {"user": "customer-17"}),
            (
                "error",
                "https://shop.example/cart",
                {"message": "x is undefined", "kind": "error", "line": 3},
            ),
            (  # what a page sends is kept up to a size, however long
                "error",
                "https://shop.example/cart",
                {"message": "y" * 4000, "stack": ("at f\n" * 5000)[:4000]},
            ),
            (
                "custom",
                "https://shop.example/cart",
                {"name": "coupon-tried", "props": {"code": "SPRING"}},
            ),
        ]
    )


def test_malformed_events_produce_no_records_and_no_errors():
    events = [
        meta(1000, "https://shop.example/"),
        {"type": 3, "timestamp": 1100, "data": {"source": 2, "type": 2, "id": 999}},
        {"type": 3, "timestamp": 1200, "data": {"source": 5, "id": "x"}},
        {"type": 3, "timestamp": "soon", "data": {"source": 2, "type": 2, "id": 1}},
        {"type": 5, "timestamp": 1300, "data": {"tag": "replay/navigation", "payload": None}},
        {"type": 3, "timestamp": 1400, "data": {"source": 1, "positions": [{"x": "a"}]}},
        {"type": 3, "timestamp": 1500},
    ]
    records = extract(events)
    assert all(r.kind == "pageview" for r in records)


def test_clicks_on_elements_the_page_listens_to_are_actionable_in_either_order():
    card = {
        "type": 2,
        "tagName": "div",
        "id": 7,
        "attributes": {"class": "card"},
        "childNodes": [{"type": 3, "textContent": "Fern", "id": 8}],
    }

    def clicked(ts: int) -> dict[str, Any]:
        return {
            "type": 3,
            "timestamp": ts,
            "data": {"source": 2, "type": 2, "id": 7, "x": 1, "y": 1},
        }

    listened = custom(0, "replay/clickable", {"id": 7})
    events = [
        meta(1000, "https://shop.example/"),
        snapshot(1000, "Shop", [card]),
        clicked(2000),  # nobody listens: not actionable
        {**listened, "timestamp": 3000},  # reported before rrweb's click
        clicked(3000),
        clicked(4000),
        {**listened, "timestamp": 4000},  # or after it
    ]
    clicks = [r for r in extract(events) if r.kind == "click"]
    assert [(r.ts, r.data["actionable"]) for r in clicks] == [
        (2000, False),
        (3000, True),
        (4000, True),
    ]


def test_scroll_depth_is_a_share_of_the_page_when_the_recorder_measured_it():
    events = [
        meta(1000, "https://shop.example/"),
        snapshot(1000, "Shop", []),
        custom(1001, "replay/page", {"load": True, "height": 2800}),
        {"type": 3, "timestamp": 2000, "data": {"source": 3, "id": 1, "x": 0, "y": 700}},
        custom(
            3000, "replay/navigation", {"href": "https://shop.example/cart", "kind": "pushState"}
        ),
        {"type": 3, "timestamp": 4000, "data": {"source": 3, "id": 1, "x": 0, "y": 100}},
    ]
    depths = [r.data for r in extract(events) if r.kind == "scroll"]
    assert depths == [
        {
            "depth_px": 1400,
            "viewport": 700,
            "vw": 1000,
            "scroller": "document",
            "page_height": 2800,
            "percent": 50,
        },
        # the recorder did not say how tall this one is
        {"depth_px": 800, "viewport": 700, "vw": 1000, "scroller": "document"},
    ]


def console(ts: int, level: str, *arguments: str) -> dict[str, Any]:
    """What rrweb's console plugin records (type 6), as other rrweb clients send it."""
    trace = ["HTMLButtonElement.<anonymous> (https://shop.example/app.js:12:7)"]
    payload = {"level": level, "trace": trace, "payload": list(arguments)}
    return {"type": 6, "timestamp": ts, "data": {"plugin": "rrweb/console@1", "payload": payload}}


def test_errors_from_rrwebs_console_plugin_are_error_records_and_make_error_clicks():
    from replay.friction import error_click
    from replay.signals import Signals

    checkout = load_recording("checkout")
    clicks = [e for e in checkout if e["type"] == 3 and e["data"].get("source") == 2]
    buy = next(e for e in clicks if e["data"].get("type") == 2)  # a click
    at = buy["timestamp"]
    events = [
        *[e for e in checkout if e["timestamp"] <= at],
        console(at + 300, "error", '"Uncaught TypeError: cart is null"'),
        console(at + 400, "assert", '"total matches"', "42"),
        console(at + 500, "warn", '"slow network"'),
        console(at + 600, "log", '"clicked"'),
    ]
    records = extract(events)
    errors = [(r.ts - at, r.data["message"], r.data["kind"]) for r in records if r.kind == "error"]
    assert errors == [
        (300, "Uncaught TypeError: cart is null", "console.error"),
        (400, "total matches 42", "console.assert"),
    ]
    assert "app.js:12:7" in next(r for r in records if r.kind == "error").data["stack"]
    found = error_click(records, Signals(), {"window_ms": 2000})
    assert [(f.ts, f.data["error"]) for f in found] == [(at, "Uncaught TypeError: cart is null")]
