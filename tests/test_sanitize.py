"""What could run code in a viewer's browser is taken out of recordings before they are
stored, for every project (replay/sanitize.py), while ordinary recordings are stored
exactly as sent. The player's own defences against what is stored anyway are tested in
test_player_hostile.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from asgiref.sync import sync_to_async

from replay import sanitize
from replay.models import Session
from replay.segments import iter_events
from replay.storage import get_storage
from tests import hostile
from tests.support import batch, hello, load_recording
from tests.test_consumer import connect, receive, wait_for_ack

SCRIPT_URL = ("javascript:", "vbscript:", "data:text/html")


def elements(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for child in node.get("childNodes", []):
        yield from elements(child)


def every_node(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for event in events:
        if event["type"] == 2:
            yield from elements(event["data"]["node"])
        elif event["type"] == 3 and event["data"].get("source") == 0:
            for add in event["data"]["adds"]:
                yield from elements(add["node"])


def assert_harmless(events: list[dict[str, Any]]) -> None:
    changes = [
        change["attributes"]
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 0
        for change in e["data"]["attributes"]
    ]
    nodes = list(every_node(events))
    for attributes in [n.get("attributes", {}) for n in nodes] + changes:
        for name, value in attributes.items():
            if name.lower().startswith("on") or name == "srcdoc":
                assert value is None, name  # only as a removal
            if isinstance(value, str):
                squeezed = "".join(value.split()).lower()
                assert not squeezed.startswith(SCRIPT_URL), (name, value)
            if name == "http-equiv":
                assert value.lower() != "refresh"
    scripts = [n for n in nodes if n.get("tagName") == "script"]
    assert scripts
    for script in scripts:
        assert set(script["attributes"]) <= {"type"}
        assert all(c["textContent"] == "SCRIPT_PLACEHOLDER" for c in script["childNodes"])


def test_the_hostile_recording_is_made_harmless():
    events = [sanitize.event(copy.deepcopy(e)) for e in hostile.recording()]
    assert_harmless(events)
    # What is not code stays: the replay still shows the page.
    snapshot = next(e for e in events if e["type"] == 2)
    images = [n for n in elements(snapshot["data"]["node"]) if n.get("tagName") == "img"]
    assert {"src": "x"} in [n["attributes"] for n in images]
    assert any(n["attributes"].get("src", "").startswith("data:image/svg+xml") for n in images)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ONERROR", "x()"),
        ("OnMouseOver", "x()"),
        ("oncontentvisibilityautostatechange", "x()"),  # longer than a msgpack fixstr
        ("href", "java\tscript:x()"),
        ("href", "  JaVaScRiPt:x()"),
        ("src", "jav\nascript:x()"),
        ("action", "vbscript:x"),
        ("data", "data:text/html,<script>x()</script>"),
        ("src", "data:image/svg+xml,<svg onload=x()>"),  # in a change: the tag is unknown
    ],
)
def test_disguised_attributes_are_found_in_the_bytes_and_removed(name, value):
    attributes = [{"id": 5, "attributes": {name: value}}]
    data = {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": attributes}
    change = {"type": 3, "timestamp": 1, "data": data}
    assert sanitize.needed(msgpack.packb(change))
    cleaned = sanitize.event(copy.deepcopy(change))
    assert cleaned["data"]["attributes"][0]["attributes"] == {name: None}


def test_lazy_images_and_ordinary_pages_are_left_as_they_are():
    png = "data:image/png;base64,iVBORw0KGgo="
    attributes = [{"id": 5, "attributes": {"src": png}}]
    data = {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": attributes}
    change = {"type": 3, "timestamp": 1, "data": data}
    assert sanitize.event(copy.deepcopy(change)) == change
    for name in ("checkout", "spa", "article", "routes"):
        recording = load_recording(name)
        assert [sanitize.event(copy.deepcopy(e)) for e in recording] == recording


def stored(session_id: str) -> list[dict[str, Any]]:
    return list(iter_events(Session.objects.get(pk=session_id), get_storage()))


@pytest.mark.django_db(transaction=True)
async def test_ingest_stores_the_hostile_recording_harmless_even_without_scrubbing(alices_shop):
    assert not alices_shop.scrub
    comm = connect()
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(bytes_data=hello(alices_shop.key))
    welcome = await receive(comm)
    assert welcome["type"] == "welcome"
    await comm.send_to(bytes_data=batch(0, hostile.recording()))
    await comm.send_to(bytes_data=batch(1, load_recording("spa")))
    await wait_for_ack(comm, 1)
    await comm.disconnect()

    events = await sync_to_async(stored)(welcome["session"])
    count = len(hostile.recording())
    assert_harmless(events[:count])
    assert events[count:] == load_recording("spa")  # an ordinary recording, exactly


def test_names_no_browser_takes_become_placeholders_and_plain_ones_stay():
    from tests.test_player_hostile import names_no_browser_takes

    events = names_no_browser_takes()
    packed = msgpack.packb(events)
    assert sanitize.needed(packed)
    cleaned = [sanitize.event(copy.deepcopy(event)) for event in events]
    doctype, html = cleaned[1]["data"]["node"]["childNodes"]
    assert doctype["name"] == "html"
    odd, after = html["childNodes"][1]["childNodes"]
    assert (odd["tagName"], odd["childNodes"][0]["textContent"]) == ("span", "inside the odd one")
    assert after["tagName"] == "p"
    added = cleaned[2]["data"]["adds"]
    assert [a["node"].get("tagName") for a in added] == ["span", None, "base"]
    assert added[2]["node"]["attributes"] == {}  # the base's javascript: href is gone
    plain = [
        {
            "type": 3,
            "timestamp": 1,
            "data": {
                "source": 0,
                "adds": [
                    {
                        "parentId": 1,
                        "node": {
                            "type": 2,
                            "id": 2,
                            "tagName": "my-widget",
                            "attributes": {},
                            "childNodes": [],
                        },
                    }
                ],
            },
        }
    ]
    assert not sanitize.needed(msgpack.packb(plain))  # nothing to decode for plain names
