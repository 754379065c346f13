"""Feature adoption (replay/analytics/adoption.py) on hand-built weeks: active users,
adopters, rate, cumulative adopters, retained adopters, stickiness and anonymous
sessions counted as users; calendar intervals; bad input refused by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from replay.models import Session, TrackedEvent
from tests.test_funnels import auth

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
EXPORT = {"kind": "custom", "name": "export"}


def at(day: int, hour: int = 12) -> int:
    """Milliseconds at that hour of that day of November 2026 (the 2nd is a Monday)."""
    return int(datetime(2026, 11, day, hour, tzinfo=UTC).timestamp() * 1000)


def used(project: Any, sid: str, user: str, *moments: tuple[int, str]) -> None:
    Session.objects.get_or_create(
        id=sid, defaults={"project": project, "first_event_ms": moments[0][0], "user_id": user}
    )
    for ts, what in moments:
        kind, name = ("custom", what) if what != "view" else ("pageview", "")
        data = {"name": name, "props": {}} if kind == "custom" else {"how": "load"}
        TrackedEvent.objects.create(
            project=project,
            session_id=sid,
            ts=ts,
            kind=kind,
            name=name,
            url="https://shop.example/app",
            data=data,
        )


def ask(project: Any, username: str = "alice", **body: Any) -> Any:
    sent = {"feature": EXPORT, "interval": "week", "since": "2026-11-02T00:00:00Z"}
    sent["until"] = "2026-11-23T00:00:00Z"
    sent.update(body)
    return Client().post(
        f"/api/projects/{project.pk}/adoption",
        json.dumps(sent),
        content_type="application/json",
        **auth(username),
    )


@pytest.fixture
def weeks(alices_shop: Any) -> Any:
    shop = alices_shop
    used(shop, "ann-1", "ann", (at(2), "export"), (at(3), "export"), (at(3, 15), "export"))
    used(shop, "ann-2", "ann", (at(11), "export"))
    used(shop, "ann-3", "ann", (at(17), "view"))
    used(shop, "bo-1", "bo", (at(4), "view"))
    used(shop, "bo-2", "bo", (at(9), "export"), (at(10), "export"), (at(11), "export"))
    used(shop, "anon-1", "", (at(12), "view"), (at(12, 13), "export"))
    used(shop, "cy-1", "cy", (at(20), "view"))
    used(shop, "cy-0", "cy", (at(1, 23), "export"))  # before the range
    return shop


def test_weekly_adoption(alice, weeks):
    answer = ask(weeks)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    rows = [
        (
            i["start"],
            i["active_users"],
            i["adopters"],
            i["rate"],
            i["cumulative_adopters"],
            i["retained"],
        )
        for i in body["intervals"]
    ]
    assert rows == [
        ("2026-11-02", 2, 1, 0.5, 1, None),
        ("2026-11-09", 3, 3, 1.0, 3, 1),
        ("2026-11-16", 2, 0, 0.0, 3, 0),
    ]
    # User-weeks by days used: ann twice (2 days, then 1), bo 3 days, the anonymous 1.
    assert body["stickiness"] == [2, 1, 1, 0, 0, 0, 0]
    assert body["anonymous"] == 1


def test_days_and_months(alice, weeks):
    body = ask(weeks, interval="day", since="2026-11-09T00:00:00Z", until="2026-11-12T00:00:00Z")
    days = [(i["start"], i["active_users"], i["adopters"]) for i in body.json()["intervals"]]
    assert days == [("2026-11-09", 1, 1), ("2026-11-10", 1, 1), ("2026-11-11", 2, 2)]
    body = ask(weeks, interval="month", since="2026-10-20T00:00:00Z", until="2026-12-01T00:00:00Z")
    months = [(i["start"], i["active_users"], i["adopters"]) for i in body.json()["intervals"]]
    assert months == [("2026-10-01", 0, 0), ("2026-11-01", 4, 4)]
    assert body.json()["intervals"][0]["rate"] is None  # nobody active


BAD = [
    ({"interval": "year"}, "interval:"),
    ({"feature": {"kind": "tap"}}, "feature.kind:"),
    ({"feature": {"action": 12345}}, "feature.action:"),
    ({"since": "soon"}, "since:"),
    ({"since": "2026-11-30T00:00:00Z"}, "since:"),
    ({"interval": "day", "since": "2024-01-01T00:00:00Z"}, "interval:"),
    ({"colour": "red"}, "colour:"),
]


@pytest.mark.parametrize(("change", "named"), BAD)
def test_bad_input_is_refused_by_name(alice, weeks, change, named):
    answer = ask(weeks, **change)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(named), answer.json()


def test_outsiders_find_no_project(weeks, mallory):
    assert ask(weeks, username="mallory").status_code == 404
