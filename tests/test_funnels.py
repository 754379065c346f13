"""Funnels, golden: small sets of records written by hand, and the answers computed by
hand beside them. Re-entry, ties, the window's edge, strict interruptions, any order,
exclusions, users across sessions, breakdowns, the time range, other projects' sessions,
and that the list behind every bar is exactly what the bar counts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from django.test import Client

from replay.models import Session, TrackedEvent
from tests.test_api import bearer, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]  # on PostgreSQL too

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z, inside every test's range
SINCE, UNTIL = "2026-11-10T00:00:00Z", "2026-11-30T00:00:00Z"
HOME = {"kind": "pageview", "url": "/home*"}
SIGNUP = {"kind": "custom", "name": "signup"}
PAID = {"kind": "custom", "name": "paid"}
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1 Version/17.0 Mobile Safari/604.1"
)


def session(
    project: Any, sid: str, records: Sequence[tuple[float, str, Any]], **fields: Any
) -> None:
    """A session and its records: (seconds after T0, kind, url or name or props)."""
    first = T0 + round(min(at for at, _, _ in records) * 1000) if records else T0
    Session.objects.create(id=sid, project=project, first_event_ms=first, **fields)
    for at, kind, what in records:
        row: dict[str, Any] = {"url": "https://shop.example/home", "data": {}}
        if kind == "pageview":
            row["url"] = f"https://shop.example{what}"
        elif kind == "custom":
            name, props = (what, {}) if isinstance(what, str) else what
            row.update(name=name, data={"name": name, "props": props})
        elif kind == "friction":
            row.update(name=what, data={"type": what})
        elif kind == "click":
            element = {"type": 2, "tagName": "button", "attributes": {"id": what}}
            row.update(selector=f"#{what}", data={"element": element, "ancestors": []})
        TrackedEvent.objects.create(
            project=project, session_id=sid, ts=T0 + round(at * 1000), kind=kind, **row
        )


def auth(username: str) -> dict[str, Any]:
    return dict(bearer(token_for(username)))


def funnel(project: Any, steps: list[Any], username: str = "alice", **options: Any) -> Any:
    body = {"steps": steps, "since": SINCE, "until": UNTIL, **options}
    answer = Client().post(
        f"/api/projects/{project.pk}/funnel",
        json.dumps(body),
        content_type="application/json",
        **auth(username),
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def counts(answer: Any) -> list[int]:
    return [step["count"] for step in answer["steps"]]


def listed(url: str, username: str = "alice") -> list[dict[str, Any]]:
    answer = Client().get(url, **auth(username))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == len(body["sessions"])
    return list(body["sessions"])


def test_bars_conversions_times_and_the_lists_behind_them(alices_shop, bobs_blog):
    session(
        alices_shop,
        "s1",
        [(0, "pageview", "/home"), (10, "custom", "signup"), (20, "custom", "paid")],
    )
    session(alices_shop, "s2", [(0, "pageview", "/home"), (5, "custom", "signup")])
    session(alices_shop, "s3", [(0, "pageview", "/home?ref=ad")])
    session(alices_shop, "s4", [(0, "custom", "signup"), (1, "custom", "paid")])  # no step 1
    session(bobs_blog, "b1", [(0, "pageview", "/home"), (1, "custom", "signup")])  # Bob's
    answer = funnel(alices_shop, [HOME, SIGNUP, PAID])
    assert counts(answer) == [3, 2, 1]
    first, second, third = answer["steps"]
    assert [s["label"] for s in answer["steps"]] == ["Viewed /home*", "signup", "paid"]
    assert (first["conversion_from_previous"], first["conversion_from_first"]) == (1.0, 1.0)
    assert second["conversion_from_previous"] == pytest.approx(2 / 3)
    assert third["conversion_from_previous"] == 0.5
    assert third["conversion_from_first"] == pytest.approx(1 / 3)
    assert first["median_seconds_from_previous"] is None
    assert (second["median_seconds_from_previous"], second["p90_seconds_from_previous"]) == (
        7.5,
        10,
    )
    assert (third["median_seconds_from_previous"], third["p90_seconds_from_previous"]) == (10, 10)
    assert first["dropped"] is None

    converted = listed(second["converted"])
    assert [(s["session"], s["ts"]) for s in converted] == [("s2", T0 + 5000), ("s1", T0 + 10_000)]
    assert converted[0]["link"].endswith("/sessions/s2?t=4.0")  # a second before the step
    dropped = listed(second["dropped"])
    assert [(s["session"], s["ts"]) for s in dropped] == [("s3", T0)]  # where it went astray
    assert dropped[0]["link"].endswith("/sessions/s3?t=0.0")
    assert [s["session"] for s in listed(third["dropped"])] == ["s2"]
    assert [s["session"] for s in listed(first["converted"])] == ["s1", "s2", "s3"]
    for step in answer["steps"]:  # every list is exactly its bar
        assert len(listed(step["converted"])) == step["count"]


def test_an_entity_counts_once_at_its_furthest_attempt(alices_shop):
    # The first attempt misses the window; the second, later, completes the funnel.
    records = [(0, "pageview", "/home"), (1, "custom", "signup"), (100, "pageview", "/home")]
    records += [(101, "custom", "signup"), (102, "custom", "paid")]
    session(alices_shop, "again", records)
    answer = funnel(alices_shop, [HOME, SIGNUP, PAID], window_seconds=60)
    assert counts(answer) == [1, 1, 1]
    assert [s["ts"] for s in listed(answer["steps"][2]["converted"])] == [T0 + 102_000]
    assert answer["steps"][1]["median_seconds_from_previous"] == 1


def test_steps_at_the_same_time_count_in_step_order(alices_shop):
    # Stored in the reverse order, all at once.
    session(
        alices_shop,
        "ties",
        [(0, "custom", "paid"), (0, "custom", "signup"), (0, "pageview", "/home")],
    )
    assert counts(funnel(alices_shop, [HOME, SIGNUP, PAID])) == [1, 1, 1]
    assert counts(funnel(alices_shop, [HOME, SIGNUP, PAID], order="strict")) == [1, 1, 1]


def test_the_windows_edge(alices_shop):
    session(alices_shop, "at-edge", [(0, "pageview", "/home"), (10, "custom", "signup")])
    session(alices_shop, "past-edge", [(0, "pageview", "/home"), (10.001, "custom", "signup")])
    answer = funnel(alices_shop, [HOME, SIGNUP], window_seconds=10)
    assert counts(answer) == [2, 1]
    assert [s["session"] for s in listed(answer["steps"][1]["converted"])] == ["at-edge"]
    assert [s["session"] for s in listed(answer["steps"][1]["dropped"])] == ["past-edge"]


def test_strict_order_is_interrupted_by_what_the_user_did_in_between(alices_shop):
    session(
        alices_shop,
        "clicked",
        [(0, "pageview", "/home"), (1, "click", "promo"), (2, "custom", "signup")],
    )
    session(
        alices_shop,
        "raged",
        [(0, "pageview", "/home"), (1, "friction", "rage_click"), (2, "custom", "signup")],
    )
    assert counts(funnel(alices_shop, [HOME, SIGNUP])) == [2, 2]
    strict = funnel(alices_shop, [HOME, SIGNUP], order="strict")
    assert counts(strict) == [2, 1]
    assert [s["session"] for s in listed(strict["steps"][1]["dropped"])] == ["clicked"]


def test_any_order(alices_shop):
    session(
        alices_shop,
        "backwards",
        [(0, "custom", "paid"), (1, "custom", "signup"), (2, "pageview", "/home")],
    )
    session(alices_shop, "two", [(0, "custom", "signup"), (1, "pageview", "/home")])
    assert counts(funnel(alices_shop, [HOME, SIGNUP, PAID])) == [2, 0, 0]
    assert counts(funnel(alices_shop, [HOME, SIGNUP, PAID], order="any")) == [2, 2, 1]


def test_an_excluded_entity_is_left_out_entirely(alices_shop):
    cancel = {"kind": "custom", "name": "cancel"}
    session(
        alices_shop,
        "cancelled",
        [
            (0, "pageview", "/home"),
            (1, "custom", "cancel"),
            (2, "custom", "signup"),
            (3, "custom", "paid"),
        ],
    )
    session(
        alices_shop,
        "later",
        [
            (0, "pageview", "/home"),
            (1, "custom", "signup"),
            (2, "custom", "cancel"),
            (3, "custom", "paid"),
        ],
    )
    exclusions = [{"step": cancel, "after": 1, "before": 2}]
    answer = funnel(alices_shop, [HOME, SIGNUP, PAID], exclusions=exclusions)
    assert counts(answer) == [1, 1, 1]
    assert [s["session"] for s in listed(answer["steps"][0]["converted"])] == ["later"]


def test_users_across_sessions(alices_shop):
    session(alices_shop, "u1-monday", [(0, "pageview", "/home")], user_id="user-1")
    session(
        alices_shop,
        "u1-tuesday",
        [(86_400, "custom", "signup"), (86_401, "custom", "paid")],
        user_id="user-1",
    )
    session(alices_shop, "anonymous", [(0, "pageview", "/home"), (5, "custom", "signup")])
    by_sessions = funnel(alices_shop, [HOME, SIGNUP, PAID])
    assert counts(by_sessions) == [2, 1, 0]
    by_users = funnel(alices_shop, [HOME, SIGNUP, PAID], count="users")
    assert counts(by_users) == [2, 2, 1]
    converted = listed(by_users["steps"][2]["converted"])
    assert [(s["entity"], s["session"]) for s in converted] == [("user-1", "u1-tuesday")]
    within = funnel(alices_shop, [HOME, SIGNUP, PAID], count="users", window="session")
    assert counts(within) == [2, 1, 0]


def test_breakdowns(alices_shop):
    session(
        alices_shop,
        "chrome-1",
        [(0, "custom", ("start", {"plan": "pro"})), (1, "custom", "paid")],
        user_agent=CHROME,
    )
    session(
        alices_shop, "chrome-2", [(0, "custom", ("start", {"plan": "free"}))], user_agent=CHROME
    )
    session(
        alices_shop,
        "firefox",
        [(0, "custom", ("start", {"plan": "pro"})), (2, "custom", "paid")],
        user_agent=FIREFOX,
    )
    session(
        alices_shop,
        "iphone",
        [(0, "custom", ("start", {})), (2, "custom", "paid")],
        user_agent=IPHONE,
    )
    steps = [{"kind": "custom", "name": "start"}, PAID]

    def table(answer: Any) -> dict[str, list[int]]:
        return {group["value"]: counts(group) for group in answer["breakdown"]}

    by_browser = funnel(alices_shop, steps, breakdown="browser")
    assert counts(by_browser) == [4, 3]
    assert table(by_browser) == {"Chrome": [2, 1], "Firefox": [1, 1], "Safari": [1, 1]}
    assert [g["value"] for g in by_browser["breakdown"]] == ["Chrome", "Firefox", "Safari"]
    chrome = by_browser["breakdown"][0]["steps"][1]
    assert [s["session"] for s in listed(chrome["dropped"])] == ["chrome-2"]
    assert table(funnel(alices_shop, steps, breakdown="device")) == {
        "Desktop": [3, 2],
        "Mobile": [1, 1],
    }
    assert table(funnel(alices_shop, steps, breakdown="prop:plan")) == {
        "pro": [2, 2],
        "free": [1, 0],
        "(none)": [1, 1],
    }
    assert table(funnel(alices_shop, steps, breakdown="url")) == {
        "https://shop.example/home": [4, 3]
    }
    assert funnel(alices_shop, steps)["breakdown"] == []


def test_step_one_must_happen_in_the_range(alices_shop):
    session(alices_shop, "early", [(0, "pageview", "/home"), (1, "custom", "signup")])
    session(alices_shop, "inside", [(10, "pageview", "/home"), (11, "custom", "signup")])
    answer = funnel(alices_shop, [HOME, SIGNUP], since="2026-11-18T11:06:41Z")  # T0 + 1 s
    assert counts(answer) == [1, 1]
    assert counts(funnel(alices_shop, [HOME, SIGNUP], until="2026-11-18T11:06:50Z")) == [1, 1]


def test_a_step_may_be_an_action(alices_shop, bobs_blog):
    from replay.models import Action

    session(alices_shop, "s1", [(0, "pageview", "/home"), (3, "custom", "paid")])
    bought = Action.objects.create(project=alices_shop, name="Bought", matchers=[SIGNUP, PAID])
    answer = funnel(alices_shop, [HOME, {"action": bought.pk}])
    assert counts(answer) == [1, 1]
    assert answer["steps"][1]["label"] == "Bought"
