"""Scrubbing, on by default: personal data placed in every place an rrweb event can
carry text goes through the real ingest path (WebSocket and HTTP batches), and none of
it reaches storage or the database; what is not personal is stored as sent."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from asgiref.sync import sync_to_async

from replay.models import Project, Session
from replay.scrub import Scrubber
from replay.segments import iter_events
from replay.storage import get_storage
from tests.support import batch, hello
from tests.test_consumer import connect, receive, wait_for_ack

pytestmark = pytest.mark.django_db(transaction=True)

PII = {
    "jane.doe@example.com": "email",
    "jane%40example.com": "email in a query",
    "4242 4242 4242 4242": "card",
    "5555555555554444": "card",
    "4012-8888-8888-1881": "card",
    "+1 (415) 555-2671": "phone",
    "020 7946 0958": "phone",
    "123-45-6789": "ssn",
    "GB82 WEST 1234 5698 7654 32": "iban",
    "sk_live_abcdefghij1234": "token",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_Xg": "token",
    "s3cr3t-session": "sensitive query value",
    "fr4gment-t0ken": "sensitive value in a URL's fragment",
    "h4sh-r0ute-t0ken": "sensitive value in a hash route's query",
    "ORD-123456": "project pattern",
    "carol@example.net": "email in a custom event",
    "bob@example.org": "email in a mutation",
    "dan@example.com": "email in a style change",
    "erin@example.com": "email in a style rule",
    "frank@example.com": "email in a style declaration",
    "+44 20 7946 0000": "phone in an adopted style sheet",
    "grace@example.com": "email in a console message",
    "l0gged": "sensitive value of a URL in a console message",
    "heidi@example.com": "email drawn on a canvas",
    "ivan@example.com": "email in an iframe's document",
    "4111 1111 1111 1111": "card in a shadow root",
    "judy@example.com": "email in a custom event's name",
}
# The first page's URL, stored as the session's too.
PAGE = "https://shop.alice.example/?email=jane%40example.com#/reset?token=h4sh-r0ute-t0ken"
NOT_PII = ["Contact us", "Order total 91.40", "2026-11-29", "version 2.2.2", "1700000000000"]


def pii_recording(start: int = 1_700_000_000_000) -> list[dict[str, Any]]:
    text = {"type": 3, "textContent": "Contact us: jane.doe@example.com, +1 (415) 555-2671"}
    body = {
        "type": 2,
        "tagName": "body",
        "id": 3,
        "attributes": {"data-iban": "GB82 WEST 1234 5698 7654 32"},
        "childNodes": [
            {**text, "id": 4},
            {
                "type": 2,
                "tagName": "input",
                "id": 5,
                "attributes": {"value": "123-45-6789", "title": "Card 4242 4242 4242 4242"},
                "childNodes": [],
            },
            {
                "type": 2,
                "tagName": "a",
                "id": 6,
                "attributes": {"href": "https://shop.example/u?session=s3cr3t-session&page=2"},
                "childNodes": [{"type": 3, "textContent": "Order total 91.40", "id": 7}],
            },
            {"type": 3, "textContent": "2026-11-29 version 2.2.2 1700000000000", "id": 8},
            {
                "type": 2,
                "tagName": "a",
                "id": 9,
                "attributes": {"href": "https://shop.example/in#access_token=fr4gment-t0ken&x=1"},
                "childNodes": [],
            },
        ],
    }
    document = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 2, "tagName": "html", "id": 2, "attributes": {}, "childNodes": [body]}
        ],
    }
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_Xg"
    href = "https://shop.example/account?email=jane%40example.com&tab=orders"
    return [
        {"type": 4, "data": {"href": href, "width": 1280, "height": 800}, "timestamp": start},
        {
            "type": 2,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": start,
        },
        {
            "type": 3,
            "timestamp": start + 100,
            "data": {
                "source": 0,
                "adds": [
                    {
                        "parentId": 3,
                        "nextId": None,
                        "node": {"type": 3, "textContent": "new: bob@example.org", "id": 9},
                    }
                ],
                "removes": [],
                "texts": [{"id": 7, "value": "order ORD-123456, call 020 7946 0958"}],
                "attributes": [
                    {"id": 5, "attributes": {"placeholder": "sk_live_abcdefghij1234", "alt": jwt}}
                ],
            },
        },
        {
            "type": 3,
            "timestamp": start + 200,
            "data": {"source": 5, "id": 5, "text": "5555555555554444", "isChecked": False},
        },
        {
            "type": 5,
            "timestamp": start + 300,
            "data": {
                "tag": "checkout",
                "payload": {
                    "email": "carol@example.net",
                    "nested": {"card": "4012-8888-8888-1881"},
                },
            },
        },
        *elsewhere(start),
    ]


def elsewhere(start: int) -> list[dict[str, Any]]:
    """The other places an rrweb event carries text: style changes, rules, declarations
    and adopted sheets, console messages, canvas drawing, an iframe's document, a shadow
    root, a custom event's name."""
    iframe_document = {
        "type": 0,
        "id": 20,
        "childNodes": [
            {
                "type": 2,
                "tagName": "html",
                "id": 21,
                "attributes": {},
                "childNodes": [{"type": 3, "textContent": "Hi ivan@example.com", "id": 22}],
            }
        ],
    }
    shadow = {
        "type": 2,
        "tagName": "span",
        "id": 23,
        "isShadow": True,
        "attributes": {},
        "childNodes": [{"type": 3, "textContent": "Card 4111 1111 1111 1111", "id": 24}],
    }

    def incremental(at: int, data: dict[str, Any]) -> dict[str, Any]:
        return {"type": 3, "timestamp": start + at, "data": data}

    mutation: dict[str, Any] = {"removes": [], "texts": []}
    return [
        incremental(
            400,
            {
                "source": 0,
                **mutation,
                "adds": [
                    {"parentId": 3, "nextId": None, "node": {**shadow}},
                    {"parentId": 6, "nextId": None, "node": iframe_document},
                ],
                "attributes": [
                    {"id": 5, "attributes": {"style": {"background": "url(/a?u=dan@example.com)"}}}
                ],
            },
        ),
        incremental(
            500,
            {
                "source": 8,
                "id": 6,
                "adds": [{"rule": '.x::after { content: "erin@example.com" }', "index": 0}],
            },
        ),
        incremental(
            600,
            {
                "source": 13,
                "id": 6,
                "index": [0],
                "set": {"property": "content", "value": '"frank@example.com"'},
            },
        ),
        incremental(
            700,
            {
                "source": 15,
                "id": 3,
                "styleIds": [1],
                "styles": [
                    {
                        "styleId": 1,
                        "rules": [{"rule": '.y::before { content: "+44 20 7946 0000" }'}],
                    }
                ],
            },
        ),
        {
            "type": 6,
            "timestamp": start + 800,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {
                    "level": "log",
                    "payload": [
                        '"grace@example.com"',
                        '"back to https://shop.example/r#token=l0gged"',
                    ],
                },
            },
        },
        incremental(
            900,
            {
                "source": 9,
                "id": 5,
                "type": 0,
                "commands": [{"property": "fillText", "args": ["heidi@example.com", 10, 10]}],
            },
        ),
        {
            "type": 5,
            "timestamp": start + 1000,
            "data": {"tag": "signup judy@example.com", "payload": {}},
        },
    ]


