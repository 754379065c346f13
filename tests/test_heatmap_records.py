"""What heatmaps read from the records (replay/tracking.py, replay/scrolling.py): where
in its element each click fell and at which window width, and how far each page view
was read on the element that scrolls it."""

from __future__ import annotations

from typing import Any

from replay.friction import detect
from replay.tracking import Extractor, Record
from tests.test_tracking import custom, extract, meta, snapshot

BUTTON = {
    "type": 2,
    "tagName": "button",
    "id": 7,
    "attributes": {"id": "buy"},
    "childNodes": [{"type": 3, "textContent": "Buy", "id": 8}],
}
MAIN = {"type": 2, "tagName": "main", "id": 9, "attributes": {"class": "content"}, "childNodes": []}


def click(ts: int, node: int = 7, x: int = 10, y: int = 20) -> dict[str, Any]:
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 2, "type": 2, "id": node, "x": x, "y": y},
    }


def scroll(ts: int, node: int, y: int) -> dict[str, Any]:
    return {"type": 3, "timestamp": ts, "data": {"source": 3, "id": node, "x": 0, "y": y}}


def place(ts: int, fx: Any, fy: Any, node: int = 7) -> dict[str, Any]:
    return custom(ts, "replay/click", {"id": node, "fx": fx, "fy": fy})


def clicks(events: list[dict[str, Any]]) -> list[Record]:
    start = [meta(1000, "https://shop.example/"), snapshot(1000, "Shop", [BUTTON, MAIN])]
    return [r for r in extract(start + events) if r.kind == "click"]


def test_a_click_keeps_where_in_its_element_it_fell_and_the_windows_width():
    found = clicks(
        [
            place(2000, 0.25, 0.5),  # the recorder's note before rrweb's click
            click(2001),
            click(3000),
            place(3002, 1, 0),  # or after it
            click(4000),  # with the keyboard: no place
            place(5000, 0.5, 0.5, node=9),  # a note about another element
            click(5000),
            place(6000, 0.5, 0.5),  # too long before
            click(6100),
        ]
    )
    places = [(r.ts, r.data.get("fx"), r.data.get("fy"), r.data["vw"]) for r in found]
    assert places == [
        (2001, 0.25, 0.5, 1000),
        (3000, 1, 0, 1000),
        (4000, None, None, 1000),
        (5000, None, None, 1000),
        (6100, None, None, 1000),
    ]
    assert (found[0].data["x"], found[0].data["y"]) == (10, 20)  # page coordinates too


def test_fast_clicks_on_one_element_each_keep_their_own_place():
    # A fast test driver (or a rage click) clicks the same button every 20 ms: each
    # recorder note comes just before its own click and within the note window of the
    # click before it, which already has its place.
    events = []
    for i in range(5):
        events += [place(2000 + 20 * i, (i + 1) / 8, 0.5), click(2000 + 20 * i)]
    found = clicks(events)
    assert [r.data.get("fx") for r in found] == [0.125, 0.25, 0.375, 0.5, 0.625]


def test_a_place_outside_the_box_or_not_a_number_is_ignored():
    bad = [(1.5, 0.5), ("0.5", 0.5), (None, 0.5), (True, 0.5)]
    at = [2000 + 1000 * i for i in range(len(bad))]
    found = clicks(
        [e for t, (fx, fy) in zip(at, bad, strict=True) for e in (place(t, fx, fy), click(t))]
    )
    assert all("fx" not in r.data for r in found)


def test_friction_keeps_the_place_of_its_click():
    events = [place(2000 + i * 100, 0.5, 0.75) for i in range(3)]
    events = [e for i, e in enumerate(events) for e in (e, click(2000 + i * 100))]
    extractor = Extractor()
    records: list[Record] = []
    start = [meta(1000, "https://shop.example/"), snapshot(1000, "Shop", [BUTTON])]
    for event in start + events:
        records += extractor.feed(event)
    records += extractor.close(3000)
    rage = [r for r in detect(records, extractor.signals) if r.data["type"] == "rage_click"]
    assert [(r.data["fx"], r.data["fy"], r.data["vw"], r.data["selector"]) for r in rage] == [
        (0.5, 0.75, 1000, "#buy")
    ]


def depths(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = [meta(1000, "https://shop.example/"), snapshot(1000, "Shop", [BUTTON, MAIN])]
    return [r.data for r in extract(start + events) if r.kind == "scroll"]


def test_a_page_view_never_scrolled_read_to_the_fold():
    assert depths([custom(1001, "replay/page", {"load": True, "height": 2800})]) == [
        {
            "depth_px": 700,
            "viewport": 700,
            "vw": 1000,
            "scroller": "document",
            "page_height": 2800,
            "percent": 25,
        }
    ]


def test_depth_is_measured_on_the_container_that_scrolls_the_page():
    events = [
        custom(1001, "replay/page", {"load": True, "height": 700}),  # the document: no scroll
        scroll(2000, 9, 900),  # rrweb: <main> scrolled to 900
        custom(2001, "replay/scroller", {"id": 9, "height": 3000, "viewport": 600}),
        scroll(3000, 9, 2400),
        scroll(3500, 9, 1000),  # back up: the deepest point stays
        scroll(3600, 7, 5000),  # another element scrolling is not the page
        custom(4000, "replay/navigation", {"href": "https://shop.example/b", "kind": "pushState"}),
        scroll(5000, 9, 300),  # the app's container is still the page after a navigation
    ]
    assert depths(events) == [
        {
            "depth_px": 3000,
            "viewport": 600,
            "vw": 1000,
            "scroller": "container",
            "selector": "body > main.content",
            "page_height": 3000,
            "percent": 100,
        },
        {
            "depth_px": 900,
            "viewport": 600,
            "vw": 1000,
            "scroller": "container",
            "selector": "body > main.content",
            "page_height": 3000,
            "percent": 30,
        },
    ]


def test_a_document_that_scrolls_is_the_page_whatever_scrolls_inside_it():
    events = [
        custom(1001, "replay/page", {"load": True, "height": 2000}),
        scroll(2000, 9, 400),  # a box inside the page
        scroll(2100, 1, 300),  # the document
        custom(2101, "replay/scroller", {"id": 0, "height": 2000, "viewport": 700}),
    ]
    assert depths(events) == [
        {
            "depth_px": 1000,
            "viewport": 700,
            "vw": 1000,
            "scroller": "document",
            "page_height": 2000,
            "percent": 50,
        }
    ]
