"""The experiments and adoption pages, drawn on the server: they show what their JSON APIs
answer (for a quick matcher, an action or a saved funnel as the goal, by sessions and by
users), list the experiments seen with their variants, list the sessions behind a result
page by page, show a field they cannot read with a 400 naming it, and show nothing of a
project to outsiders. (The charts' places are checked in Chromium:
test_browser_reports.py.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from replay.models import Action, SavedFunnel
from tests.test_adoption import ask as ask_adoption
from tests.test_adoption import at as day_at
from tests.test_adoption import used
from tests.test_experiment_report import ask, visit

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
RANGE = {"since": "2026-11-10", "until": "2026-11-29"}  # the API's SINCE..UNTIL, as days


def get(user: Any, path: str, **params: Any) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(path, params)


def report_page(user: Any, project: Any, **params: Any) -> Any:
    asked = {"project": project.pk, "experiment": "checkout", "goal": "custom", "value": "paid"}
    return get(user, "/experiments", **{**asked, "control": "a", **RANGE, **params})


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def row(html: str, variant: str) -> list[str]:
    found = re.search(rf'<tr class="tone-\w+" data-variant="{variant}">(.*?)</tr>', html, re.S)
    assert found, variant
    return [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


@pytest.fixture
def checkout(alices_shop: Any) -> Any:
    for n in range(60):
        visit(alices_shop, f"a-{n}", ["a"], paid=n < 12, rage=n < 2, user=f"u{n % 50}")
    for n in range(80):
        visit(alices_shop, f"b-{n}", ["b"], paid=n < 32, rage=n < 16, user=f"v{n % 70}")
    for n in range(3):
        visit(alices_shop, f"ab-{n}", ["a", "b"], paid=True)
    return alices_shop


@pytest.mark.parametrize("count", ["sessions", "users"])
def test_the_report_shows_what_the_api_answers(alice, checkout, count):
    answer = ask(checkout, count=count).json()
    html = report_page(alice, checkout, count=count).content.decode()
    for variant in answer["variants"]:
        exposures, conversions, rate, lift, p, chance, links = row(html, variant["variant"])
        assert (exposures, conversions) == (str(variant["exposures"]), str(variant["conversions"]))
        low, high = variant["rate_ci"]
        assert rate == f"{percent(variant['rate'])} {percent(low)} \N{EN DASH} {percent(high)}"
        if variant["variant"] == "a":
            assert (lift, p, chance) == ("\N{EN DASH}", "\N{EN DASH}", "\N{EN DASH}")
        else:
            low, high = (f"{v * 100:+.1f} %" for v in variant["lift_ci"])
            assert lift == f"{variant['lift'] * 100:+.1f} % {low} \N{EN DASH} {high}"
            assert p == f"{variant['p_value']:.3f}"
            assert chance == percent(variant["chance_to_beat_control"])
        missed = variant["exposures"] - variant["conversions"]
        assert links == f"{variant['conversions']} converted {missed} did not all sessions"
    assert f"Excluded: {answer['excluded']} {count} saw several variants" in text(html)
    friction = re.search(r'<tr data-friction="rage_click">(.*?)</tr>', html, re.S)
    assert friction is not None
    b_rage = answer["variants"][1]["friction"]["rage_click"]
    assert f'shift-worse">{percent(b_rage["share"])}' in friction.group(1)


def test_actions_and_saved_funnels_are_goals_as_in_the_api(alice, checkout):
    paid = Action.objects.create(
        project=checkout, name="Paid", matchers=[{"kind": "custom", "name": "paid"}]
    )
    funnel = SavedFunnel.objects.create(
        project=checkout,
        name="Pays",
        definition={"steps": [{"action": paid.pk}], "window": "session", "count": "users"},
    )
    by_action = ask(checkout, goal={"action": paid.pk}).json()
    html = report_page(alice, checkout, goal=f"action:{paid.pk}").content.decode()
    assert row(html, "b")[:2] == [str(v) for v in (80, by_action["variants"][1]["conversions"])]
    assert "goal: Paid" in text(html)
    by_funnel = ask(checkout, goal={"steps": [{"action": paid.pk}], "window": "session"}).json()
    html = report_page(alice, checkout, goal=f"funnel:{funnel.pk}").content.decode()
    assert row(html, "b")[1] == str(by_funnel["variants"][1]["conversions"])
    # The funnel's own count and range are not the report's: the form's are.
    assert "by sessions" in text(html)


def test_the_experiments_seen_and_their_variants(alice, checkout):
    visit(checkout, "other-1", [])  # a session with no exposure
    html = get(alice, "/experiments", project=checkout.pk, **RANGE).content.decode()
    listed = re.search(r'<ul class="seen-list">(.*?)</ul>', html, re.S)
    assert listed is not None
    seen = text(listed.group(1))
    assert seen == "checkout 143 sessions · a, b"  # the 3 that saw both counted once
    assert 'name="experiment" required data-autosubmit' in html
    # Another experiment's page chooses its own control, not the one asked before.
    html = report_page(alice, checkout, control="green").content.decode()
    assert '<option value="a" selected>a</option>' in html
    assert row(html, "a")[0] == "60"


def test_the_sessions_behind_a_result_page_by_page(alice, checkout):
    html = report_page(alice, checkout, variant="b", part="not_converted").content.decode()
    assert "48 sessions of b that did not convert" in text(html)
    links = re.findall(r'href="(http://testserver/sessions/([^"?]+)\?t=[\d.]+)"', html)
    assert len(links) == 48
    assert all(sid.startswith("b-") for _, sid in links)
    assert "Show more" not in html
    # From a list, the other lists' links name their variant and part once.
    converted = re.search(r'href="\?([^"]*)#people">32 converted', html)
    assert converted is not None
    assert converted.group(1).count("variant=") == 1
    assert converted.group(1).count("part=converted") == 1
    seen: list[str] = []
    offset = 0
    while True:
        html = report_page(
            alice, checkout, variant="a", part="converted", limit=5, offset=offset
        ).content.decode()
        assert "12 sessions of a that converted" in text(html)
        assert f'<ol class="people-list" start="{offset + 1}">' in html
        seen += re.findall(r'href="http://testserver/sessions/(a-\d+)\?', html)
        more = re.search(r'href="[^"]*offset=(\d+)[^"]*#people">Show more', html)
        if more is None:
            break
        offset = int(more.group(1))
    assert sorted(seen) == sorted(f"a-{n}" for n in range(12))


def test_bad_fields_are_shown_by_name_with_a_400(alice, checkout):
    for params, named in [
        ({"since": "soon"}, "since: a day"),
        ({"since": "2026-11-30"}, "since: must not come after until"),
        ({"value": ""}, "goal: type what to match"),
        ({"goal": "funnel:999"}, "goal: no saved funnel 999"),
        ({"goal": "action:999"}, "goal: steps[1].action: no action 999"),
        ({"goal": "pageview", "value": "x"}, ""),  # a fine goal: no error
        ({"count": "visits"}, "goal: count: one of sessions, users"),
        ({"offset": "x", "variant": "a", "part": "converted"}, "offset must be a number"),
    ]:
        answer = report_page(alice, checkout, **params)
        problem = re.search(
            r'<p class="card problem" role="alert">(.*?)</p>', answer.content.decode()
        )
        if not named:
            assert answer.status_code == 200
            assert problem is None
            continue
        assert answer.status_code == 400, params
        assert problem is not None
        assert problem.group(1).startswith(named), problem


def test_adoption_shows_what_the_api_answers(alice, alices_shop):
    used(alices_shop, "ann-1", "ann", (day_at(3), "export"), (day_at(4), "export"))
    used(alices_shop, "bo-1", "bo", (day_at(10), "export"), (day_at(11), "export"))
    used(alices_shop, "anon-1", "", (day_at(12), "export"))
    used(alices_shop, "cy-1", "cy", (day_at(5), "view"), (day_at(17), "view"))
    answer = ask_adoption(alices_shop).json()
    params = {"project": alices_shop.pk, "feature": "custom", "value": "export"}
    html = get(alice, "/adoption", since="2026-11-02", until="2026-11-22", **params)
    page = html.content.decode()
    for interval in answer["intervals"]:
        found = re.search(rf'<tr data-start="{interval["start"]}">(.*?)</tr>', page, re.S)
        assert found is not None
        cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)]
        retained = interval["retained"]
        assert cells == [
            str(interval["active_users"]),
            str(interval["adopters"]),
            percent(interval["rate"]),
            str(interval["cumulative_adopters"]),
            "\N{EN DASH}" if retained is None else str(retained),
        ]
    bars = re.findall(r'<g class="column" data-label="(\d) days?">\s*<title>[^:]+: (\d+)', page)
    assert [int(n) for _, n in bars] == answer["stickiness"]
    assert "1 anonymous session (no identified user)" in text(page)
    assert len(re.findall(r'<g class="series', page)) == 5  # four counts and the rate
    bad = get(alice, "/adoption", interval="year", **params)
    assert bad.status_code == 400
    assert "interval: one of day, week, month" in bad.content.decode()


def test_outsiders_see_nothing_of_a_project(mallory, checkout, client):
    for path in ("/experiments", "/adoption"):
        answer = get(mallory, path, project=checkout.pk, experiment="checkout", **RANGE)
        assert answer.status_code == 200
        assert "No projects" in answer.content.decode()
        assert "checkout" not in text(answer.content.decode()).replace("/experiments", "")
        assert client.get(path).status_code == 302  # to the login page
