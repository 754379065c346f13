"""What a page's console and network did, read from rrweb Plugin events (README,
"Console and network"): the console plugin's messages (`rrweb/console@1`) and the network
plugin's requests (`rrweb/network@1`), as our recorder writes them and as other rrweb
clients do (rrweb's own network plugin, which nests a `performanceEntry`, and
variants naming the URL `name` and the method `requestMethod`). Also what a stored event
must never hold, whoever sent it: credential headers. Pure: no Django, no IO.

An entry is a plain dict for the player's devtools drawer and the records: a console
message `{"ts", "level", "message", "args", "trace"}`, a request `{"ts", "end", "method",
"url", "status", "duration_ms", "request_size", "response_size", "initiator", "failed",
"aborted", "error", "request_headers", "response_headers", "request_body",
"response_body"}`, times in epoch milliseconds."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from replay import credentials
from replay.privacy import SECRET_HEADERS, allowed_headers
from replay.rrweb import CUSTOM, META, PLUGIN

CONSOLE_PLUGIN = "rrweb/console@1"
NETWORK_PLUGIN = "rrweb/network@1"
LEVELS = ("log", "info", "warn", "error", "debug", "assert")
MAX_ARGUMENTS = 20
MAX_TEXT = 2000
MAX_FRAMES = 20
MAX_BODY = 10_240
MAX_REQUESTS = 200  # in one plugin event
_HEADER_FIELDS = ("requestHeaders", "responseHeaders")
_BODY_FIELDS = ("requestBody", "responseBody")
_NETWORK_BYTES = NETWORK_PLUGIN.encode()
_CONSOLE_BYTES = CONSOLE_PLUGIN.encode()


def argument_text(argument: object) -> str:
    """One argument as the console plugin wrote it (the JSON text of the value; a string
    comes quoted), shown as a developer reads it: strings without their quotes."""
    if not isinstance(argument, str):
        return str(argument)[:MAX_TEXT]
    try:
        value = json.loads(argument)
    except ValueError:
        return argument[:MAX_TEXT]
    return (value if isinstance(value, str) else argument)[:MAX_TEXT]


def console_entry(ts: int, payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        return None
    level = payload.get("level")
    if level not in LEVELS:
        level = "log"
    arguments = payload.get("payload")
    args = (
        [argument_text(a) for a in arguments[:MAX_ARGUMENTS]] if isinstance(arguments, list) else []
    )
    trace = payload.get("trace")
    frames = [str(f)[:500] for f in trace[:MAX_FRAMES]] if isinstance(trace, list) else []
    return {
        "ts": ts,
        "level": level,
        "message": " ".join(args)[:MAX_TEXT],
        "args": args,
        "trace": frames,
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _first_number(*values: Any) -> float | None:
    """The first of the values that is a number (0 included)."""
    for value in values:
        number = _number(value)
        if number is not None:
            return number
    return None


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k).lower()[:100]: str(v)[:1000]
        for k, v in list(value.items())[:50]
        if str(k).lower() not in SECRET_HEADERS
    }


def _body(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_BODY]


def request_entry(ts: int, request: Any) -> dict[str, Any] | None:
    """One request of a network plugin event, whichever client wrote it; None if it
    names no URL."""
    if not isinstance(request, dict):
        return None
    timing = request.get("performanceEntry")
    timing = timing if isinstance(timing, dict) else {}
    url = request.get("url") or request.get("name") or timing.get("name")
    if not isinstance(url, str) or not url:
        return None
    method = request.get("method") or request.get("requestMethod") or "GET"
    status = _first_number(request.get("status"), request.get("responseStatus"))
    if status is None:
        status = _number(timing.get("responseStatus"))
    start = _number(request.get("startTime"))
    end = _number(request.get("endTime"))
    if start is None and _number(timing.get("startTime")) is not None:
        start = _number(timing.get("startTime"))
        duration = _number(timing.get("duration"))
        end = start + duration if start is not None and duration is not None else None
    duration_ms = end - start if start is not None and end is not None and end >= start else None
    start_ts: float
    end_ts: float
    if start is None or start < 1e12:  # relative to the page's time origin: place it
        end_ts = float(ts)  # (the plugin reports a request when it has finished)
        start_ts = ts - (duration_ms or 0.0)
    else:
        start_ts, end_ts = start, end if end is not None else start
    aborted = request.get("aborted") is True
    failed = request.get("failed") is True or (status == 0 and not aborted)
    response_size = _first_number(
        request.get("responseSize"), timing.get("encodedBodySize"), timing.get("transferSize")
    )
    error = request.get("error")
    return {
        "ts": round(start_ts),
        "end": round(end_ts),
        "method": str(method).upper()[:20],
        "url": url[:MAX_TEXT],
        "status": int(status) if status is not None else None,
        "duration_ms": round(duration_ms) if duration_ms is not None else None,
        "request_size": _number(request.get("requestSize")),
        "response_size": response_size,
        "initiator": str(request.get("initiatorType") or timing.get("initiatorType") or "")[:40],
        "failed": failed,
        "aborted": aborted,
        "error": str(error)[:500] if error else None,
        "request_headers": _headers(request.get("requestHeaders")),
        "response_headers": _headers(request.get("responseHeaders")),
        "request_body": _body(request.get("requestBody")),
        "response_body": _body(request.get("responseBody")),
    }


def requests_of(ts: int, payload: Any) -> Iterator[dict[str, Any]]:
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list):
        return
    for request in requests[:MAX_REQUESTS]:
        entry = request_entry(ts, request)
        if entry is not None:
            yield entry


def is_problem(request: dict[str, Any], slow_ms: int) -> str | None:
    """Why a request deserves a record (`failed`, `status`, `slow`), or None. A request
    the page aborted on purpose is none of them."""
    if request["aborted"]:
        return None
    if request["failed"]:
        return "failed"
    if request["status"] is not None and request["status"] >= 400:
        return "status"
    if request["duration_ms"] is not None and request["duration_ms"] > slow_ms:
        return "slow"
    return None


# -- what a stored event must not hold --


@dataclass(frozen=True)
class Policy:
    """What of a request a project records beside its URL, status and timing (its
    recording options `capture_network_bodies` and `network_headers`): the strictest
    by default."""

    bodies: bool = False
    headers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Policy:
        headers = allowed_headers(config.get("network_headers") or [])
        return cls(bool(config.get("capture_network_bodies")), frozenset(headers))


def needed(packed: bytes) -> bool:
    """Whether a batch's bytes may hold a network plugin event with headers or bodies
    to clean (looked for case by case: header names are any case), or a console plugin
    event that may log a credential."""
    if _NETWORK_BYTES in packed:
        return True
    return _CONSOLE_BYTES in packed and credentials.mentioned(packed)


def clean(event: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """A network plugin event with only the headers the project records (never the
    credential ones) and, unless it records bodies, none (in those it records, the
    values of credential fields redacted: `replay.credentials`), and a console plugin
    event with those values redacted from the objects it logged: enforced here whatever
    the client sent. Other events are returned as they are."""
    data = event.get("data")
    if event.get("type") != PLUGIN or not isinstance(data, dict):
        return event
    if data.get("plugin") == CONSOLE_PLUGIN and isinstance(data.get("payload"), dict):
        arguments = data["payload"].get("payload")
        if isinstance(arguments, list):
            data["payload"]["payload"] = [credentials.redact_body(a) for a in arguments]
        return event
    if data.get("plugin") != NETWORK_PLUGIN or not isinstance(data.get("payload"), dict):
        return event
    requests = data["payload"].get("requests")
    if not isinstance(requests, list):
        return event
    kept = policy.headers - SECRET_HEADERS
    for request in requests:
        if not isinstance(request, dict):
            continue
        for name in _HEADER_FIELDS:
            value = request.get(name)
            if isinstance(value, dict):
                request[name] = {
                    k: v for k, v in value.items() if isinstance(k, str) and k.lower() in kept
                }
            elif value is not None:
                request[name] = {}
        for name in _BODY_FIELDS:
            if request.get(name) is not None:
                request[name] = credentials.redact_body(request[name]) if policy.bodies else None
    return event


# -- the drawer's lists --

MAX_ENTRIES = 5000  # of each list; a session with more says it was cut


def collect(events: Iterable[dict[str, Any]], slow_ms: int) -> dict[str, Any]:
    """A session's console messages, requests and errors, in time order, as the
    player's devtools drawer shows them: `{"console", "network", "errors", "dropped",
    "pages", "truncated"}`. Of each list the latest MAX_ENTRIES are kept (what a bug
    report at the end of a long session needs; memory stays bounded however long it
    is), and `truncated` says when there were more. Errors are our recorder's
    (`replay/error`) or, from other rrweb clients, console messages at level error or
    assert."""
    kept = {name: Latest() for name in ("console", "network", "errors", "dropped", "pages")}
    plugin_errors = Latest()
    ours = False
    for event in events:
        data, ts = event.get("data"), event.get("timestamp")
        if not isinstance(data, dict) or not isinstance(ts, int | float):
            continue
        ts = int(ts)
        kind = event.get("type")
        if kind == META and isinstance(data.get("href"), str):
            kept["pages"].add({"ts": ts, "url": data["href"][:MAX_TEXT]})
        elif kind == CUSTOM:
            tag, payload = str(data.get("tag", "")), data.get("payload")
            ours = ours or tag.startswith("replay/")
            if not isinstance(payload, dict):
                continue
            if tag == "replay/error":
                kept["errors"].add(_error(ts, payload))
            elif tag == "replay/console-dropped" and isinstance(payload.get("count"), int):
                kept["dropped"].add({"ts": ts, "count": payload["count"]})
            elif tag == "replay/navigation" and isinstance(payload.get("href"), str):
                kept["pages"].add({"ts": ts, "url": payload["href"][:MAX_TEXT]})
        elif kind == PLUGIN and data.get("plugin") == CONSOLE_PLUGIN:
            entry = console_entry(ts, data.get("payload"))
            if entry is not None:
                kept["console"].add(entry)
                if entry["level"] in ("error", "assert"):
                    plugin_errors.add(_plugin_error(entry))
        elif kind == PLUGIN and data.get("plugin") == NETWORK_PLUGIN:
            for request in requests_of(ts, data.get("payload")):
                request["problem"] = is_problem(request, slow_ms)
                request["slow"] = request["problem"] == "slow" or (
                    not request["aborted"] and (request["duration_ms"] or 0) > slow_ms
                )
                kept["network"].add(request)
    if not ours:
        for error in plugin_errors.items:
            kept["errors"].add(error)
        kept["errors"].seen += plugin_errors.seen - len(plugin_errors.items)
    answer: dict[str, Any] = {name: latest.sorted() for name, latest in kept.items()}
    answer["truncated"] = any(latest.seen > len(latest.items) for latest in kept.values())
    return answer


class Latest:
    """The latest MAX_ENTRIES items added, and how many were."""

    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self.seen = 0

    def add(self, item: dict[str, Any]) -> None:
        self.items.append(item)
        self.seen += 1

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.items, key=lambda item: item["ts"])


def _error(ts: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": ts,
        "kind": str(payload.get("kind") or "error")[:40],
        "message": str(payload.get("message") or "")[:MAX_TEXT],
        "source": str(payload.get("source") or "")[:MAX_TEXT],
        "line": payload.get("line") if isinstance(payload.get("line"), int) else None,
        "column": payload.get("column") if isinstance(payload.get("column"), int) else None,
        "stack": str(payload.get("stack") or "")[:4000],
    }


def _plugin_error(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": entry["ts"],
        "kind": f"console.{entry['level']}",
        "message": entry["message"],
        "source": "",
        "line": None,
        "column": None,
        "stack": "\n".join(entry["trace"]),
    }
