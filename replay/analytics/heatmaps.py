"""Heatmaps (README, "Heatmaps"): where people click on a page, and how far they read
it, from the event-tracking records, for one screen class at a time.

A click map groups a page's clicks (or its rage, dead or error clicks, from the
friction records) by the element clicked, named by its selector, with the places
inside the element where they fell (fractions of its box, as the recorder measured
them), so that a page drawn at any width puts each point on its element. A scroll map
gives the share of page views that reached each twentieth of the page, measured on what
scrolls the page. Clicks and page views of other window widths are never mixed in."""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import FloatField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from replay.analytics.funnel_query import moment_of
from replay.analytics.matchers import glob_matches
from replay.models import Project, TrackedEvent
from replay.search import BadRequest

# Screen classes by the window's width in CSS pixels: [lowest, highest].
WIDTHS = {"mobile": (0, 767), "tablet": (768, 1279), "desktop": (1280, 1_000_000)}
# What a map shows: clicks, or the friction of a click, or scrolling.
FRICTION = {"rage": "rage_click", "dead": "dead_click", "error": "error_click"}
KINDS = ("click", *FRICTION, "scroll")
MAX_POINTS = 2000  # per element, sampled evenly
MAX_ELEMENTS = 500  # the most clicked; the rest are counted in `unlisted`
BAND = 5  # percent of the page
MAX_GLOB = 2000
DEFAULT_RANGE = timedelta(days=30)
_CHUNK = 5000
_BAD_GLOB = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass
class Query:
    url: str  # a glob of the page's URL (the rules of pageview matchers)
    width: str
    kind: str
    since_ms: int
    until_ms: int


def parse(params: Mapping[str, str]) -> Query:
    """A heatmap's query from a request's parameters; a BadRequest names what is wrong."""
    url = params.get("url", "")
    if not url or len(url) > MAX_GLOB or _BAD_GLOB.search(url):
        raise BadRequest(
            "url: a glob of the page's URL, e.g. /product/* (no spaces, at most"
            f" {MAX_GLOB} characters)"
        )
    width = params.get("width", "desktop")
    if width not in WIDTHS:
        raise BadRequest(f"width: one of {', '.join(WIDTHS)}, not {width!r}")
    kind = params.get("kind", "click")
    if kind not in KINDS:
        raise BadRequest(f"kind: one of {', '.join(KINDS)}, not {kind!r}")
    given = {name: params[name] for name in ("since", "until") if params.get(name)}
    until = moment_of(given, "until") or timezone.now()
    since = moment_of(given, "since") or until - DEFAULT_RANGE
    if since >= until:
        raise BadRequest("since: must come before until")
    return Query(url, width, kind, int(since.timestamp() * 1000), int(until.timestamp() * 1000))


def records(project: Project, query: Query) -> QuerySet[TrackedEvent]:
    """The query's records, narrowed by the database: of its kind, time and width (as
    `width`), with every piece of the glob in the URL (each is then matched exactly,
    `matching`)."""
    found = TrackedEvent.objects.filter(
        project=project, ts__gte=query.since_ms, ts__lt=query.until_ms
    )
    if query.kind in FRICTION:
        found = found.filter(kind="friction", name=FRICTION[query.kind])
    else:  # click, scroll, or pageview (the page views to draw over)
        found = found.filter(kind=query.kind)
    low, high = WIDTHS[query.width]
    # (One reading of the width per record, as a number: `BETWEEN`.)
    width = Cast(KT("data__vw"), FloatField())
    found = found.annotate(width=width).filter(width__range=(low, high))
    for piece in query.url.split("*"):
        if piece:
            found = found.filter(url__contains=piece)
    return found.order_by()  # in any order: sorting them costs more than the rest


