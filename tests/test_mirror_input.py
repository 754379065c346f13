"""The DOM mirror given what no browser sends: it counts what it cannot apply by reason,
never raises (ingest must not crash on one session's bad events), and never writes a
keyframe from a page it could not build."""

from __future__ import annotations

import copy
from typing import Any

from replay.mirror import Mirror, keyframe
from replay.mirror.tree import MAX_NODES

Event = dict[str, Any]


def snapshot(*body: dict[str, Any]) -> Event:
    return {
        "type": 2,
        "timestamp": 1,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "id": 2,
                        "tagName": "html",
                        "attributes": {},
                        "childNodes": [
                            {
                                "type": 2,
                                "id": 3,
                                "tagName": "body",
                                "attributes": {},
                                "childNodes": list(body),
                            }
                        ],
                    }
                ],
            },
            "initialOffset": {"left": 0, "top": 0},
        },
    }


def mutation(**data: Any) -> Event:
    return {"type": 3, "timestamp": 2, "data": {"source": 0, **data}}


def element(node_id: int, tag: str = "p", **attributes: str) -> dict[str, Any]:
    return {"type": 2, "id": node_id, "tagName": tag, "attributes": attributes, "childNodes": []}


def body_of(frame: list[Event]) -> list[dict[str, Any]]:
    html = frame[1]["data"]["node"]["childNodes"][0]
    children: list[dict[str, Any]] = html["childNodes"][0]["childNodes"]
    return children


def test_bad_events_are_counted_by_reason_and_the_page_goes_on():
    mirror = Mirror()
    mirror.apply({"type": 3, "data": {"source": 0, "adds": []}})  # before any snapshot
    mirror.apply(snapshot(element(10, id="a")))
    bad: list[Any] = [
        {"type": 3, "data": "not a map"},
        {"type": 3, "data": {"source": 0, "adds": [{"parentId": 3}]}},  # no node
        mutation(adds=[{"parentId": 999, "nextId": None, "node": element(11)}]),
        mutation(removes=[{"parentId": 3, "id": 12345}]),
        mutation(texts=[{"id": 4242, "value": "x"}]),
        mutation(adds=[{"parentId": 3, "nextId": None, "node": {"type": 2, "id": [1]}}]),
        mutation(attributes=[{"id": 10, "attributes": ["not", "a", "map"]}]),
        {"type": 3, "data": {"source": 99}},
        {"type": 42, "data": {}},
        {"type": 5, "data": {"tag": "custom events have nothing to mirror"}},
        {"type": 3, "data": {"source": 8, "id": 10, "adds": [{"rule": "p{}", "index": 0}]}},
    ]
    for event in bad:
        mirror.apply(event)
    assert mirror.skipped == {
        "event without data": 1,
        "unknown event type": 1,
        "before the first full snapshot": 1,
        "malformed event: KeyError": 1,
        "add with an unknown parent or sibling": 1,
        "remove of an unknown node": 1,
        "text of an unknown node": 1,
        "malformed event: TypeError": 1,
        "malformed event: AttributeError": 1,
        "unknown incremental source": 1,
        "rule change of an unknown sheet": 1,
    }
    # What came before and what comes after still apply.
    mirror.apply(mutation(adds=[{"parentId": 3, "nextId": None, "node": element(20, "em")}]))
    mirror.apply(mutation(attributes=[{"id": 10, "attributes": {"class": "done"}}]))
    frame = keyframe(mirror, 5)
    assert frame is not None
    assert [(n["id"], n["tagName"], n["attributes"]) for n in body_of(frame)] == [
        (10, "p", {"id": "a", "class": "done"}),
        (20, "em", {}),
    ]


def test_a_node_moved_into_itself_is_refused_not_looped_over():
    mirror = Mirror()
    inner = element(11, "span")
    mirror.apply(snapshot({**element(10, "div"), "childNodes": [inner]}))
    mirror.apply(mutation(adds=[{"parentId": 11, "nextId": None, "node": element(10, "div")}]))
    mirror.apply(mutation(adds=[{"parentId": 10, "nextId": None, "node": element(10, "div")}]))
    assert mirror.skipped == {"add of a node into itself": 2}
    frame = keyframe(mirror, 2)
    assert frame is not None
    assert [(n["id"], [c["id"] for c in n["childNodes"]]) for n in body_of(frame)] == [(10, [11])]


