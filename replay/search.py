"""Finding sessions: the filters shared by the JSON API and the session list page.

Query parameters: ``project`` (name), ``user`` (exact user id), ``url`` (part of any
visited URL), ``since``/``until`` (ISO 8601, on the session's start), ``min_duration``/
``max_duration`` (seconds), and from the sessions' event-tracking records: ``friction``
(a friction type, or ``any``), ``clicked`` (part of a clicked element's selector or
text, or a CSS selector its element matches), ``event`` (a custom event's name),
``error`` (part of an error's message), ``experiment`` (exposed to it) and ``variant``
(exposed to that variant of it and to no other), ``network_status`` (a request that
`failed`, was `slow`, answered an `error` (4xx, 5xx or failed), `4xx`, `5xx` or one
status code) and ``console_level`` (a console message at `warn`, `error` or `assert`;
several with commas). ``sort=friction`` orders by friction score instead of newest
first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Exists, FloatField, Model, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from replay.friction import DETECTORS
from replay.models import Session, TrackedEvent
from replay.selectors import Selector, SelectorError

FRICTION_TYPES = [detector.name for detector in DETECTORS]
EXPOSURE = "$exposure"  # the custom event of `replay.experiment(name, variant)`


class BadRequest(Exception):
    """A filter value that cannot be understood; answered with 400 and this message."""


def number(request: HttpRequest, name: str, default: float | None = None) -> float | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def moment(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise BadRequest(f"{name} must be an ISO 8601 date and time")
    return moment


def filter_sessions(sessions: QuerySet[Session], request: HttpRequest) -> QuerySet[Session]:
    """Filters shared by the API and the session list page."""
    if project := request.GET.get("project"):
        sessions = sessions.filter(project__name=project)
    if user := request.GET.get("user"):
        sessions = sessions.filter(user_id=user)
    if url := request.GET.get("url"):
        sessions = sessions.filter(urls__icontains=url)
    if since := moment(request, "since"):
        sessions = sessions.filter(created_at__gte=since)
    if until := moment(request, "until"):
        sessions = sessions.filter(created_at__lt=until)
    # In floating point: times stored before ingest bounded them can overflow a
    # difference of integers.
    length = Cast("last_event_ms", FloatField()) - Cast("first_event_ms", FloatField())
    sessions = sessions.annotate(length_ms=length)
    if (shortest := number(request, "min_duration")) is not None:
        sessions = sessions.filter(length_ms__gte=shortest * 1000)
    if (longest := number(request, "max_duration")) is not None:
        sessions = sessions.filter(length_ms__lte=longest * 1000)
    return _by_records(sessions, request)


def _by_records(sessions: QuerySet[Session], request: HttpRequest) -> QuerySet[Session]:
    def having(condition: Q) -> QuerySet[Session]:
        records = TrackedEvent.objects.filter(condition, session=OuterRef("pk"))
        return sessions.filter(Exists(records))

    if friction := request.GET.get("friction"):
        if friction == "any":
            sessions = sessions.filter(friction_count__gt=0)
        elif friction in FRICTION_TYPES:
            sessions = having(Q(kind="friction", name=friction))
        else:
            raise BadRequest(f"friction must be any or one of {', '.join(FRICTION_TYPES)}")
    if clicked := request.GET.get("clicked"):
        sessions = _clicked(sessions, clicked)
    if event := request.GET.get("event"):
        sessions = having(Q(kind="custom", name=event))
    if error := request.GET.get("error"):
        sessions = having(Q(kind="error", name__icontains=error))
    if experiment := request.GET.get("experiment"):
        exposed = Q(kind="custom", name=EXPOSURE, data__props__experiment=experiment)
        sessions = having(exposed)
        if variant := request.GET.get("variant"):
            # Its variant, and no other: a session that saw several is in no variant.
            records = TrackedEvent.objects.filter(exposed, session=OuterRef("pk"))
            other = records.exclude(data__props__variant=variant)
            sessions = having(exposed & Q(data__props__variant=variant)).exclude(Exists(other))
    elif request.GET.get("variant"):
        raise BadRequest("variant: give the experiment too")
    if status := request.GET.get("network_status"):
        sessions = having(network_condition(status))
    if levels := request.GET.get("console_level"):
        sessions = having(console_condition(levels))
    return sessions


CONSOLE_LEVELS = ("warn", "error", "assert")  # the levels kept as records
NETWORK_STATUSES = [  # the session list's choices
    ("error", "A failed request (4xx, 5xx or no answer)"),
    ("5xx", "A server error (5xx)"),
    ("4xx", "A client error (4xx)"),
    ("failed", "A request with no answer"),
    ("slow", "A slow request"),
]


def network_condition(status: str) -> Q:
    """The network records a `network_status` filter asks for."""
    network = Q(kind="network")
    if status == "failed":
        return network & Q(name="failed")
    if status == "slow":
        return network & Q(data__slow=True)
    if status == "error":
        return network & ~Q(data__reason="slow")
    if status in ("4xx", "5xx"):
        return network & Q(name__startswith=status[0], name__regex=r"^\d{3}$")
    if status.isdigit() and len(status) == 3:
        return network & Q(name=status)
    raise BadRequest("network_status: failed, slow, error, 4xx, 5xx or a status code")


def console_condition(levels: str) -> Q:
    """The console records a `console_level` filter asks for."""
    wanted = {level.strip() for level in levels.split(",") if level.strip()}
    if not wanted or not wanted <= set(CONSOLE_LEVELS):
        raise BadRequest(f"console_level: among {', '.join(CONSOLE_LEVELS)}")
    return Q(kind="console", name__in=sorted(wanted))


# Clicks examined when `clicked` is a CSS selector (matched in Python against each click's
# element and ancestors, newest first).
SELECTOR_SCAN = 20_000


def _clicked(sessions: QuerySet[Session], wanted: str) -> QuerySet[Session]:
    """Sessions with a click whose selector or text contains `wanted`, or, when it is a
    CSS selector, whose element matches it (`replay.selectors`, against the element and
    the ancestors each click record keeps)."""
    clicks = TrackedEvent.objects.filter(kind="click", session=OuterRef("pk"))
    by_text = Exists(clicks.filter(Q(selector__icontains=wanted) | Q(text__icontains=wanted)))
    try:
        selector = Selector(wanted)
    except SelectorError:
        return sessions.filter(by_text)
    candidates = (
        TrackedEvent.objects.filter(kind="click", session__in=sessions.values("pk"))
        .order_by("-ts")
        .values_list("session_id", "data")[:SELECTOR_SCAN]
    )
    matched = {
        session_id
        for session_id, data in candidates
        if isinstance(data, dict)
        and isinstance(data.get("element"), dict)
        and selector.matches(data["element"], data.get("ancestors") or [])
    }
    return sessions.filter(by_text | Q(pk__in=matched))


def order_sessions(sessions: QuerySet[Session], request: HttpRequest) -> QuerySet[Session]:
    """Newest first, or with ``sort=friction`` the most friction first."""
    sort = request.GET.get("sort") or "newest"
    if sort == "friction":
        return sessions.order_by("-friction_score", "-created_at", "id")
    if sort != "newest":
        raise BadRequest("sort must be newest or friction")
    return sessions.order_by("-created_at", "id")


T = TypeVar("T", bound=Model)
U = TypeVar("U")


def page_of(
    items: QuerySet[T] | Sequence[U], request: HttpRequest, *, default: int, largest: int
) -> tuple[list[Any], str | None]:
    """One page of ``limit`` items (of a query or a list) from ``offset`` (query
    parameters), and the URL of the next page (None on the last)."""
    limit = int(number(request, "limit", default) or 0)
    offset = int(number(request, "offset", 0) or 0)
    if not 1 <= limit <= largest or offset < 0:
        raise BadRequest(f"limit must be 1-{largest} and offset >= 0")
    page = list(items[offset : offset + limit + 1])
    if len(page) <= limit:
        return page, None
    query = request.GET.copy()
    query["offset"] = str(offset + limit)
    return page[:limit], request.build_absolute_uri("?" + query.urlencode())