def matching(query: Query, rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The rows (the URL first) whose URL the glob matches."""
    for row in rows:
        if glob_matches(query.url, row[0]):
            yield row


@dataclass(slots=True)
class _Element:
    count: int = 0
    places: array[float] = field(default_factory=lambda: array("f"))  # fx, fy, fx, fy...


def clicks(project: Project, query: Query) -> dict[str, Any]:
    """`{"total", "elements": [{"selector", "count", "share", "points"}], "unnamed",
    "unlisted"}`: the clicks on each element, most clicked first, with at most
    MAX_POINTS of their places, sampled evenly; the clicks whose element has no name;
    and those on elements beyond the MAX_ELEMENTS most clicked."""
    # (The places as numbers from the database: decoding each as JSON costs more.)
    placed = records(project, query).annotate(
        fx=Cast(KT("data__fx"), FloatField()), fy=Cast(KT("data__fy"), FloatField())
    )
    rows = placed.values_list("url", "selector", "fx", "fy")
    elements: dict[str, _Element] = {}
    total = unnamed = 0
    for _, selector, fx, fy in matching(query, rows.iterator(chunk_size=_CHUNK)):
        total += 1
        if not selector:
            unnamed += 1
            continue
        element = elements.get(selector)
        if element is None:
            element = elements[selector] = _Element()
        element.count += 1
        if fx is not None and fy is not None and 0 <= fx <= 1 and 0 <= fy <= 1:
            element.places.append(fx)
            element.places.append(fy)
    ranked = sorted(elements.items(), key=lambda item: (-item[1].count, item[0]))
    listed = ranked[:MAX_ELEMENTS]
    return {
        "total": total,
        "elements": [
            {
                "selector": selector,
                "count": element.count,
                "share": element.count / total,
                "points": _sampled(element.places),
            }
            for selector, element in listed
        ],
        "unnamed": unnamed,
        "unlisted": sum(element.count for _, element in ranked[MAX_ELEMENTS:]),
    }


def _sampled(places: array[float]) -> list[list[float]]:
    """At most MAX_POINTS of the places, evenly spread over all of them."""
    n = len(places) // 2
    chosen = range(n) if n <= MAX_POINTS else (i * n // MAX_POINTS for i in range(MAX_POINTS))
    return [[round(places[2 * i], 4), round(places[2 * i + 1], 4)] for i in chosen]


def scrolling(project: Project, query: Query) -> dict[str, Any]:
    """`{"pageviews", "bands": [{"from", "to", "reached"}], "fold", "reach": {"25",
    "50", "75"}}`: of the page views whose page height the recorder measured, the share
    that reached into each 5 % band of the page (went past its top), the average fold
    (the visible height over the page's height) and the shares that read at least a
    quarter, half and three quarters of it."""
    fields = ("url", "data__depth_px", "data__page_height", "data__viewport")
    rows = records(project, query).values_list(*fields)
    reached = [0] * (100 // BAND)
    quarters = {"25": 0, "50": 0, "75": 0}
    views = 0
    folds = 0.0
    for _, depth, height, viewport in matching(query, rows.iterator(chunk_size=_CHUNK)):
        if not all(isinstance(v, int | float) and v > 0 for v in (depth, height, viewport)):
            continue
        views += 1
        folds += min(1.0, viewport / height)
        # (Compared as products: 2200 px of 4000 is 55 %, not a hair more.)
        for band in range(len(reached)):
            if depth * 100 > band * BAND * height:
                reached[band] += 1
        for quarter in quarters:
            if depth * 100 >= int(quarter) * height:
                quarters[quarter] += 1
    share = (lambda n: n / views) if views else (lambda n: 0.0)
    return {
        "pageviews": views,
        "bands": [
            {"from": band * BAND, "to": (band + 1) * BAND, "reached": share(count)}
            for band, count in enumerate(reached)
        ],
        "fold": folds / views if views else None,
        "reach": {quarter: share(count) for quarter, count in quarters.items()},
    }


def clicked_sessions(project: Project, query: Query, selector: str) -> list[tuple[str, int, int]]:
    """The sessions with clicks of the query on the element named `selector` ("" for
    the unnamed), newest first: (session, the first such click's time, how many)."""
    rows = records(project, query).filter(Q(selector=selector))
    sessions: dict[str, list[int]] = {}
    for _, session_id, ts in matching(
        query, rows.values_list("url", "session_id", "ts").iterator(chunk_size=_CHUNK)
    ):
        seen = sessions.get(session_id)
        if seen is None:
            sessions[session_id] = [ts, ts, 1]
        else:
            seen[0], seen[1], seen[2] = min(seen[0], ts), max(seen[1], ts), seen[2] + 1
    ordered = sorted(sessions.items(), key=lambda item: (-item[1][1], item[0]))
    return [(session_id, first, count) for session_id, (first, _, count) in ordered]