def test_no_keyframe_from_a_snapshot_the_mirror_could_not_build():
    mirror = Mirror()
    mirror.apply(snapshot(element(10)))
    assert keyframe(mirror, 2) is not None
    broken = snapshot(element(10))
    broken["data"]["node"]["childNodes"][0]["childNodes"] = [{"type": 2, "tagName": "body"}]
    mirror.apply(broken)  # a node without an id
    assert mirror.skipped["malformed event: KeyError"] == 1
    assert keyframe(mirror, 3) is None
    # Nor from a page nested deeper than the mirror walks.
    deep: dict[str, Any] = element(100)
    for node_id in range(101, 5000):
        deep = {**element(node_id, "div"), "childNodes": [deep]}
    mirror.apply(snapshot(deep))
    assert mirror.skipped["malformed event: RecursionError"] == 1
    assert keyframe(mirror, 4) is None
    # A good snapshot brings keyframes back.
    mirror.apply(snapshot(element(10)))
    assert keyframe(mirror, 5) is not None


def test_canvas_drawing_means_no_keyframe_until_the_next_snapshot():
    mirror = Mirror()
    mirror.apply(snapshot(element(10, "canvas")))
    mirror.apply({"type": 3, "timestamp": 2, "data": {"source": 9, "id": 10, "commands": []}})
    assert mirror.inexact == "canvas drawing"
    assert keyframe(mirror, 3) is None
    mirror.apply(snapshot(element(10, "canvas")))
    assert keyframe(mirror, 4) is not None


def test_a_keyframe_is_a_copy_later_events_do_not_change():
    mirror = Mirror()
    mirror.apply(snapshot(element(10, id="a")))
    mirror.apply({"type": 3, "timestamp": 2, "data": {"source": 5, "id": 10, "text": "hi"}})
    frame = keyframe(mirror, 2)
    assert frame is not None
    before = copy.deepcopy(frame)
    mirror.apply(mutation(attributes=[{"id": 10, "attributes": {"id": "b"}}]))
    mirror.apply(mutation(adds=[{"parentId": 10, "nextId": None, "node": element(11)}]))
    mirror.apply(mutation(removes=[{"parentId": 3, "id": 10}]))
    assert frame == before
    assert all(event["synthetic"] for event in frame)
    # A node removed with its value leaves no input event behind.
    later = keyframe(mirror, 3)
    assert later is not None
    assert body_of(later) == []
    assert [e for e in later if e["type"] == 3 and e["data"]["source"] == 5] == []


def test_a_page_holds_at_most_max_nodes_and_writes_no_keyframe_past_them():
    """A hostile recording adding nodes without end would fill the worker's memory: the
    mirror adds at most MAX_NODES, counts the rest, and writes no keyframe of a page it
    no longer holds whole, until the next full snapshot."""
    mirror = Mirror()
    mirror.apply(snapshot(element(10, "ul")))
    held = len(mirror.nodes)
    adds = [
        {"parentId": 10, "nextId": None, "node": element(100 + n, "li")}
        for n in range(MAX_NODES - held + 25)
    ]
    mirror.apply(mutation(adds=adds[: MAX_NODES - held], removes=[], texts=[], attributes=[]))
    assert len(mirror.nodes) == MAX_NODES
    assert keyframe(mirror, 3) is not None  # whole, at the cap
    mirror.apply(mutation(adds=adds[MAX_NODES - held :], removes=[], texts=[], attributes=[]))
    assert len(mirror.nodes) == MAX_NODES
    assert mirror.skipped == {"node past the page's node cap": 25}
    assert keyframe(mirror, 4) is None
    # Room again, but a node is missing: still no keyframe.
    mirror.apply(mutation(adds=[], removes=[{"parentId": 10, "id": 100}], texts=[], attributes=[]))
    assert keyframe(mirror, 5) is None
    mirror.apply(snapshot(element(10, "ul")))
    assert keyframe(mirror, 6) is not None
