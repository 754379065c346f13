"""Friction detectors: pure functions over one session's event-tracking records and
signals (`replay.tracking`), each with a name, a version and thresholds (README,
"Friction"). Every friction record says which detector version produced it, so records
can be recomputed after a detector changes (`reprocess`). Pure: no Django, no IO.

Each detector returns `Record`s of kind "friction" whose data holds `type`, `detector`
("name@version") and what the moment is about (the clicked element, the error, the
page left). A project may override any threshold (`thresholds`), by detector name.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import islice, pairwise
from typing import Any

from replay.signals import Signals, any_within
from replay.thrashing import excessive_scrolling, thrashed_cursor
from replay.tracking import (
    CLICK,
    ERROR,
    FRICTION,
    INPUT,
    NETWORK,
    PAGE_VIEW,
    Record,
)

Thresholds = Mapping[str, float]


@dataclass(frozen=True)
class Detector:
    name: str
    version: int
    defaults: dict[str, float]
    detect: Callable[[list[Record], Signals, Thresholds], list[Record]]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def _friction(detector: str, version: int, at: Record, **data: Any) -> Record:
    # What the moment is about, and for a click where it fell (heatmaps of friction).
    named = ("selector", "text", "tag", "x", "y", "fx", "fy", "vw")
    about: dict[str, Any] = {k: at.data[k] for k in named if k in at.data}
    payload = {"type": detector, "detector": f"{detector}@{version}", **about, **data}
    return Record(FRICTION, at.ts, at.url, payload)


def _clicks(records: list[Record]) -> list[Record]:
    return [r for r in records if r.kind == CLICK]


def _point(record: Record) -> tuple[float, float] | None:
    x, y = record.data.get("x"), record.data.get("y")
    if isinstance(x, int | float) and isinstance(y, int | float):
        return float(x), float(y)
    return None


def _distance(a: Record, b: Record) -> float:
    """Pixels between two clicks (on the same element when their places are unknown)."""
    here, there = _point(a), _point(b)
    if here is None or there is None:
        return 0.0 if a.data.get("selector") == b.data.get("selector") else math.inf
    return math.hypot(here[0] - there[0], here[1] - there[1])


def _changed_between(changes: list[int], start: int, end: int) -> bool:
    """Whether the page changed (mutation, scroll, input) in [start, end]. A change in
    the click's own millisecond counts as its answer: a page answering at once records
    both in the same millisecond."""
    return any_within(changes, start, end)


# -- rage click --


def rage_click(records: list[Record], signals: Signals, t: Thresholds) -> list[Record]:
    """At least `clicks` clicks within `window_ms`, each within `radius_px` of the first.
    Not rage: clicks on a text-editing surface; exactly three on text that is not
    actionable (selecting a paragraph); and runs where the page answered every click
    before the next (a stepper's + button)."""
    clicks = _clicks(records)
    found: list[Record] = []
    at = 0
    while at < len(clicks):
        first = clicks[at]
        run = [first]
        for click in islice(clicks, at + 1, None):
            if click.ts - first.ts > t["window_ms"] or click.url != first.url:
                break
            if _distance(first, click) > t["radius_px"]:
                break
            run.append(click)
        if len(run) >= t["clicks"] and not _rage_lookalike(run, signals):
            found.append(_friction("rage_click", 1, first, clicks=len(run)))
            at += len(run)
        else:
            at += 1
    return found


def _rage_lookalike(run: list[Record], signals: Signals) -> bool:
    first = run[0].data
    if first.get("editable"):
        return True
    if len(run) == 3 and not first.get("actionable"):
        return True  # a triple click selects a paragraph
    answered = all(_changed_between(signals.changes, a.ts, b.ts) for a, b in pairwise(run))
    return answered


# -- dead click --


def dead_click(records: list[Record], signals: Signals, t: Thresholds) -> list[Record]:
    """A click on something actionable followed by no DOM change, scroll, input or page
    view within `window_ms`. Undecided (so not reported) when the recording ends
    sooner. Dead clicks on one element less than a second apart (a burst, which may
    also be a rage click) are one record with their count."""
    window = int(t["window_ms"])
    views = [r.ts for r in records if r.kind == PAGE_VIEW]
    end = max([records[-1].ts if records else 0, *(signals.changes[-1:] or [0])])
    found: list[Record] = []
    last: Record | None = None
    for click in _clicks(records):
        if not click.data.get("actionable") or click.data.get("editable"):
            continue
        if click.ts + window > end:
            continue
        quiet = not _changed_between(signals.changes, click.ts, click.ts + window)
        if not quiet or any_within(views, click.ts + 1, click.ts + window):
            continue
        burst = (
            last is not None
            and last.data.get("selector") == click.data.get("selector")
            and click.ts - last.ts < 1000
        )
        if burst and found:
            found[-1].data["clicks"] += 1
        else:
            found.append(_friction("dead_click", 1, click, waited_ms=window, clicks=1))
        last = click
    return found


# -- error click --


def error_click(records: list[Record], signals: Signals, t: Thresholds) -> list[Record]:
    """An error, or a request that failed or answered 4xx/5xx, within `window_ms` after a
    click (the first such after each click). Version 1 counted errors only."""
    problems = [
        r
        for r in records
        if r.kind == ERROR or (r.kind == NETWORK and r.data.get("reason") in ("failed", "status"))
    ]
    problems.sort(key=lambda r: r.ts)
    times = [p.ts for p in problems]
    found = []
    for click in _clicks(records):
        at = bisect_left(times, click.ts)
        if at == len(problems) or times[at] - click.ts > t["window_ms"]:
            continue
        after = problems[at]
        if after.kind == ERROR:
            found.append(_friction("error_click", 2, click, error=after.data.get("message")))
        else:
            what = f"{after.data.get('method')} {after.data.get('url')}"
            status = after.data.get("status") or "failed"
            found.append(_friction("error_click", 2, click, request=f"{what} {status}"))
    return found


# -- quick back --


def quick_back(records: list[Record], signals: Signals, t: Thresholds) -> list[Record]:
    """Leaving a page for another and coming back to it within `window_ms`: reported
    on the page that was left at once."""
    views = [r for r in records if r.kind == PAGE_VIEW]
    found = []
    for before, visited, back in zip(views, views[1:], views[2:], strict=False):
        if back.url == before.url != visited.url and back.ts - visited.ts <= t["window_ms"]:
            found.append(
                _friction(
                    "quick_back", 1, visited, returned_to=back.url, stayed_ms=back.ts - visited.ts
                )
            )
    return found


# -- form abandonment --


def form_abandonment(records: list[Record], signals: Signals, t: Thresholds) -> list[Record]:
    """A form with at least `fields` filled fields, left (another page view, or the end
    of the session) without a click on one of its buttons. The moment is when it was
    left (the page view that left it, or the last thing done before the session ended),
    so that a watcher jumping there sees the user go; the first field's time is in the
    record's data."""
    found = []
    page: list[Record] = []
    for record in [*records, None]:
        if record is None or (record.kind == PAGE_VIEW and page):
            left_at = record.ts if record is not None else page[-1].ts if page else 0
            found += _abandoned(page, int(t["fields"]), left_at)
            page = []
        if record is not None:
            page.append(record)
    return found


def _form_of(record: Record) -> str | None:
    for index, ancestor in enumerate(record.data.get("ancestors") or []):
        if ancestor.get("tagName") == "form":
            attributes = ancestor.get("attributes") or {}
            return str(attributes.get("id") or attributes.get("name") or f"form@{index}")
    return None


def _submits(click: Record) -> bool:
    """A click on a button of the form: how forms are sent, by the browser or by the
    page's script (which often uses type=button)."""
    element = click.data.get("element") or {}
    attributes = element.get("attributes") or {}
    tag, kind = element.get("tagName"), str(attributes.get("type") or "").lower()
    button_like = tag == "input" and kind in ("submit", "button", "image")
    return tag == "button" or button_like or attributes.get("role") == "button"


def _abandoned(page: list[Record], fields: int, left_at: int) -> list[Record]:
    filled: dict[str, set[str]] = {}
    first: dict[str, Record] = {}
    submitted: set[str] = set()
    for record in page:
        form = _form_of(record) if record.kind in (INPUT, CLICK) else None
        if form is None:
            continue
        if record.kind == INPUT:
            filled.setdefault(form, set()).add(str(record.data.get("selector")))
            first.setdefault(form, record)
        elif _submits(record):
            submitted.add(form)
    return [
        _friction(
            "form_abandonment",
            2,
            replace(first[form], ts=max(left_at, first[form].ts)),
            form=form,
            fields=len(names),
            first_input_ts=first[form].ts,
        )
        for form, names in filled.items()
        if form not in submitted and len(names) >= fields
    ]


DETECTORS = [
    Detector("rage_click", 1, {"clicks": 3, "window_ms": 1000, "radius_px": 30}, rage_click),
    Detector("dead_click", 1, {"window_ms": 2500}, dead_click),
    Detector("error_click", 2, {"window_ms": 2000}, error_click),
    Detector(
        "thrashed_cursor", 1, {"reversals": 6, "window_ms": 1500, "leg_px": 40}, thrashed_cursor
    ),
    Detector("quick_back", 1, {"window_ms": 5000}, quick_back),
    Detector("form_abandonment", 2, {"fields": 1}, form_abandonment),
    Detector(
        "excessive_scrolling",
        1,
        {"reversals": 4, "window_ms": 20000, "leg_px": 200},
        excessive_scrolling,
    ),
]


def detect(
    records: list[Record],
    signals: Signals,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    only: Iterable[str] | None = None,
) -> list[Record]:
    """Every detector's friction records for one session, in time order; `thresholds`
    overrides defaults by detector name."""
    wanted = set(only) if only is not None else None
    records = sorted(records, key=lambda r: r.ts)  # the detectors search by time
    found: list[Record] = []
    for detector in DETECTORS:
        if wanted is not None and detector.name not in wanted:
            continue
        merged = {**detector.defaults, **((thresholds or {}).get(detector.name) or {})}
        found += detector.detect(records, signals, merged)
    return sorted(found, key=lambda r: r.ts)


def thresholds_problem(value: Any) -> str | None:
    """Why a project's threshold overrides cannot be used, or None."""
    if not isinstance(value, dict):
        return 'a map by detector, e.g. {"rage_click": {"clicks": 4}}'
    known = {detector.name: detector.defaults for detector in DETECTORS}
    for name, overrides in value.items():
        if name not in known:
            return f"no detector {name!r} (there are {', '.join(known)})"
        if not isinstance(overrides, dict):
            return f"{name}: a map of thresholds"
        for key, number in overrides.items():
            if key not in known[name]:
                return f"{name}: no threshold {key!r} (there are {', '.join(known[name])})"
            if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                return f"{name}.{key}: a positive number"
    return None