def stored_text(session_id: str) -> str:
    session = Session.objects.get(pk=session_id)
    events = list(iter_events(session, get_storage()))
    return json.dumps(events) + json.dumps(session.urls)


async def recorded_text(
    key: str, events: list[dict[str, Any]], url: str = "https://shop.alice.example/"
) -> str:
    """Records `events` into a new session of the project with `key`, in one batch over
    the real WebSocket ingest path, first page `url`: the text the session stored."""
    comm = connect()
    connected, _ = await comm.connect()
    assert connected
    await comm.send_to(bytes_data=hello(key, url=url))
    welcome = await receive(comm)
    assert welcome["type"] == "welcome"
    await comm.send_to(bytes_data=batch(0, events))
    await wait_for_ack(comm, 0)
    await comm.disconnect()
    text: str = await sync_to_async(stored_text)(welcome["session"])
    return text


async def test_no_personal_data_reaches_storage_or_the_database(alices_shop):
    shop = await sync_to_async(Project.objects.create)(
        name="Scrubbed shop",
        allowed_origins=["https://shop.alice.example"],
        scrub_patterns=[r"ORD-\d{6}"],
    )
    stored = await recorded_text(shop.key, pii_recording(), PAGE)
    for value, where in PII.items():
        assert value not in stored, f"{where} was stored: {value}"
    for value in NOT_PII:
        assert value in stored
    for mark in ("[email]", "[card]", "[phone]", "[ssn]", "[iban]", "[token]", "[redacted]"):
        assert mark in stored


