"""The database narrows a funnel's records (`replay.analytics.funnel_sql`) and a strict
funnel learns from it when the user did something that matches nothing: neither may
change an answer. Random records and random funnels, each answer compared with the one
computed from every record of the project in Python. Runs on SQLite and, marked
scaleout, again on PostgreSQL (whose LIKE, unlike SQLite's, minds case)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from replay.analytics.funnel_query import parse_query, run
from replay.analytics.funnels import Candidate, evaluate
from replay.models import Project, Session, TrackedEvent

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]

T0 = 1_795_000_000_000
SINCE, UNTIL = "2026-11-18T11:00:00Z", "2026-11-18T13:00:00Z"
URLS = [
    "https://shop.example/home",
    "https://shop.example/Home?ref=ad",
    "https://shop.example/product/fern",
    "https://shop.example/product/cactus#reviews",
    "https://shop.example/cart",
    "https://other.example/home",
]
ELEMENTS = [
    ({"tagName": "button", "attributes": {"id": "add", "class": "btn primary"}}, "Add  to cart"),
    ({"tagName": "button", "attributes": {"id": "Add", "class": "btn", "type": "SUBMIT"}}, "Add"),
    ({"tagName": "a", "attributes": {"class": "nav-link", "data-action": "buy"}}, "Buy now"),
    ({"tagName": "span", "attributes": {"data-x": "true"}}, "x"),
]
ANCESTORS = [
    [{"tagName": "main", "attributes": {"class": "shop"}}],
    [{"tagName": "nav", "attributes": {"id": "top"}}, {"tagName": "body", "attributes": {}}],
]
MATCHERS: list[dict[str, Any]] = [
    {"kind": "pageview", "url": "/home*"},
    {"kind": "pageview", "url": "/product/*"},
    {"kind": "pageview", "url": "https://shop.example/*"},
    {"kind": "pageview", "url": "/cart"},
    {"kind": "click", "selector": "#add"},
    {"kind": "click", "selector": ".btn"},
    {"kind": "click", "selector": "main .btn, nav > a"},
    {"kind": "click", "selector": "[type=submit]"},
    {"kind": "click", "selector": "[data-action^=bu]"},
    {"kind": "click", "selector": "[data-x=TRUE i]"},
    {"kind": "click", "text": "add to cart"},
    {"kind": "click", "text": "Add to cart"},
    {"kind": "input", "selector": "#email"},
    {"kind": "custom", "name": "checkout"},
    {"kind": "custom", "name": "paid", "props": {"plan": "pro"}},
    {"kind": "error", "message": "undefined"},
    {"kind": "friction", "name": "rage_click"},
]


def _record(project: Project, sid: str, ts: int, rng: random.Random) -> TrackedEvent:
    kind = rng.choice(
        ["pageview"] * 3
        + ["click"] * 3
        + ["input", "custom", "custom"] * 1
        + [
            "error",
            "friction",
            "scroll",
        ]
    )
    row: dict[str, Any] = {"url": rng.choice(URLS), "data": {}}
    if kind in ("click", "input"):
        chosen, text = rng.choice(ELEMENTS)
        if kind == "input":
            chosen, text = {"tagName": "input", "attributes": {"id": "email"}}, ""
        element: dict[str, Any] = {"type": 2, **chosen}
        ancestors = [{"type": 2, **a} for a in rng.choice(ANCESTORS)]
        row.update(text=text, data={"element": element, "ancestors": ancestors})
    elif kind == "custom":
        name = rng.choice(["checkout", "paid", "Checkout"])
        props = rng.choice([{}, {"plan": "pro"}, {"plan": "free"}])
        row.update(name=name, data={"name": name, "props": props})
    elif kind == "error":
        message = rng.choice(["TypeError: x is undefined", "Failed to fetch"])
        row.update(name=message, data={"message": message})
    elif kind == "friction":
        name = rng.choice(["rage_click", "dead_click"])
        row.update(name=name, data={"type": name})
    return TrackedEvent(project=project, session_id=sid, ts=ts, kind=kind, **row)


def _fill(project: Project, rng: random.Random) -> None:
    rows = []
    for number in range(40):
        sid = f"s{number:02d}"
        user = rng.choice(["", "", "u1", "u2", "u3", "u4", "u5"])
        Session.objects.create(id=sid, project=project, first_event_ms=T0, user_id=user)
        ts = T0 + rng.randrange(3_600_000)
        for _ in range(rng.randrange(3, 25)):
            ts += rng.choice([0, 0, 1, 500, 5_000, 60_000, 600_000])
            rows.append(_record(project, sid, ts, rng))
    TrackedEvent.objects.bulk_create(rows)


def _definition(rng: random.Random) -> dict[str, Any]:
    steps = rng.sample(MATCHERS, rng.randrange(2, 5))
    body: dict[str, Any] = {"steps": steps, "since": SINCE, "until": UNTIL}
    body["order"] = rng.choice(["sequential", "strict", "any"])
    body["count"] = rng.choice(["sessions", "users"])
    if rng.random() < 0.3:
        body["window"] = "session"
    else:
        body["window_seconds"] = rng.choice([1, 60, 900, 86_400])
    if rng.random() < 0.3:
        before = rng.randrange(2, len(steps) + 1)
        body["exclusions"] = [
            {"step": rng.choice(MATCHERS), "after": rng.randrange(1, before), "before": before}
        ]
    return body


def _reference(project: Project, body: dict[str, Any]) -> tuple[set[Any], int]:
    """The answer from every record of the project, each matched in Python."""
    query = parse_query(project, body)
    users = dict(Session.objects.filter(project=project).values_list("pk", "user_id"))
    grouped: dict[str, list[TrackedEvent]] = {}
    for row in TrackedEvent.objects.filter(project=project).order_by("ts", "id"):
        key = row.session_id if query.count == "sessions" else users[row.session_id]
        grouped.setdefault(key or row.session_id, []).append(row)
    reached = set()
    for key, rows in grouped.items():
        found = [Candidate(r.session_id, r.ts, r.kind, query.spec.mask(r)) for r in rows]
        outcome = evaluate(found, query.spec, query.since_ms, query.until_ms)
        if outcome.reached and not outcome.excluded:
            reached.add((key, tuple((c.ts, c.session_id) for c in outcome.steps)))
    return reached, len(grouped)


def test_narrowing_by_the_database_never_changes_an_answer(shop: Project) -> None:
    project = shop
    rng = random.Random(13)
    _fill(project, rng)
    seen = set()
    for _ in range(120):
        body = _definition(rng)
        expected, _ = _reference(project, body)
        result = run(project, parse_query(project, body))
        got = {(r.entity, tuple(zip(r.times, r.sessions, strict=True))) for r in result.reached}
        assert got == expected, body
        seen.add((body["order"], len(expected) > 0))
    # The random funnels did reach people, in each order.
    assert {order for order, reached in seen if reached} == {"sequential", "strict", "any"}
