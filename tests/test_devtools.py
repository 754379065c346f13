"""The console and the network of a recorded page on the server (replay/devtools.py):
console messages and requests read from rrweb's plugins as our recorder and other rrweb
clients write them; credentials never stored whoever sends them, and headers and bodies
only as the project records them (over the real HTTP batch endpoint); console and
network records; and the player's `GET /api/sessions/ID/devtools`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client

from replay import devtools
from replay.models import Session, TrackedEvent
from replay.records import track_session
from replay.storage import get_storage
from replay.tracking import Extractor
from tests.support import load_recording, record
from tests.test_daphne import ORIGIN, exported, post_batch

T = 1_795_000_000_000
SECRETS = ("Bearer SECRET-TOKEN-123", "session=SECRET-COOKIE-456", "SECRET-SET-789")


def console(ts: int, level: str, *args: Any, trace: list[str] | None = None) -> dict[str, Any]:
    payload = {"level": level, "payload": [json.dumps(a) for a in args], "trace": trace or []}
    return {
        "type": 6,
        "timestamp": ts,
        "data": {"plugin": devtools.CONSOLE_PLUGIN, "payload": payload},
    }


def network(ts: int, *requests: dict[str, Any]) -> dict[str, Any]:
    payload = {"requests": list(requests)}
    return {
        "type": 6,
        "timestamp": ts,
        "data": {"plugin": devtools.NETWORK_PLUGIN, "payload": payload},
    }


def request(url: str, start: int, took: int, status: int = 200, **more: Any) -> dict[str, Any]:
    return {
        "url": url,
        "method": "GET",
        "initiatorType": "fetch",
        "status": status,
        "startTime": start,
        "endTime": start + took,
        "requestSize": None,
        "responseSize": 120,
        "failed": False,
        "aborted": False,
        "error": None,
        "requestHeaders": {},
        "responseHeaders": {},
        "requestBody": None,
        "responseBody": None,
        **more,
    }


def secret_request(start: int) -> dict[str, Any]:
    return request(
        "https://shop.alice.example/api/cart?token=abc",
        start,
        80,
        method="POST",
        requestHeaders={
            "Authorization": SECRETS[0],
            "Cookie": SECRETS[1],
            "X-Request-Id": "req-42",
            "Content-Type": "application/json",
        },
        responseHeaders={"set-cookie": SECRETS[2], "content-type": "application/json"},
        requestBody='{"sku": 7}',
        responseBody='{"ok": true}',
    )


def test_console_messages_read_as_developers_see_them():
    entry = devtools.console_entry(
        T, console(T, "warn", "low stock", {"sku": 7}, 3)["data"]["payload"]
    )
    assert entry == {
        "ts": T,
        "level": "warn",
        "message": 'low stock {"sku": 7} 3',
        "args": ["low stock", '{"sku": 7}', "3"],
        "trace": [],
    }
    odd = devtools.console_entry(T, {"level": "shout", "payload": "x", "trace": 5})
    assert odd is not None
    assert (odd["level"], odd["args"], odd["trace"]) == ("log", [], [])
    assert devtools.console_entry(T, "not a payload") is None


def test_requests_read_from_each_clients_shape():
    ours = devtools.request_entry(T + 500, request("https://a.example/x", T, 400, status=503))
    assert ours is not None
    assert (ours["ts"], ours["end"], ours["duration_ms"], ours["status"]) == (T, T + 400, 400, 503)
    # rrweb's own network plugin: the timing nested, relative to the page's time origin.
    rrweb = {
        "performanceEntry": {
            "name": "https://a.example/y",
            "startTime": 1200.5,
            "duration": 300,
            "initiatorType": "xmlhttprequest",
            "encodedBodySize": 99,
        },
        "requestMethod": "post",
        "responseStatus": 404,
    }
    entry = devtools.request_entry(T + 2000, rrweb)
    assert entry is not None
    assert (entry["url"], entry["method"], entry["status"]) == ("https://a.example/y", "POST", 404)
    assert (entry["ts"], entry["end"], entry["duration_ms"]) == (T + 1700, T + 2000, 300)
    assert (entry["initiator"], entry["response_size"]) == ("xmlhttprequest", 99)
    # PostHog's variant names the URL `name`; a request with no URL is no request.
    named = devtools.request_entry(T, {"name": "https://a.example/z"})
    assert named is not None
    assert named["url"].endswith("/z")
    assert devtools.request_entry(T, {"method": "GET"}) is None
    failed = devtools.request_entry(T, request("https://a.example/f", T, 10, status=0, failed=True))
    aborted = devtools.request_entry(
        T, request("https://a.example/g", T, 10, status=0, aborted=True)
    )
    slow = devtools.request_entry(T, request("https://a.example/s", T, 3500))
    fine = devtools.request_entry(T, request("https://a.example/s", T, 300))
    shapes = [r for r in (ours, failed, aborted, slow, fine) if r is not None]
    assert [devtools.is_problem(r, 3000) for r in shapes] == [
        "status",
        "failed",
        None,
        "slow",
        None,
    ]


def test_credentials_never_stay_and_the_rest_as_the_project_records():
    event = network(T, secret_request(T - 100))
    strict = devtools.clean(copy.deepcopy(event), devtools.Policy())
    kept = strict["data"]["payload"]["requests"][0]
    assert kept["requestHeaders"] == {}
    assert kept["responseHeaders"] == {}
    assert kept["requestBody"] is None
    assert kept["responseBody"] is None
    # Even when a project's list names them, credential headers are dropped.
    policy = devtools.Policy.of(
        {
            "capture_network_bodies": True,
            "network_headers": [
                "Authorization",
                "cookie",
                "x-request-id",
                "set-cookie",
                "content-type",
            ],
        }
    )
    assert policy.headers == frozenset({"x-request-id", "content-type"})
    open_ = devtools.clean(copy.deepcopy(event), policy)["data"]["payload"]["requests"][0]
    assert open_["requestHeaders"] == {"X-Request-Id": "req-42", "Content-Type": "application/json"}
    assert open_["responseHeaders"] == {"content-type": "application/json"}
    assert open_["requestBody"] == '{"sku": 7}'
    assert not any(s in json.dumps(open_) for s in SECRETS)
    other = {"type": 5, "timestamp": T, "data": {"tag": "cart", "payload": {"Authorization": "x"}}}
    assert devtools.clean(copy.deepcopy(other), policy) == other  # not a request: as it came


def page_events() -> list[dict[str, Any]]:
    """The checkout recording with the console and network of its page at known times,
    as our recorder sends them."""
    events = load_recording("checkout")
    start = events[0]["timestamp"]
    extra = [
        # (Our recorder says so right after the page's snapshot.)
        {"type": 5, "timestamp": start + 1, "data": {"tag": "replay/page", "payload": {}}},
        console(start + 1000, "log", "hello"),
        console(start + 1500, "warn", "low stock"),
        console(
            start + 2000, "error", "boom", trace=["at pay (https://shop.alice.example/app.js:3:9)"]
        ),
        network(
            start + 2600,
            request("https://shop.alice.example/api/pay", start + 2500, 100, status=500),
        ),
        network(start + 3100, request("https://shop.alice.example/api/ok", start + 3000, 100)),
        network(start + 7600, request("https://shop.alice.example/api/slow", start + 4000, 3600)),
        network(start + 8000, secret_request(start + 7900)),
        {
            "type": 5,
            "timestamp": start + 2001,
            "data": {"tag": "replay/error", "payload": {"kind": "console", "message": "boom"}},
        },
        {
            "type": 5,
            "timestamp": start + 8500,
            "data": {"tag": "replay/console-dropped", "payload": {"count": 12}},
        },
    ]
    return sorted(events + extra, key=lambda e: e["timestamp"])


def test_records_of_warnings_errors_and_failing_requests():
    events = page_events()
    start = events[0]["timestamp"]
    extractor = Extractor(slow_ms=3000)
    records = [r for e in copy.deepcopy(events) for r in extractor.feed(e)]
    consoles = [
        (r.ts - start, r.data["level"], r.data["message"]) for r in records if r.kind == "console"
    ]
    assert (1500, "warn", "low stock") in consoles
    assert (2000, "error", "boom") in consoles
    assert all(level != "log" for _, level, _ in consoles)
    requests = [
        (r.ts - start, r.data["reason"], r.data["url"]) for r in records if r.kind == "network"
    ]
    assert requests == [
        (2500, "status", "https://shop.alice.example/api/pay"),
        (4000, "slow", "https://shop.alice.example/api/slow"),
    ]
    # Our recorder's `replay/error` is the error, once.
    errors = [r for r in records if r.kind == "error"]
    assert [e.data["message"] for e in errors] == ["boom"]
    # From a client other than ours, console errors are errors too.
    theirs = Extractor()
    found = theirs.feed(console(start + 1, "error", "bang"))
    assert [(r.kind, r.data["message"]) for r in found] == [("console", "bang"), ("error", "bang")]
    # Ours reports its errors itself (`replay/error`): the console's are not counted twice.
    ours = Extractor()
    ours.feed({"type": 5, "timestamp": start, "data": {"tag": "replay/page", "payload": {}}})
    assert not [r for r in ours.feed(console(start + 1, "error", "boom")) if r.kind == "error"]
    # A project's own threshold for slow requests.
    lenient = Extractor(slow_ms=5000)
    assert not [
        r for e in copy.deepcopy(events) for r in lenient.feed(e) if r.data.get("reason") == "slow"
    ]


@pytest.mark.django_db(transaction=True)
def test_the_http_batch_endpoint_stores_no_credentials(daphne, alice, alices_shop):
    def post(seq: int, session: str, secret: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        body = {
            "key": alices_shop.key,
            "session": session,
            "secret": secret,
            "tab": "tab-0001",
            "seq": seq,
            "events": events,
            "page": {"url": ORIGIN + "/"},
        }
        return post_batch(daphne, body)

    events = load_recording("checkout")[:40]
    first = post(0, "new-session-1", "", events)
    post(
        1,
        first["session"],
        first["secret"],
        [network(events[-1]["timestamp"] + 10, secret_request(events[-1]["timestamp"]))],
    )
    stored = json.dumps(exported(daphne, alice, first["session"]))
    assert not any(s in stored for s in SECRETS)
    assert '{"sku": 7}' not in stored  # bodies are off by default
    assert "req-42" not in stored  # and no header is on the project's list


@pytest.mark.django_db
def test_the_player_gets_the_console_network_and_errors_in_order(alice, alices_shop, mallory):
    events = page_events()
    start = events[0]["timestamp"]
    record(alices_shop, "session-devtools-1", "checkout", events=events)
    client = Client()
    client.force_login(alice)
    answer = client.get("/api/sessions/session-devtools-1/devtools")
    assert answer.status_code == 200
    body = answer.json()
    assert [(m["ts"] - start, m["level"]) for m in body["console"]][:3] == [
        (1000, "log"),
        (1500, "warn"),
        (2000, "error"),
    ]
    assert [(r["ts"] - start, r["status"], r["slow"], r["problem"]) for r in body["network"]] == [
        (2500, 500, False, "status"),
        (3000, 200, False, None),
        (4000, 200, True, "slow"),
        (7900, 200, False, None),
    ]
    # Our recorder reports the error itself: once, not again from the console.
    assert [(e["ts"] - start, e["message"]) for e in body["errors"]] == [(2001, "boom")]
    assert body["dropped"] == [{"ts": start + 8500, "count": 12}]
    assert body["pages"][0]["url"].startswith("http")
    assert (body["slow_ms"], body["truncated"]) == (3000, False)
    # Stored whole, the records follow: the failing and slow requests, the warning.
    track_session(Session.objects.get(pk="session-devtools-1"), get_storage())
    kinds = set(
        TrackedEvent.objects.filter(session_id="session-devtools-1").values_list("kind", flat=True)
    )
    assert {"console", "network", "error"} <= kinds
    outsider = Client()
    outsider.force_login(mallory)
    assert outsider.get("/api/sessions/session-devtools-1/devtools").status_code == 404


@pytest.mark.django_db
@pytest.mark.scaleout
def test_sessions_and_records_are_found_by_their_requests_and_console(alice, alices_shop):
    def visit(sid: str, *records: tuple[str, str, dict[str, Any]]) -> None:
        Session.objects.create(id=sid, project=alices_shop, first_event_ms=T)
        for n, (kind, name, data) in enumerate(records):
            TrackedEvent.objects.create(
                project=alices_shop, session_id=sid, ts=T + n, kind=kind, name=name, data=data
            )

    failing = {"reason": "status", "slow": False}
    visit("s-500", ("network", "500", failing))
    visit("s-404", ("network", "404", failing), ("console", "warn", {"level": "warn"}))
    visit("s-none", ("network", "failed", {"reason": "failed", "slow": False, "failed": True}))
    visit("s-slow", ("network", "200", {"reason": "slow", "slow": True}))
    visit("s-slow-500", ("network", "503", {"reason": "status", "slow": True}))
    visit("s-error", ("console", "error", {"level": "error"}))
    visit("s-quiet", ("click", "", {}))
    client = Client()
    client.force_login(alice)

    def found(**params: str) -> list[str]:
        answer = client.get("/api/sessions", params)
        assert answer.status_code == 200, answer.content
        return sorted(s["id"] for s in answer.json()["sessions"])

    assert found(network_status="error") == ["s-404", "s-500", "s-none", "s-slow-500"]
    assert found(network_status="5xx") == ["s-500", "s-slow-500"]
    assert found(network_status="4xx") == ["s-404"]
    assert found(network_status="404") == ["s-404"]
    assert found(network_status="failed") == ["s-none"]
    assert found(network_status="slow") == ["s-slow", "s-slow-500"]
    assert found(console_level="error") == ["s-error"]
    assert found(console_level="warn,error") == ["s-404", "s-error"]
    for bad in ({"network_status": "teapot"}, {"console_level": "log"}):
        answer = client.get("/api/sessions", bad)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith(next(iter(bad)))
    events = client.get("/api/events", {"network_status": "5xx", "kind": "network"}).json()
    assert sorted(r["session"] for r in events["events"]) == ["s-500", "s-slow-500"]
    page = client.get("/sessions", {"network_status": "failed"}).content.decode()
    assert "s-none" in page
    assert "s-500" not in page


def test_requests_are_scrubbed_before_they_are_stored_bodies_included():
    import msgpack

    from ingest.cleaning import clean_packed
    from replay.scrub import Scrubber

    sent = request(
        "https://shop.alice.example/api/login?email=jane%40example.com&token=abc&page=2",
        T,
        90,
        method="POST",
        requestBody='{"email": "jane@example.com", "card": "4111 1111 1111 1111"}',
        responseBody='{"welcome": "jane@example.com"}',
    )
    packed = msgpack.packb([network(T + 100, sent)], use_bin_type=True)
    policy = devtools.Policy.of({"capture_network_bodies": True, "network_headers": []})
    stored = msgpack.unpackb(clean_packed(packed, Scrubber(), policy), raw=False)
    kept = stored[0]["data"]["payload"]["requests"][0]
    assert "jane" not in json.dumps(stored)
    assert "4111" not in kept["requestBody"]
    assert "token=%5Bredacted%5D" in kept["url"] or "token=[redacted]" in kept["url"]
    assert "page=2" in kept["url"]


def test_zero_is_a_status_and_a_size_and_a_long_session_keeps_its_latest(monkeypatch):
    # rrweb's network plugin: a request with no answer has responseStatus 0.
    entry = devtools.request_entry(
        T, {"name": "https://a.example/x", "responseStatus": 0, "responseSize": 0}
    )
    assert entry is not None
    assert (entry["status"], entry["failed"], entry["response_size"]) == (0, True, 0)
    # An aborted request is not slow, however long it waited.
    long_abort = request("https://a.example/a", T, 9000, status=0, aborted=True)
    found = devtools.collect([network(T + 9000, long_abort)], slow_ms=3000)
    assert (found["network"][0]["slow"], found["network"][0]["problem"]) == (False, None)
    monkeypatch.setattr(devtools, "MAX_ENTRIES", 10)
    many = [console(T + n, "log", f"message {n}") for n in range(25)]
    kept = devtools.collect(many, slow_ms=3000)
    assert [m["message"] for m in kept["console"]] == [f"message {n}" for n in range(15, 25)]
    assert kept["truncated"] is True
