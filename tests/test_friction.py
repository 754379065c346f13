"""Friction detectors (replay/friction.py) on crafted records, with the look-alikes each
must not report, and on the corpus recordings, whose notes say where the scripted user
met friction."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from replay.friction import DETECTORS, detect
from replay.signals import Signals
from replay.tracking import Extractor, Record
from tests.support import load_recording

URL = "https://shop.example/cart"


def click(ts: int, x: int = 100, y: int = 100, **data: Any) -> Record:
    described = {"selector": "#buy", "tag": "button", "actionable": True, "editable": False}
    return Record("click", ts, URL, {**described, "x": x, "y": y, **data})


def view(ts: int, url: str) -> Record:
    return Record("pageview", ts, url, {"how": "load"})


def found(records: list[Record], signals: Signals | None = None, **thresholds: Any) -> list[str]:
    results = detect(records, signals or Signals(), thresholds)
    return [f"{r.data['type']}@{r.ts}" for r in results]


def only(kind: str, records: list[Record], signals: Signals | None = None, **over: Any):
    results = detect(records, signals or Signals(), {kind: over} if over else None, only=[kind])
    return [(r.ts, r.data) for r in results]


def test_every_detector_is_versioned_with_published_defaults():
    names = [d.name for d in DETECTORS]
    assert names == [
        "rage_click",
        "dead_click",
        "error_click",
        "thrashed_cursor",
        "quick_back",
        "form_abandonment",
        "excessive_scrolling",
    ]
    rage = DETECTORS[0]
    assert rage.defaults == {"clicks": 3, "window_ms": 1000, "radius_px": 30}
    assert DETECTORS[1].defaults == {"window_ms": 2500}
    assert DETECTORS[2].defaults == {"window_ms": 2000}
    assert DETECTORS[4].defaults == {"window_ms": 5000}
    assert all(d.label == f"{d.name}@{d.version}" for d in DETECTORS)


def test_rage_clicks_and_their_lookalikes():
    burst = [click(1000), click(1300, 110, 95), click(1600, 95, 104)]
    [(ts, data)] = only("rage_click", burst)
    assert (ts, data["clicks"], data["selector"], data["detector"]) == (
        1000,
        3,
        "#buy",
        "rage_click@1",
    )
    assert only("rage_click", [click(1000), click(1600), click(2100)]) == []  # too slow
    assert only("rage_click", [click(1000), click(1200, 160), click(1400, 220)]) == []  # apart
    # A triple click on text selects a paragraph; a fourth click is not selection.
    text: dict[str, Any] = {"actionable": False, "selector": "p", "tag": "p"}
    triple = [click(1000, **text), click(1150, **text), click(1300, **text)]
    assert only("rage_click", triple) == []
    assert len(only("rage_click", [*triple, click(1450, **text)])) == 1
    # A text field: repeated clicks place the caret and select words.
    field: dict[str, Any] = {"editable": True, "selector": "#name", "tag": "input"}
    assert (
        only("rage_click", [click(1000, **field), click(1200, **field), click(1400, **field)]) == []
    )
    # A stepper: the page answers every click before the next one.
    answered = Signals(changes=[1010, 1310])
    assert only("rage_click", burst, answered) == []
    assert len(only("rage_click", burst, Signals(changes=[1010]))) == 1  # then it stopped
    # Thresholds are the project's to set.
    assert only("rage_click", burst, clicks=4) == []


def test_dead_clicks_wait_for_any_answer_from_the_page():
    later = Record("custom", 9000, URL, {"name": "still here"})
    assert [ts for ts, _ in only("dead_click", [click(1000), later])] == [1000]
    assert only("dead_click", [click(1000), later], Signals(changes=[2000])) == []
    assert only("dead_click", [click(1000), later], Signals(changes=[1000])) == []  # at once
    assert only("dead_click", [click(1000), view(1800, URL + "/next"), later]) == []
    assert only("dead_click", [click(1000, actionable=False), later]) == []
    assert only("dead_click", [click(1000)]) == []  # the recording ends: undecided
    # A burst on one element is one dead click with its count.
    burst = [click(1000), click(1200), click(1400), later]
    assert [(ts, d["clicks"]) for ts, d in only("dead_click", burst)] == [(1000, 3)]


def test_error_clicks():
    error = Record("error", 2500, URL, {"message": "TypeError: cart is undefined"})
    [(ts, data)] = only("error_click", [click(1000), error])
    assert (ts, data["error"]) == (1000, "TypeError: cart is undefined")
    late = Record("error", 3500, URL, {"message": "late"})
    assert only("error_click", [click(1000), late]) == []


def test_a_request_that_fails_after_a_click_is_an_error_click():
    def request(ts: int, reason: str, status: int | None) -> Record:
        data = {"method": "POST", "url": "https://shop.example/api/pay", "status": status}
        return Record("network", ts, URL, {**data, "reason": reason})

    [(ts, data)] = only("error_click", [click(1000), request(1800, "status", 500)])
    assert (ts, data["request"]) == (1000, "POST https://shop.example/api/pay 500")
    assert data["detector"] == "error_click@2"
    [(_, data)] = only("error_click", [click(1000), request(1100, "failed", 0)])
    assert data["request"].endswith(" failed")
    # A slow answer is not a failure, and a failure after the window is not this click's.
    assert only("error_click", [click(1000), request(1200, "slow", 200)]) == []
    assert only("error_click", [click(1000), request(3100, "status", 503)]) == []


def zigzag(start: int, legs: int, step_ms: int = 100, width: int = 120) -> Signals:
    pointer = [(start + i * step_ms, 300.0 + (width if i % 2 else 0), 200.0) for i in range(legs)]
    return Signals(pointer=pointer)


def test_thrashed_cursor():
    anchor = [view(0, URL)]
    [(ts, data)] = only("thrashed_cursor", anchor, zigzag(1000, 10))
    assert (ts, data["type"], data["turns"]) == (1200, "thrashed_cursor", 6)
    assert only("thrashed_cursor", anchor, zigzag(1000, 10, step_ms=600)) == []  # slow
    assert only("thrashed_cursor", anchor, zigzag(1000, 10, width=20)) == []  # a tremble
    assert only("thrashed_cursor", [*anchor, click(1500)], zigzag(1000, 10)) == []  # aiming


def test_quick_back():
    records = [view(0, "/cart"), view(1000, "/shipping"), view(3000, "/cart")]
    [(ts, data)] = only("quick_back", records)
    assert (ts, data["returned_to"], data["stayed_ms"]) == (1000, "/cart", 2000)
    assert (
        only("quick_back", [view(0, "/cart"), view(1000, "/shipping"), view(9000, "/cart")]) == []
    )


def typed(ts: int, selector: str, form: str | None = "checkout") -> Record:
    ancestors = [{"type": 2, "tagName": "label", "attributes": {}}]
    if form:
        ancestors.append({"type": 2, "tagName": "form", "attributes": {"id": form}})
    return Record("input", ts, URL, {"selector": selector, "ancestors": ancestors})


def test_form_abandonment():
    left = [view(0, URL), typed(1000, "#name"), typed(2000, "#email"), view(5000, "/home")]
    [(ts, data)] = only("form_abandonment", left)
    # At the moment the form was left, with when it was first filled in.
    assert (ts, data["form"], data["fields"], data["first_input_ts"]) == (5000, "checkout", 2, 1000)
    assert data["detector"] == "form_abandonment@2"
    button = {"type": 2, "tagName": "button", "attributes": {"type": "button"}}
    form = [{"type": 2, "tagName": "form", "attributes": {"id": "checkout"}}]
    sent = click(3000, element=button, ancestors=form)
    assert only("form_abandonment", [*left[:3], sent, left[3]]) == []
    assert only("form_abandonment", [view(0, URL), typed(1000, "#q", form=None)]) == []
    # The session ended there: the moment is the last thing done.
    assert [ts for ts, _ in only("form_abandonment", left[:3])] == [2000]
    assert only("form_abandonment", left, fields=3) == []


def test_excessive_scrolling():
    ys = [0, 1200, 100, 1300, 50, 1250, 0]
    signals = Signals(scrolls=[(1000 + i * 1500, float(y)) for i, y in enumerate(ys)])
    [(ts, data)] = only("excessive_scrolling", [view(0, URL)], signals)
    assert (ts, data["reversals"]) == (4000, 4)  # from the first reversal
    calm = Signals(scrolls=[(1000 + i * 1500, float(y)) for i, y in enumerate([0, 800, 1600, 900])])
    assert only("excessive_scrolling", [view(0, URL)], calm) == []
    # Reversals across two page views are two readers, not one lost one.
    split = [view(0, URL), view(6000, "/other")]
    assert only("excessive_scrolling", split, signals) == []


def corpus_friction(name: str) -> list[tuple[int, str]]:
    events = load_recording(name)
    extractor = Extractor()
    records: list[Record] = []
    for event in copy.deepcopy(events):
        records += extractor.feed(event)
    records += extractor.close(events[-1]["timestamp"])
    start = events[0]["timestamp"]
    return [(r.ts - start, r.data["type"]) for r in detect(records, extractor.signals)]


def test_the_checkout_recording_has_the_friction_its_notes_describe():
    # Notes: "a dead click on Buy now before the terms box is ticked (20.3 s), a rage
    # click (5 fast clicks) on it (22.5 s)". The dead "Apply a coupon" link at 23.9 s is
    # followed by a scroll 1.8 s later, which the definition counts as an answer.
    friction = corpus_friction("checkout")
    assert friction == [(20766, "dead_click"), (22653, "rage_click"), (22653, "dead_click")]


@pytest.mark.parametrize("name", ["article", "routes"])
def test_calm_recordings_have_no_friction(name):
    assert corpus_friction(name) == []
