"""The session the devtools drawer tests play: the checkout recording with console
messages at every level, errors and requests of every sort added at known times."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.support import load_recording

SESSION = "session-devtools-01"
USER = "customer-17"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"
PAGE = "http://127.0.0.1:41731"  # where the checkout recording was made
TRACE = [f"{PAGE}/static/shop.js:120:9", f"{PAGE}/static/shop.js:88:3"]
TOTAL_MS = 30292  # the checkout recording's length
JSON_UTF8 = "application/json; charset=utf-8"
VALIDATION = {"street": "1 Main St", "zip": "10001"}
SUGGESTIONS = {"valid": True, "suggestions": [{"street": "1 Main Street", "zip": "10001"}]}
FONT = "https://fonts.example/inter.woff2"
TYPE_ERROR = "TypeError: Cannot read properties of undefined (reading 'total')"
MARKUP = '<img src="x" onerror="window.pwned = true">'  # recorded text: shown, never run
REJECTION = "Unhandled rejection: Error: payment service unavailable"

# The checkout recording already writes to the console: a warning at 6.036 s, the same
# log six times from 20.766 s to 23.075 s, and an info at 29.451 s.
RECORDED_CONSOLE = 8


def console(level: str, *args: Any) -> dict[str, Any]:
    payload = {"level": level, "payload": [json.dumps(a) for a in args], "trace": TRACE}
    return {"type": 6, "data": {"plugin": "rrweb/console@1", "payload": payload}}


def custom(tag: str, **payload: Any) -> dict[str, Any]:
    return {"type": 5, "data": {"tag": tag, "payload": payload}}


def request(start: int, end: int, url: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    """A network plugin event, sent when the request ended; `start` and `end` in ms from
    the recording's start (made epoch ms by `session_events`)."""
    entry = {"url": url, "method": "GET", "initiatorType": "fetch", "status": 200}
    entry.update(startTime=start, endTime=end, requestSize=0, responseSize=512)
    entry.update(fields)
    return end, {"type": 6, "data": {"plugin": "rrweb/network@1", "payload": {"requests": [entry]}}}


ADDED: list[tuple[int, dict[str, Any]]] = [
    (2000, console("debug", "cart restored from storage", 3)),
    request(3000, 3120, f"{PAGE}/api/cart", responseSize=812),
    (4000, console("info", "form shown: 3 items")),
    request(
        5000,
        5240,
        f"{PAGE}/api/address/validate",
        method="POST",
        initiatorType="xmlhttprequest",
        requestSize=38,
        responseSize=70,
        requestHeaders={
            "Content-Type": "application/json",
            "X-Request-Id": "req-42",
            "Authorization": "Bearer never-shown",
        },
        responseHeaders={
            "content-type": JSON_UTF8,
            "x-request-id": "req-42",
        },
        requestBody=json.dumps(VALIDATION),
        responseBody=json.dumps(SUGGESTIONS),
    ),
    (
        8000,
        custom(
            "replay/error",
            kind="error",
            message=TYPE_ERROR,
            source=f"{PAGE}/static/cart.js",
            line=42,
            column=13,
            stack=f"{TYPE_ERROR}\n    at total ({PAGE}/static/cart.js:42:13)",
        ),
    ),
    (9000, console("error", "Failed to update the total", MARKUP)),
    request(10000, 10180, f"{PAGE}/api/orders", method="POST", status=500),
    request(
        12000,
        12050,
        FONT,
        initiatorType="css",
        status=0,
        failed=True,
        error="net::ERR_CONNECTION_REFUSED",
        responseSize=0,
    ),
    (14000, custom("replay/error", kind="rejection", message=REJECTION, source="", stack="")),
    request(15000, 18500, f"{PAGE}/api/shipping/rates?zip=10001"),  # 3.5 s: slow
    (16000, custom("replay/console-dropped", count=37)),
    *[(16100 + 50 * i, console("log", f"shipping poll {i + 1}")) for i in range(30)],
    (19000, custom("replay/navigation", href=f"{PAGE}/checkout.html#payment")),
    (24000, console("assert", "Assertion failed: cart total matches")),
    request(25000, 25090, f"{PAGE}/api/recommendations", status=404),
    (26000, custom("replay/error", kind="console.error", message="Payment widget failed to load")),
    request(
        27000,
        27400,
        f"{PAGE}/api/search?q=fer",
        initiatorType="xmlhttprequest",
        status=0,
        aborted=True,
    ),
]


def session_events() -> list[dict[str, Any]]:
    """The checkout recording with ADDED at their times, in time order."""
    events = load_recording("checkout")
    start = events[0]["timestamp"]
    for at, added in ADDED:
        event = copy.deepcopy(added)
        payload = event["data"].get("payload", {})
        for entry in payload.get("requests", []) if isinstance(payload, dict) else []:
            entry["startTime"] += start
            entry["endTime"] += start
        events.append({**event, "timestamp": start + at})
    return sorted(events, key=lambda event: int(event["timestamp"]))
