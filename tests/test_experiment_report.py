"""The experiment report (replay/analytics/experiments.py) on crafted exposures: each
variant's exposures and conversions (the goal reached after the exposure), statistics
against the control, friction shares, entities that saw several variants left out,
results withheld on small groups, the lists behind each variant, users across sessions,
and bad input refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from replay.analytics import stats
from replay.models import Session, TrackedEvent
from tests.test_funnels import SINCE, T0, UNTIL, auth

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
GOAL = {"kind": "custom", "name": "paid"}


def visit(
    project: Any,
    sid: str,
    variants: list[str],
    paid: bool = False,
    paid_before: bool = False,
    rage: bool = False,
    user: str = "",
) -> None:
    Session.objects.get_or_create(
        id=sid, defaults={"project": project, "first_event_ms": T0, "user_id": user}
    )
    rows = []

    def add(at: int, kind: str, name: str, data: dict[str, Any]) -> None:
        rows.append(
            TrackedEvent(
                project=project,
                session_id=sid,
                ts=T0 + at,
                kind=kind,
                name=name,
                url="https://shop.example/",
                data=data,
            )
        )

    if paid_before:
        add(500, "custom", "paid", {"name": "paid", "props": {}})
    for n, variant in enumerate(variants):
        props = {"experiment": "checkout", "variant": variant}
        add(1000 + n, "custom", "$exposure", {"name": "$exposure", "props": props})
    if paid:
        add(60_000, "custom", "paid", {"name": "paid", "props": {}})
    if rage:
        add(30_000, "friction", "rage_click", {"type": "rage_click"})
    TrackedEvent.objects.bulk_create(rows)


def ask(project: Any, username: str = "alice", **body: Any) -> Any:
    sent = {"experiment": "checkout", "goal": GOAL, "control": "a", "since": SINCE}
    sent["until"] = UNTIL
    sent.update(body)
    return Client().post(
        f"/api/projects/{project.pk}/experiments/report",
        json.dumps(sent),
        content_type="application/json",
        **auth(username),
    )


def test_variants_against_the_control(alice, alices_shop):
    for n in range(60):
        visit(alices_shop, f"a-{n}", ["a"], paid=n < 12, rage=n < 2)
    for n in range(80):
        visit(alices_shop, f"b-{n}", ["b"], paid=n < 24, rage=n < 8)
    for n in range(3):
        visit(alices_shop, f"ab-{n}", ["a", "b"], paid=True)  # saw both: left out
    visit(alices_shop, "b-late", ["b"], paid_before=True)  # paid before the exposure only
    answer = ask(alices_shop)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["experiment"], body["control"], body["excluded"]) == ("checkout", "a", 3)
    assert (body["insufficient"], body["reason"]) == (False, None)
    control, variant = body["variants"]
    assert (control["variant"], control["exposures"], control["conversions"]) == ("a", 60, 12)
    assert (variant["variant"], variant["exposures"], variant["conversions"]) == ("b", 81, 24)
    assert control["rate"] == pytest.approx(0.2)
    assert control["rate_ci"] == pytest.approx(list(stats.wilson(12, 60) or ()))
    assert (control["lift"], control["p_value"], control["chance_to_beat_control"]) == (
        None,
        None,
        None,
    )
    assert variant["lift"] == pytest.approx((24 / 81) / 0.2 - 1)
    assert variant["lift_ci"] == pytest.approx(list(stats.lift_interval((24, 81), (12, 60)) or ()))
    assert variant["p_value"] == pytest.approx(stats.p_value((24, 81), (12, 60)))
    chance = stats.chance_to_beat((24, 81), (12, 60))
    assert variant["chance_to_beat_control"] == pytest.approx(chance)
    rage = variant["friction"]["rage_click"]
    assert rage["share"] == pytest.approx(8 / 81)
    assert rage["p_value"] == pytest.approx(stats.p_value((8, 81), (2, 60)))
    assert variant["friction"]["any"]["share"] == pytest.approx(8 / 81)
    assert control["friction"]["rage_click"] == {"share": pytest.approx(2 / 60), "p_value": None}

    converted = Client().get(variant["converted"], **auth("alice")).json()
    assert converted["count"] == 24
    assert converted["sessions"][0]["link"].endswith("?t=0.0")  # just before the exposure
    missed = Client().get(variant["not_converted"], **auth("alice")).json()
    assert missed["count"] == 57
    assert "b-late" in {s["session"] for s in missed["sessions"]}


def test_results_are_withheld_on_small_groups(alice, alices_shop):
    for n in range(60):
        visit(alices_shop, f"a-{n}", ["a"], paid=n < 10)
    for n in range(30):
        visit(alices_shop, f"b-{n}", ["b"], paid=n < 3)
    body = ask(alices_shop).json()
    assert body["insufficient"] is True
    assert body["reason"] == "b has 30 exposures (50 needed); b has 3 conversions (5 needed)"
    variant = body["variants"][1]
    assert (variant["exposures"], variant["conversions"], variant["rate"]) == (30, 3, 0.1)
    assert variant["lift"] is None
    assert variant["p_value"] is None
    assert variant["chance_to_beat_control"] is None


def test_users_convert_across_their_sessions(alice, alices_shop):
    visit(alices_shop, "u1-first", ["a"], user="ann")
    visit(alices_shop, "u1-second", [], paid=True, user="ann")
    visit(alices_shop, "u2", ["b"], user="bo")
    body = ask(alices_shop, count="users").json()
    counts = {v["variant"]: (v["exposures"], v["conversions"]) for v in body["variants"]}
    assert counts == {"a": (1, 1), "b": (1, 0)}
    by_sessions = ask(alices_shop).json()
    counts = {v["variant"]: (v["exposures"], v["conversions"]) for v in by_sessions["variants"]}
    assert counts == {"a": (1, 0), "b": (1, 0)}


BAD = [
    ({"experiment": ""}, "experiment:"),
    ({"control": None}, "control:"),
    ({"control": "z"}, "control:"),
    ({"goal": None}, "goal:"),
    ({"goal": {"kind": "tap"}}, "goal:"),
    ({"goal": {"steps": [GOAL], "colour": 1}}, "goal.colour:"),
    ({"count": "people"}, "goal: count:"),
    ({"since": "yesterday"}, "goal: since:"),
    ({"size": 3}, "size:"),
]


@pytest.mark.parametrize(("change", "named"), BAD)
def test_bad_input_is_refused_by_name(alice, alices_shop, change, named):
    visit(alices_shop, "a-1", ["a"])
    answer = ask(alices_shop, **change)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(named), answer.json()


def test_outsiders_find_no_project(alices_shop, mallory):
    assert ask(alices_shop, username="mallory").status_code == 404
