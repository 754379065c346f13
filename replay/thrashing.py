"""Friction of going back and forth, found as bursts of direction reversals: the pointer
thrashed about (`thrashed_cursor`) and the page scrolled down and up again
(`excessive_scrolling`). Detectors that `replay.friction` lists, with their versions and
thresholds. Pure: no Django, no IO."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from replay.signals import Signals, any_within
from replay.tracking import CLICK, FRICTION, PAGE_VIEW, Record


def thrashed_cursor(
    records: list[Record], signals: Signals, t: Mapping[str, float]
) -> list[Record]:
    """At least `reversals` changes of the pointer's direction (on either axis, each
    leg at least `leg_px` long) within `window_ms`, with no click in that window."""
    clicks = [r.ts for r in records if r.kind == CLICK]
    wanted = int(t["reversals"])
    starts = _bursts(
        _turns(signals.pointer, t["leg_px"]),
        wanted,
        t["window_ms"],
        lambda start, end: any_within(clicks, start, end),
    )
    return [
        Record(
            FRICTION,
            start,
            _url_at(records, start),
            {"type": "thrashed_cursor", "detector": "thrashed_cursor@1", "turns": wanted},
        )
        for start in starts
    ]


def excessive_scrolling(
    records: list[Record], signals: Signals, t: Mapping[str, float]
) -> list[Record]:
    """At least `reversals` reversals of the page's scroll direction (legs of at least
    `leg_px`) within `window_ms`, on one page view."""
    views = [r.ts for r in records if r.kind == PAGE_VIEW]
    wanted = int(t["reversals"])
    starts = _bursts(
        _turns([(ts, 0.0, y) for ts, y in signals.scrolls], t["leg_px"]),
        wanted,
        t["window_ms"],
        lambda start, end: any_within(views, start + 1, end),  # another page view
    )
    return [
        Record(
            FRICTION,
            start,
            _url_at(records, start),
            {
                "type": "excessive_scrolling",
                "detector": "excessive_scrolling@1",
                "reversals": wanted,
            },
        )
        for start in starts
    ]


def _bursts(
    turns: list[int], wanted: int, window: float, spoiled: Callable[[int, int], bool]
) -> list[int]:
    """Where each run of `wanted` turns within `window` ms starts, unless `spoiled`
    (start, end) rules it out; runs found do not overlap."""
    found: list[int] = []
    at = 0
    while at + wanted <= len(turns):
        start, end = turns[at], turns[at + wanted - 1]
        if end - start <= window and not spoiled(start, end):
            found.append(start)
            while at < len(turns) and turns[at] <= end:
                at += 1
        else:
            at += 1
    return found


def _turns(pointer: list[tuple[int, float, float]], leg: float) -> list[int]:
    """When the pointer reversed direction, on either axis, after a leg of `leg` px."""
    turns: list[int] = []
    for axis in (1, 2):
        direction, anchor = 0, None
        for sample in pointer:
            value = sample[axis]
            if anchor is None:
                anchor = value
                continue
            moved = value - anchor
            if abs(moved) < leg:
                if direction and moved * direction > 0:
                    anchor = value  # further the same way
                continue
            now = 1 if moved > 0 else -1
            if direction and now != direction:
                turns.append(sample[0])
            direction, anchor = now, value
    return sorted(turns)


def _url_at(records: list[Record], ts: int) -> str:
    url = ""
    for record in records:
        if record.ts > ts:
            break
        url = record.url
    return url