async def test_a_project_that_does_not_scrub_stores_what_was_sent(alices_shop):
    # The same path with scrubbing off (as the exactness tests run): everything arrives.
    stored = await recorded_text(alices_shop.key, pii_recording(), PAGE)
    assert all(value in stored for value in PII if value != "ORD-123456")


def test_sensitive_parameters_are_scrubbed_in_fragments_and_in_urls_within_text():
    """Sign-in flows hand tokens to the page in its URL's fragment (OAuth's implicit flow,
    magic links), hash routers keep a query there, and pages log their URLs."""
    scrubber = Scrubber()
    signed_in = "https://app.example/callback#access_token=ya29.opaque&expires_in=3600&state=s1"
    assert scrubber.text(signed_in) == (
        "https://app.example/callback#access_token=[redacted]&expires_in=3600&state=s1"
    )
    routed = "https://app.example/?lang=en#/reset?password_token=opaque&step=2"
    assert (
        scrubber.text(routed)
        == "https://app.example/?lang=en#/reset?password_token=[redacted]&step=2"
    )
    assert scrubber.needed(msgpack.packb(["https://app.example/cb#refresh_token=opaque"]))
    # Signed URLs: whoever has the signature can fetch the private file.
    signed = (
        "https://files.example/a.pdf?X-Amz-Credential=AKIDEXAMPLE%2F20261207&X-Amz-Expires=300"
        "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    assert scrubber.text(signed) == (
        "https://files.example/a.pdf?X-Amz-Credential=[redacted]&X-Amz-Expires=300"
        "&X-Amz-Signature=[redacted]"
    )
    sas = "https://acct.blob.example/c/a.png?sv=2024-05-04&sig=opaque&design=blue"
    assert (
        scrubber.text(sas)
        == "https://acct.blob.example/c/a.png?sv=2024-05-04&sig=[redacted]&design=blue"
    )
    # A URL within a text: a message, a JSON string.
    logged = '"Signed in, back to https://app.example/?session=opaque&tab=2 (200)"'
    assert (
        scrubber.text(logged)
        == '"Signed in, back to https://app.example/?session=[redacted]&tab=2 (200)"'
    )
    assert scrubber.needed(msgpack.packb([logged]))
    # JSON text within a JSON text (a logged string holding JSON) stays readable.
    nested = json.dumps(json.dumps({"u": "https://app.example/?token=opaque&a=1"}))
    assert json.loads(json.loads(scrubber.text(nested))) == {
        "u": "https://app.example/?token=[redacted]&a=1"
    }
    # Fragments that are places, not parameters, and colours, are left alone.
    for kept in ["https://app.example/docs#install", "https://app.example/#/cart?item=3", "#fff"]:
        assert scrubber.text(kept) == kept
    assert not scrubber.needed(msgpack.packb(["https://app.example/docs#install", "a{color:#fff}"]))


def test_batches_with_nothing_personal_are_left_alone():
    scrubber = Scrubber()
    quiet = msgpack.packb([{"type": 3, "timestamp": 1700000000000, "data": {"text": "Total 9"}}])
    assert not scrubber.needed(quiet)  # stored as it came, without decoding
    assert scrubber.text("Order total 91.40 on 2026-11-29") == "Order total 91.40 on 2026-11-29"
    assert scrubber.text("4242 4242 4242 4241") == "4242 4242 4242 4241"  # fails Luhn
