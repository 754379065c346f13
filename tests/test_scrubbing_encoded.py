"""Scrubbing of personal data in the encoded forms real pages carry it (percent-encoded,
as numbers, as keys), each form in every place an rrweb event carries text, through the
real WebSocket ingest path; and the byte-level pre-check that lets clean batches through
undecoded finds every such form (tests/test_scrubbing.py has the plain forms)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from asgiref.sync import sync_to_async

from replay.models import Project
from replay.scrub import Scrubber
from tests.test_scrubbing import recorded_text

pytestmark = pytest.mark.django_db(transaction=True)


# Personal data in the forms real pages carry it, each form in every place an event
# carries text: (the URL or text that carries it, what must not be stored).
def luhn_completed(prefix: str) -> str:
    """`prefix` and the check digit that makes it a valid card number."""
    return next(prefix + d for d in "0123456789" if Scrubber().text(prefix + d) == "[card]")


def encoded_forms(i: int) -> dict[str, tuple[str, list[str]]]:
    phone = f"415 555 {1000 + i}"
    return {
        "percent-encoded email": (
            f"https://shop.example/r?ref=u{i}.roe%40example.com&lang=en",
            [f"u{i}.roe"],
        ),
        "percent-encoded phone": (
            f"https://shop.example/c?n=%2B1%20{phone.replace(' ', '%20')}",
            [phone.replace(" ", "%20"), phone, f"1415555{1000 + i}"],
        ),
        "plus for a space": (
            f"https://shop.example/s?q=call+{phone.replace(' ', '+')}+today",
            [phone.replace(" ", "+"), phone],
        ),
        "encoded twice": (
            f"https://shop.example/login?next=%2Fu%3Fe%3Dv{i}.roe%2540example.com",
            [f"v{i}.roe"],
        ),
        "compact phone": (f"tel:+1415555{2000 + i}", [f"1415555{2000 + i}"]),
    }


def carriers(url: str, at: int) -> dict[str, dict[str, Any]]:
    """An event for each place an event carries a URL or a text, carrying `url`."""
    element = {"type": 2, "tagName": "a", "id": 1000 + at, "attributes": {"href": url}}
    document = {"type": 0, "id": 999, "childNodes": [{**element, "childNodes": []}]}
    trace = f"Error: failed\n    at load ({url}:10:5)"

    def incremental(data: dict[str, Any]) -> dict[str, Any]:
        return {"type": 3, "data": data}

    return {
        "page URL": {"type": 4, "data": {"href": url, "width": 1280, "height": 800}},
        "snapshot attribute": {"type": 2, "data": {"node": document, "initialOffset": {}}},
        "mutation": incremental(
            {
                "source": 0,
                "adds": [],
                "removes": [],
                "texts": [],
                "attributes": [{"id": 5, "attributes": {"srcset": f"{url} 1x, /b.png 2x"}}],
            }
        ),
        "style declaration": incremental(
            {
                "source": 13,
                "id": 6,
                "index": [0],
                "set": {"property": "background", "value": f'url("{url}")'},
            }
        ),
        "style rule": incremental(
            {"source": 8, "id": 6, "adds": [{"rule": f".x {{ background: url({url}) }}"}]}
        ),
        "custom event": {"type": 5, "data": {"tag": "share", "payload": {"link": url}}},
        "plugin event": {
            "type": 6,
            "data": {"plugin": "rrweb/network@1", "payload": {"requests": [{"name": url}]}},
        },
        "console trace": {
            "type": 6,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {"level": "error", "payload": ['"failed"'], "trace": [trace]},
            },
        },
    }


def payload_carriers(value: Any, key: str) -> dict[str, dict[str, Any]]:
    """The events whose payloads a page fills as it likes, carrying `value` as a value
    and `key` as a map key (and an attribute's name, where an element carries maps)."""
    element = {"type": 2, "tagName": "div", "id": 2000, "childNodes": []}
    document = {
        "type": 0,
        "id": 999,
        "childNodes": [{**element, "attributes": {f"data-{key}": "1"}}],
    }
    return {
        "custom event": {
            "type": 5,
            "data": {"tag": "paid", "payload": {"card": value, "by": {key: True}}},
        },
        "plugin event": {
            "type": 6,
            "data": {"plugin": "shop/payments@1", "payload": {"items": [value], key: 1}},
        },
        "snapshot attribute name": {
            "type": 2,
            "data": {"node": document, "initialOffset": {}},
        },
        "mutation attribute name": {
            "type": 3,
            "data": {
                "source": 0,
                "adds": [],
                "removes": [],
                "texts": [],
                "attributes": [{"id": 5, "attributes": {key: "x"}}],
            },
        },
    }


def encoded_recording(start: int) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Events carrying every form in every place, one form per event (so that the
    pre-check must find each event on its own), and what each must not leave stored."""
    events: list[dict[str, Any]] = []
    leaks: dict[str, list[str]] = {}

    def add(what: str, event: dict[str, Any], secrets: list[str]) -> None:
        events.append({**event, "timestamp": start + len(events)})
        leaks[what] = secrets

    for form in encoded_forms(0):
        for place in carriers("", 0):
            url, secrets = encoded_forms(len(events))[form]
            add(f"{form} in {place}", carriers(url, len(events))[place], [url, *secrets])
    payload_places = ["custom event", "plugin event"]
    for place in payload_places:
        n = len(events)
        card = int(luhn_completed(f"4242424242{n:05d}"))
        add(f"card as a number in {place}", payload_carriers(card, "x")[place], [str(card)])
        phone = 14155550000 + n
        add(f"phone as a number in {place}", payload_carriers(phone, "x")[place], [str(phone)])
        big = float(luhn_completed(f"5555555555{n:05d}"))
        add(f"card as a float in {place}", payload_carriers(big, "x")[place], [str(int(big))])
    for place in [*payload_places, "snapshot attribute name", "mutation attribute name"]:
        key = f"k{len(events)}@example.com"
        add(f"email as a key in {place}", payload_carriers(1, key)[place], [key])
    return events, leaks


async def test_personal_data_in_encoded_urls_numbers_and_keys_is_not_stored(alices_shop):
    shop = await sync_to_async(Project.objects.create)(
        name="Scrubbed shop", allowed_origins=["https://shop.alice.example"]
    )
    events, leaks = encoded_recording(1_700_000_000_000)
    stored = await recorded_text(shop.key, events)
    leaked = {what: s for what, secrets in leaks.items() for s in secrets if s in stored}
    assert not leaked
    assert len(leaks) == 5 * 8 + 3 * 2 + 4
    for mark in ("[email]", "[phone]", "[card]"):
        assert mark in stored
    # What was around the personal data is kept, the URL still a URL.
    assert "https://shop.example/r?ref=[email]&lang=en" in stored
    assert "tel:[phone]" in stored
    assert '"card": "[card]"' in stored
    assert '"[email]": true' in stored


def test_clean_batches_with_escapes_plus_signs_and_wide_numbers_pass_the_pre_check():
    scrubber = Scrubber()
    clean = msgpack.packb(
        [
            {"type": 3, "timestamp": 1_764_000_000_000, "data": {"source": 1, "x": 0.5}},
            {"type": 4, "timestamp": 1_764_000_000_001, "data": {"href": "https://x/a%20b"}},
            {"type": 3, "timestamp": 1_764_000_000_002, "data": {"text": "width:100%; a+b"}},
            {
                "type": 5,
                "timestamp": 1_764_000_000_003,
                "data": {
                    "payload": {
                        "at": 1_764_000_000_000,
                        "seconds": 1_764_000_000,
                        "price": 1999.99,
                        "ratio": 1.5,
                        "order": 123456,
                        "query": "q=red+shoes&page=2%2C3",
                    }
                },
            },
        ],
        use_bin_type=True,
    )
    assert not scrubber.needed(clean)
    for personal in (
        {"payload": {"n": 4242424242424242}},
        {"payload": {"n": 14155550142}},
        {"payload": {"n": 4155550142}},
        {"href": "https://x/u/jane%40example.com"},
        {"href": "mailto:jane%2540example.com"},
        {"text": "call %2B1%20415%20555%200142"},
        {"href": "tel:+14155550142"},
    ):
        packed = msgpack.packb([{"type": 5, "timestamp": 1, "data": personal}])
        assert scrubber.needed(packed), personal
