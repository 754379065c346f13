"""Event-tracking records from a tab's rrweb events: page views, clicks, input changes,
scroll depth, custom events, identify and errors. Pure: no Django, no IO.

`Extractor` is fed the events of one session in order. It keeps the DOM mirror itself
(the elements behind node ids are named from it, as they stood when the event
happened) and returns the records each event produces. Clicks and inputs name their
element as `replay.elements` describes it; inputs never carry the value.

Beside the records, the extractor keeps the signals friction detectors need and the
records do not carry (`replay.signals`); `replay.friction` reads them.

A session keeps a limited number of records of each kind (`replay.quota`), and limited
signals: `cut` says from when its records or signals are incomplete.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Any

from replay import devtools, rrweb
from replay.elements import (
    ancestors,
    describe,
    element_text,
    find,
    label,
    mini,
    selector,
)
from replay.mirror import Mirror
from replay.quota import Quota
from replay.scrolling import Reading
from replay.signals import Signals

Event = dict[str, Any]
Node = dict[str, Any]

PAGE_VIEW, CLICK, INPUT, SCROLL, CUSTOM, IDENTIFY, ERROR, CONSOLE, NETWORK = (
    "pageview",
    "click",
    "input",
    "scroll",
    "custom",
    "identify",
    "error",
    "console",
    "network",
)
FRICTION = "friction"  # the kind of the friction detectors' records (replay.friction)
# Console messages kept as records (all of them are shown in the player's drawer).
RECORDED_LEVELS = ("warn", "error", "assert")
SLOW_REQUEST_MS = 3000
ERROR_TEXT_CHARS = 4000  # an error record's message and stack at most, whatever was sent
# Custom events the recorder adds, and what they mean here.
NAVIGATION, PAGE, IDENTIFY_TAG, ERROR_TAG, CLICKABLE, CLICK_PLACE, SCROLLER = (
    "replay/navigation",
    "replay/page",
    "replay/identify",
    "replay/error",
    "replay/clickable",
    "replay/click",
    "replay/scroller",
)
# The recorder notes a click (`replay/clickable`, `replay/click`) from its own listener,
# just before or after rrweb's click event: within this many milliseconds of it.
NOTE_MS = 50


@dataclass
class Record:
    kind: str
    ts: int
    url: str
    data: dict[str, Any] = field(default_factory=dict)


class Extractor:
    """Records of one session's events, fed in order."""

    def __init__(self, slow_ms: int = SLOW_REQUEST_MS) -> None:
        self.slow_ms = slow_ms  # a request slower than this is a network record
        self.ours = False  # our recorder wrote the session (its `replay/` events say so)
        self.mirror = Mirror()
        self.url = ""
        self.title = ""
        self.signals = Signals()
        self.quota = Quota()  # how many records of each kind were made, and dropped
        self.reading = Reading()  # how far the page view was scrolled
        self._typing: int | None = None  # the field of the current run of input events
        self._meta: tuple[int, str] | None = None  # a Meta whose snapshot has not come yet
        self._viewed = False  # a page view was recorded since the last Meta
        self._last_click: tuple[Any, ...] | None = None
        self._last_click_record: Record | None = None
        self._told: set[str] = set()  # what the recorder's notes told the last click record
        self._notes: list[tuple[int, Any, dict[str, Any]]] = []  # (ts, node, what) before its click
        # A page load's view, held until the recorder's `replay/page` (right after the
        # snapshot) gives its referrer and title, or until any other event.
        self._pending: Record | None = None

    # -- feeding --

    def feed(self, event: Event) -> list[Record]:
        """The records this event produces; the mirror then applies it."""
        records: list[Record] = []
        if self._pending is not None and not _is_page_event(event):
            records.append(self._pending)
            self._pending = None
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError, IndexError):
            records += self._records(event)
        self.mirror.apply(event)
        if event.get("type") == rrweb.FULL_SNAPSHOT:
            records += self._after_snapshot()
        return self.quota.keep(records) if records else records

    @property
    def cut(self) -> int | None:
        """When the session first went over a cap (of records or of signals), if it did."""
        cuts = [t for t in (self.quota.cut, self.signals.cut) if t is not None]
        return min(cuts) if cuts else None

    def _records(self, event: Event) -> list[Record]:
        kind, data = event.get("type"), event.get("data")
        ts = event.get("timestamp")
        if not isinstance(data, dict) or not isinstance(ts, int | float):
            return []
        ts = int(ts)
        if kind == rrweb.META:
            self._meta, self._viewed = (ts, str(data.get("href", ""))), False
            return []
        if kind == rrweb.CUSTOM:
            return self._custom(ts, data)
        if kind == rrweb.PLUGIN:
            return self._plugin(ts, data)
        if kind != rrweb.INCREMENTAL:
            return []
        source = data.get("source")
        if source == rrweb.MUTATION:
            self.signals.changed(ts)
        elif source == rrweb.MOUSE_MOVE:  # the mouse (rrweb reports moves inside iframes as touch)
            for position in data.get("positions") or []:
                offset = position.get("timeOffset") or 0
                self.signals.pointed(ts + int(offset), position["x"], position["y"])
        elif source == rrweb.MOUSE_INTERACTION and data.get("type") == rrweb.CLICK:
            return self._click(ts, data)
        elif source == rrweb.SCROLL:
            return self._scroll(ts, data)
        elif source == rrweb.INPUT:
            return self._input(ts, data)
        return []

    def _after_snapshot(self) -> list[Record]:
        """A Meta and its snapshot: a page load when the URL changed. (The same URL
        again is a reload only if the recorder says so, with `replay/page`: rrweb also
        takes a Meta and a snapshot when asked to resynchronize.)"""
        document = self.mirror.document
        if document is not None and (title := find(document, "title")) is not None:
            self.title = element_text(title) or ""
        if self._meta is None:
            return []
        ts, href = self._meta
        self._meta = None
        if href == self.url:
            return []
        self._viewed = True
        *done, self._pending = self._page_view(ts, href, "load")
        return done

    def _page_view(self, ts: int, href: str, how: str, title: str = "") -> list[Record]:
        previous = self.url
        records: list[Record] = []
        if previous:
            records.append(self._depth_record(ts))
        self.url, self._typing = href, None
        # An app's scrolling container outlives its navigations; a page load, or a new
        # route of a page whose document scrolls, starts over.
        if how in ("load", "reload") or not self.reading.scroller:
            self.reading = Reading()
        else:
            self.reading = Reading(
                self.reading.scroller, self.reading.height, self.reading.viewport
            )
        if title:
            self.title = title
        data: dict[str, Any] = {"how": how, "referrer": previous, "title": self.title}
        if (width := self.mirror.viewport[0]) > 0:
            data["vw"] = width  # the window's width, for heatmaps by screen
        records.append(Record(PAGE_VIEW, ts, href, data))
        return records

    def _depth_record(self, ts: int) -> Record:
        data = self.reading.record(self.mirror.viewport, self._selector_of)
        return Record(SCROLL, ts, self.url, data)

    def _selector_of(self, node_id: int) -> str:
        node = self.mirror.nodes.get(node_id)
        return selector(node, self.mirror.parents) if node is not None else ""

    def close(self, ts: int) -> list[Record]:
        """The session's end (or the end of what is stored): a held page view, and the
        open page view's scroll depth."""
        records = self.provisional(ts)
        self._pending = None
        return records

    def provisional(self, ts: int) -> list[Record]:
        """What `close` would give now, without closing: for records computed while the
        session may go on (the held page view and the depth read so far)."""
        records = [copy.deepcopy(self._pending)] if self._pending is not None else []
        records += [self._depth_record(ts)] if self.url else []
        return [r for r in records if self.quota.room(r.kind)]

    def _custom(self, ts: int, data: dict[str, Any]) -> list[Record]:
        tag, payload = str(data.get("tag", "")), data.get("payload")
        payload = payload if isinstance(payload, dict) else {"value": payload}
        if tag.startswith("replay/"):
            self.ours = True
        if tag == NAVIGATION:
            how = str(payload.get("kind", "navigation"))
            title = str(payload.get("title") or "")
            records = self._page_view(ts, str(payload.get("href", "")), how, title)
            self.reading.document_height(_height(payload))
            return records
        if tag == PAGE:
            self.title = str(payload.get("title") or self.title)
            self.reading.document_height(_height(payload))
            view, self._pending = self._pending, None
            if view is not None:
                view.data["title"] = self.title
                if not view.data["referrer"]:  # the first page: the site it came from
                    view.data["referrer"] = str(payload.get("referrer") or "")
                return [view]
            if payload.get("load") and not self._viewed:  # the same URL, loaded again
                self._viewed = True
                return self._page_view(ts, self.url, "reload")
            return []
        if tag == IDENTIFY_TAG:
            return [Record(IDENTIFY, ts, self.url, {"user": str(payload.get("id", ""))})]
        if tag == CLICKABLE:  # the page listens for clicks there
            self._note_click(ts, payload.get("id"), {"actionable": True})
            return []
        if tag == CLICK_PLACE:  # where in the element: fractions of its box
            place = {k: payload.get(k) for k in ("fx", "fy")}
            numbers = [v for v in place.values() if not isinstance(v, bool)]
            if (
                all(isinstance(v, int | float) and 0 <= v <= 1 for v in numbers)
                and len(numbers) == 2
            ):
                self._note_click(ts, payload.get("id"), place)
            return []
        if tag == SCROLLER:
            self.reading.note(payload)
            return []
        if tag == ERROR_TAG:
            keep = ("message", "kind", "source", "line", "column", "stack")
            error = {k: _capped(payload[k]) for k in keep if k in payload}
            return [Record(ERROR, ts, self.url, error)]
        if tag.startswith("replay/"):
            return []
        return [Record(CUSTOM, ts, self.url, {"name": tag[:200], "props": payload})]

    def _plugin(self, ts: int, data: dict[str, Any]) -> list[Record]:
        """Console warnings and errors, and requests that failed, answered an error or
        were slow (`replay.devtools`). rrweb's console plugin is also how other rrweb
        clients record errors: from them, messages at level error or assert (uncaught
        errors included) become error records too, as our recorder's own `replay/error`
        does (from ours they would be the same error twice)."""
        plugin, payload = data.get("plugin"), data.get("payload")
        if plugin == devtools.NETWORK_PLUGIN:
            records = []
            for request in devtools.requests_of(ts, payload):
                why = devtools.is_problem(request, self.slow_ms)
                if why is not None:
                    keep = ("method", "url", "status", "duration_ms", "failed", "error")
                    found = {k: request[k] for k in keep} | {"reason": why}
                    found["slow"] = (request["duration_ms"] or 0) > self.slow_ms
                    records.append(Record(NETWORK, request["ts"], self.url, found))
            return records
        if plugin != devtools.CONSOLE_PLUGIN:
            return []
        entry = devtools.console_entry(ts, payload)
        if entry is None or entry["level"] not in RECORDED_LEVELS:
            return []
        stack = "\n".join(entry["trace"])[:ERROR_TEXT_CHARS]
        message = {"level": entry["level"], "message": entry["message"], "stack": stack}
        records = [Record(CONSOLE, ts, self.url, message)]
        if entry["level"] != "warn" and not self.ours:
            error = {"message": entry["message"], "kind": f"console.{entry['level']}"}
            if stack:
                error["stack"] = stack
            records.append(Record(ERROR, ts, self.url, error))
        return records

    def _click(self, ts: int, data: dict[str, Any]) -> list[Record]:
        node = self.mirror.nodes.get(data.get("id", -1))
        if node is None or node.get("type") != rrweb.ELEMENT:
            return []
        at = (ts, data.get("x"), data.get("y"))
        if at == self._last_click:
            return []  # a <label> passing the click to its field: one click, the label's
        self._last_click = at
        if self.quota.full(CLICK, ts):
            return []  # not described: the costly part
        described = describe(node, self.mirror.parents)
        described["node"] = node.get("id")
        left, top = self._page_scroll()
        x, y = data.get("x"), data.get("y")
        if isinstance(x, int | float) and isinstance(y, int | float):
            described.update(x=round(x + left), y=round(y + top))
        if (width := self.mirror.viewport[0]) > 0:
            described["vw"] = width  # the window's width, for heatmaps by screen
        notes, self._notes = self._notes, []
        self._told = set()
        for noted, node_id, what in notes:
            if node_id == node.get("id") and abs(noted - ts) <= NOTE_MS:
                described.update(what)
                self._told |= what.keys()
        self._last_click_record = Record(CLICK, ts, self.url, described)
        return [self._last_click_record]

    def _note_click(self, ts: int, node_id: Any, what: dict[str, Any]) -> None:
        """What the recorder says about a click: given to its record if that came
        already (and has not been told it yet: a note for the next fast click on the
        same element comes before that click, within the window of the one before), or
        kept for it."""
        last = self._last_click_record
        if (
            last is not None
            and last.data.get("node") == node_id
            and abs(last.ts - ts) <= NOTE_MS
            and not what.keys() & self._told
        ):
            self._told |= what.keys()
            last.data.update(what)
            return
        self._notes = [n for n in self._notes if ts - n[0] <= NOTE_MS] + [(ts, node_id, what)]

    def _page_scroll(self) -> tuple[float, float]:
        document = self.mirror.document
        if document is None:
            return 0.0, 0.0
        left, top = self.mirror.scrolls.get(document["id"], (0, 0))
        return float(left or 0), float(top or 0)

    def _scroll(self, ts: int, data: dict[str, Any]) -> list[Record]:
        self.signals.changed(ts)
        document = self.mirror.document
        document_id = document.get("id") if document is not None else None
        y = float(data.get("y") or 0)
        if data.get("id") == document_id:
            self.signals.scrolled(ts, y)
        if isinstance(data.get("id"), int):
            self.reading.scroll(data["id"], y, document_id)
        return []

    def _input(self, ts: int, data: dict[str, Any]) -> list[Record]:
        self.signals.changed(ts)
        node_id = data.get("id", -1)
        node = self.mirror.nodes.get(node_id)
        if node is None or node.get("type") != rrweb.ELEMENT or data.get("userTriggered") is False:
            return []  # unknown, or the page's script set it (the recorder says so)
        kind = str((node.get("attributes") or {}).get("type") or "").lower()
        if kind == "radio" and data.get("isChecked") is False:
            return []  # the browser unchecking the group's other radios
        if self._typing == node_id:
            return []  # the same run of typing: one record
        self._typing = node_id
        if self.quota.full(INPUT, ts):
            return []
        attributes = node.get("attributes") or {}
        described: dict[str, Any] = {
            "tag": str(node.get("tagName", "")).lower(),
            "type": str(attributes.get("type") or ""),
            "name": str(attributes.get("name") or ""),
            "id": str(attributes.get("id") or ""),
            "label": label(node, self.mirror.parents),
            "selector": selector(node, self.mirror.parents),
            "element": mini(node),
            "ancestors": [mini(a) for a in ancestors(node, self.mirror.parents)],
        }
        if "isChecked" in data and described["type"] in {"checkbox", "radio"}:
            described["checked"] = bool(data["isChecked"])
        return [Record(INPUT, ts, self.url, described)]


def _capped(value: Any) -> Any:
    return value[:ERROR_TEXT_CHARS] if isinstance(value, str) else value


def _height(payload: dict[str, Any]) -> int:
    height = payload.get("height")
    return int(height) if isinstance(height, int | float) and height > 0 else 0


def _is_page_event(event: Event) -> bool:
    data = event.get("data")
    return event.get("type") == rrweb.CUSTOM and isinstance(data, dict) and data.get("tag") == PAGE
