"""Funnels, as a client sends them: every malformed field gets a 400 naming it, an
action of another project is refused, viewers query and outsiders find nothing, and
funnels are saved by name. (The answers themselves: `tests/test_funnels.py`.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.test_funnels import (
    HOME,
    PAID,
    SIGNUP,
    SINCE,
    UNTIL,
    auth,
    counts,
    funnel,
    listed,
    session,
)

pytestmark = pytest.mark.django_db


BAD = [
    ({"steps": [HOME]}, "steps:"),
    ({"steps": [HOME] * 21}, "steps:"),
    ({"steps": "home"}, "steps:"),
    ({"steps": [HOME, {"kind": "tap"}]}, "steps[1].kind:"),
    ({"steps": [HOME, {"kind": "click", "selector": "a:hover"}]}, "steps[1].selector:"),
    ({"steps": [HOME, {"action": 999999}]}, "steps[1].action:"),
    ({"steps": [HOME, SIGNUP], "order": "random"}, "order:"),
    ({"steps": [HOME, SIGNUP], "window_seconds": 0}, "window_seconds:"),
    ({"steps": [HOME, SIGNUP], "window_seconds": -5}, "window_seconds:"),
    ({"steps": [HOME, SIGNUP], "window_seconds": "week"}, "window_seconds:"),
    ({"steps": [HOME, SIGNUP], "window": "day"}, "window:"),
    ({"steps": [HOME, SIGNUP], "count": "people"}, "count:"),
    ({"steps": [HOME, SIGNUP], "since": "yesterday"}, "since:"),
    ({"steps": [HOME, SIGNUP], "until": "2026-13-01"}, "until:"),
    ({"steps": [HOME, SIGNUP], "since": UNTIL, "until": SINCE}, "since:"),
    (
        {"steps": [HOME, SIGNUP], "exclusions": [{"step": PAID, "after": 2, "before": 1}]},
        "exclusions[0]",
    ),
    ({"steps": [HOME, SIGNUP], "exclusions": [{"step": PAID}]}, "exclusions[0]"),
    (
        {"steps": [HOME, SIGNUP], "exclusions": [{"step": {"kind": "x"}, "after": 1, "before": 2}]},
        "exclusions[0].step",
    ),
    ({"steps": [HOME, SIGNUP], "breakdown": "country"}, "breakdown:"),
    ({"steps": [HOME, SIGNUP], "breakdown": "prop:"}, "breakdown:"),
    ({"steps": [HOME, SIGNUP], "colour": "red"}, "colour:"),
    ([HOME, SIGNUP], "the body must be a JSON object"),
]


@pytest.mark.parametrize(("body", "named"), BAD)
def test_malformed_fields_get_a_400_that_names_them(alices_shop, body, named):
    answer = Client().post(
        f"/api/projects/{alices_shop.pk}/funnel",
        json.dumps(body),
        content_type="application/json",
        **auth("alice"),
    )
    assert answer.status_code == 400
    assert named in answer.json()["error"]


def test_an_action_of_another_project_is_refused(alices_shop, bobs_blog):
    from replay.models import Action

    theirs = Action.objects.create(project=bobs_blog, name="Theirs", matchers=[SIGNUP])
    answer = Client().post(
        f"/api/projects/{alices_shop.pk}/funnel",
        json.dumps({"steps": [HOME, {"action": theirs.pk}]}),
        content_type="application/json",
        **auth("alice"),
    )
    assert answer.status_code == 400
    assert "steps[1].action" in answer.json()["error"]


def test_viewers_query_and_outsiders_find_nothing(alices_shop, django_user_model):
    session(alices_shop, "s1", [(0, "pageview", "/home"), (1, "custom", "signup")])
    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(viewer)
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    answer = funnel(alices_shop, [HOME, SIGNUP], username="victor")
    assert counts(answer) == [1, 1]
    url = answer["steps"][1]["converted"]
    assert len(listed(url, "victor")) == 1
    for path in (url, answer["steps"][0]["converted"]):
        assert Client().get(path, **auth("mallory")).status_code == 404
    outsider = Client().post(
        f"/api/projects/{alices_shop.pk}/funnel",
        json.dumps({"steps": [HOME, SIGNUP]}),
        content_type="application/json",
        **auth("mallory"),
    )
    assert outsider.status_code == 404
    for bad in ("q=nonsense&step=1&part=converted", "step=9&part=converted", "step=1&part=dropped"):
        q = url.split("?")[1].split("&")[0] if "q=" not in bad else ""
        path = f"/api/projects/{alices_shop.pk}/funnel/sessions?{bad}&{q}"
        answer = Client().get(path, **auth("alice"))
        assert answer.status_code == 400, bad


def test_funnels_are_saved_by_name_and_opened_again(alices_shop, django_user_model):
    base = f"/api/projects/{alices_shop.pk}/funnels"
    definition = {"steps": [HOME, SIGNUP], "order": "strict", "breakdown": "browser"}
    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(viewer)

    def save(body: Any, username: str = "victor") -> Any:
        return Client().post(
            base, json.dumps(body), content_type="application/json", **auth(username)
        )

    saved = save({"name": "Signup", "definition": definition})
    assert saved.status_code == 201
    again = save({"name": "Signup", "definition": {**definition, "order": "any"}})
    assert again.status_code == 200
    assert again.json()["id"] == saved.json()["id"]
    funnels = Client().get(base, **auth("alice")).json()["funnels"]
    assert funnels == [
        {"id": saved.json()["id"], "name": "Signup", "definition": {**definition, "order": "any"}}
    ]
    bad = save({"name": "Broken", "definition": {"steps": [HOME]}})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("definition.steps:")
    assert save({"name": "", "definition": definition}).status_code == 400
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    assert Client().get(base, **auth("mallory")).status_code == 404
    assert save({"name": "Theirs", "definition": definition}, "mallory").status_code == 404
    one = f"{base}/{saved.json()['id']}"
    assert Client().delete(one, **auth("mallory")).status_code == 404
    assert Client().delete(one, **auth("victor")).status_code == 204
    assert Client().get(base, **auth("alice")).json()["funnels"] == []
