"""Actions: named, retroactive event definitions (replay/analytics). The matchers, on
records computed from the real checkout recording, and the API that names them, counts
what they match over the last 30 days and previews them, for the project's members only;
every malformed field gets a 400 that names it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from replay.analytics.matchers import MatcherError, glob_matches, parse, parse_all
from replay.models import Action, Session
from replay.records import track_session
from replay.storage import get_storage
from tests.stored import store_at_pace
from tests.support import load_recording
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db

DAY_MS = 24 * 3600 * 1000


def record_checkout(project: Any, session_id: str, ended_ms_ago: int) -> None:
    """The checkout recording, as if it ended `ended_ms_ago`, with its records."""
    events = load_recording("checkout")
    shift = int(time.time() * 1000) - ended_ms_ago - events[-1]["timestamp"]
    store_at_pace(project, session_id, [{**e, "timestamp": e["timestamp"] + shift} for e in events])
    track_session(Session.objects.select_related("project").get(pk=session_id), get_storage())


@pytest.fixture
def shop(alices_shop: Any, bobs_blog: Any) -> Any:
    record_checkout(alices_shop, "session-actions-01", ended_ms_ago=60_000)
    record_checkout(alices_shop, "session-actions-02", ended_ms_ago=2 * DAY_MS)
    record_checkout(alices_shop, "session-actions-old", ended_ms_ago=31 * DAY_MS)
    record_checkout(bobs_blog, "session-actions-bob", ended_ms_ago=60_000)  # never counted
    return alices_shop


def as_user(username: str) -> dict[str, Any]:
    return dict(bearer(token_for(username)))


def post(path: str, body: Any, username: str = "alice") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return Client().post(path, data, content_type="application/json", **as_user(username))


# What each matcher matches in one checkout session, counted by hand from its records:
# 7 clicks on the Buy now button (#buy, in a div in the form), 1 page view, 1 input per
# field, the purchase event, a rage click and 2 dead clicks, no error.
PER_SESSION = [
    ({"kind": "click", "selector": "#buy"}, 7),
    ({"kind": "click", "selector": "form div > #buy"}, 7),
    ({"kind": "click", "selector": "main > #buy"}, 0),  # #buy's parent is a div
    ({"kind": "click", "text": "Buy  now "}, 7),
    ({"kind": "click", "selector": "#buy", "text": "Buy"}, 0),
    ({"kind": "click", "selector": "[id=email]"}, 2),
    ({"kind": "input", "selector": "#email"}, 1),
    ({"kind": "input", "selector": "form input, form select, form textarea"}, 10),
    ({"kind": "pageview", "url": "/checkout*"}, 1),
    ({"kind": "pageview", "url": "http://127.0.0.1:*/checkout.html"}, 1),
    ({"kind": "pageview", "url": "/cart*"}, 0),
    ({"kind": "custom", "name": "purchase"}, 1),
    ({"kind": "custom", "name": "purchase", "props": {"order": "HS-10427", "total": 91.4}}, 1),
    ({"kind": "custom", "name": "purchase", "props": {"order": "HS-1"}}, 0),
    ({"kind": "friction", "name": "rage_click"}, 1),
    ({"kind": "friction", "name": "dead_click"}, 2),
    ({"kind": "error", "message": "failed"}, 0),
]


@pytest.mark.parametrize(("matcher", "per_session"), PER_SESSION)
def test_each_matcher_counts_what_it_matches_in_the_last_30_days(shop, matcher, per_session):
    answer = post(f"/api/projects/{shop.pk}/actions/preview", {"matchers": [matcher]})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    # Two of the shop's sessions are recent; the third is 31 days old; Bob's is Bob's.
    assert body["records_30d"] == 2 * per_session
    assert body["sessions_30d"] == (2 if per_session else 0)
    assert len(body["examples"]) == min(10, 2 * per_session)
    for example in body["examples"]:
        assert example["session"] in {"session-actions-01", "session-actions-02"}
        assert f"/sessions/{example['session']}?t=" in example["link"]
    stamps = [example["ts"] for example in body["examples"]]
    assert stamps == sorted(stamps, reverse=True)  # the latest first


def test_an_action_is_any_of_its_matchers(shop):
    either = [{"kind": "custom", "name": "purchase"}, {"kind": "friction", "name": "rage_click"}]
    body = post(f"/api/projects/{shop.pk}/actions/preview", {"matchers": either}).json()
    assert (body["records_30d"], body["sessions_30d"]) == (4, 2)


def test_actions_are_defined_listed_changed_and_deleted(shop, alice, django_user_model):
    base = f"/api/projects/{shop.pk}/actions"
    created = post(base, {"name": "Bought", "matchers": [{"kind": "custom", "name": "purchase"}]})
    assert created.status_code == 201
    action = created.json()
    assert action["name"] == "Bought"
    assert (action["records_30d"], action["sessions_30d"]) == (2, 2)
    assert (
        post(base, {"name": "Bought", "matchers": [{"kind": "error", "message": "x"}]})
        .json()["error"]
        .startswith("name: the project has an action named")
    )
    listed = Client().get(base, **as_user("alice")).json()["actions"]
    assert listed == [action]

    one = f"{base}/{action['id']}"
    changed = Client().patch(
        one,
        json.dumps({"matchers": [{"kind": "click", "selector": "#buy"}]}),
        content_type="application/json",
        **as_user("alice"),
    )
    assert changed.status_code == 200
    assert changed.json()["records_30d"] == 14
    assert Client().get(one, **as_user("alice")).json() == changed.json()

    # Viewers define actions too; people outside the project see none of it.
    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    shop.members.add(viewer)
    assert Client().get(one, **as_user("victor")).status_code == 200
    assert (
        post(
            base,
            {"name": "Raged", "matchers": [{"kind": "friction", "name": "rage_click"}]},
            "victor",
        ).status_code
        == 201
    )
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    for method in ("get", "patch", "delete"):
        assert getattr(Client(), method)(one, **as_user("mallory")).status_code == 404
    assert Client().get(base, **as_user("mallory")).status_code == 404
    assert post(f"{base}/preview", {"matchers": []}, "mallory").status_code == 404

    assert Client().delete(one, **as_user("alice")).status_code == 204
    assert Client().get(one, **as_user("alice")).status_code == 404
    assert [a["name"] for a in Client().get(base, **as_user("alice")).json()["actions"]] == [
        "Raged"
    ]


def test_an_action_of_another_project_is_not_found(shop, bob, bobs_blog):
    theirs = Action.objects.create(
        project=bobs_blog, name="Theirs", matchers=[{"kind": "custom", "name": "purchase"}]
    )
    answer = Client().get(f"/api/projects/{shop.pk}/actions/{theirs.pk}", **as_user("alice"))
    assert answer.status_code == 404


BAD = [
    ("not json", "the body must be JSON"),
    ([], "the body must be a JSON object"),
    ({"name": "", "matchers": [{"kind": "pageview", "url": "/"}]}, "name:"),
    ({"name": "x" * 201, "matchers": [{"kind": "pageview", "url": "/"}]}, "name:"),
    ({"name": "A", "matchers": []}, "matchers:"),
    ({"name": "A", "matchers": {"kind": "pageview"}}, "matchers:"),
    ({"name": "A", "matchers": [{"kind": "pageview", "url": "/"}] * 21}, "matchers:"),
    ({"name": "A", "matchers": [{"kind": "tap"}]}, "matchers[0].kind:"),
    ({"name": "A", "matchers": ["click"]}, "matchers[0]:"),
    ({"name": "A", "matchers": [{"kind": "pageview"}]}, "matchers[0].url: required"),
    ({"name": "A", "matchers": [{"kind": "pageview", "url": 3}]}, "matchers[0].url:"),
    ({"name": "A", "matchers": [{"kind": "click"}]}, "matchers[0]: a click matcher needs"),
    ({"name": "A", "matchers": [{"kind": "click", "selector": "a:hover"}]}, "':hover'"),
    ({"name": "A", "matchers": [{"kind": "click", "selector": "a + b"}]}, "matchers[0].selector"),
    ({"name": "A", "matchers": [{"kind": "input", "text": "x"}]}, "matchers[0].text: not a"),
    ({"name": "A", "matchers": [{"kind": "click", "selector": "a[href^='/cart']"}]}, "absolute"),
    ({"name": "A", "matchers": [{"kind": "input", "selector": "[value=x]"}]}, "[value] is not"),
    ({"name": "A", "matchers": [{"kind": "custom", "name": "x", "props": [1]}]}, ".props:"),
    ({"name": "A", "matchers": [{"kind": "friction", "name": "slow"}]}, "matchers[0].name: one"),
    ({"name": "A", "matchers": [{"kind": "error"}]}, "matchers[0].message: required"),
    ({"name": "A", "matchers": [{"kind": "pageview", "url": "/"}], "color": 1}, "color:"),
]


@pytest.mark.parametrize(("body", "named"), BAD)
def test_malformed_fields_get_a_400_that_names_them(shop, body, named):
    answer = post(f"/api/projects/{shop.pk}/actions", body)
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert not Action.objects.exists()


def test_globs_follow_the_rules_of_excluded_urls():
    assert glob_matches("/checkout*", "https://shop.example/checkout.html?step=2")
    assert glob_matches("*?step=2", "https://shop.example/checkout.html?step=2")
    assert not glob_matches("/checkout", "https://shop.example/checkout.html")
    assert glob_matches("https://shop.example/*", "https://shop.example/a/b")
    assert not glob_matches("https://shop.example/*", "http://shop.example/a")
    assert glob_matches("/a*b*c", "https://x.example/a-b-c")
    assert not glob_matches("/a*b*c", "https://x.example/a-c-b")
    assert glob_matches("/a*a", "https://x.example/aa")
    assert not glob_matches("/a*a", "https://x.example/a")


def test_a_selector_the_matcher_cannot_match_exactly_is_refused_by_name():
    for selector, part in [
        ("li:nth-child(2)", ":nth-child(2)"),
        ("a ~ b", "~ b"),
        ("::before", "::before"),
    ]:
        with pytest.raises(MatcherError, match="selector") as refused:
            parse({"kind": "click", "selector": selector})
        assert part[:5] in str(refused.value)
    assert len(parse_all([{"kind": "click", "selector": "a, button.primary"}])) == 1
