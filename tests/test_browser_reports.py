"""The experiments and adoption pages in Chromium: a report is chosen with the page's
form, its SVG charts are drawn where the numbers say (each interval bar spans its
interval on the axis), the withheld state, the sessions behind a result opening in the
player at the exposure, the adoption lines and stickiness bars, and the project picker
switching projects (the pages' policy allows no inline handlers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from replay.models import Session
from tests.recording import log_in
from tests.test_adoption import at as day_at
from tests.test_adoption import used
from tests.test_experiment_report import visit
from tests.test_funnels import auth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
RANGE = "since=2026-11-10&until=2026-11-29"


def on_axis(page: Any, chart: Any, value: float) -> float:
    """The screen x of a value on an interval chart, from its first and last ticks."""
    ticks = chart.locator("line.grid")
    first, last = ticks.first.bounding_box(), ticks.last.bounding_box()
    labels = chart.locator("text.tick").all_text_contents()
    lo, hi = (float(t.strip(" %+")) / 100 for t in (labels[0], labels[-1]))
    return float(first["x"] + (value - lo) / (hi - lo) * (last["x"] - first["x"]))


def test_an_experiment_report_is_chosen_drawn_and_opened(daphne, alice, alices_shop, browser):
    for n in range(60):
        visit(alices_shop, f"a-{n}", ["a"], paid=n < 12, rage=n < 2)
    for n in range(80):
        visit(alices_shop, f"b-{n}", ["b"], paid=n < 32, rage=n < 16)
    for n in range(3):
        visit(alices_shop, f"ab-{n}", ["a", "b"], paid=True)
    for n in range(8):
        visit(alices_shop, f"tiny-{n}", [], paid=True)
    api = (
        Client()
        .post(
            f"/api/projects/{alices_shop.pk}/experiments/report",
            json.dumps(
                {
                    "experiment": "checkout",
                    "goal": {"kind": "custom", "name": "paid"},
                    "control": "a",
                    "since": "2026-11-10T00:00:00Z",
                    "until": "2026-11-30T00:00:00Z",
                }
            ),
            content_type="application/json",
            **auth("alice"),
        )
        .json()
    )

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/experiments?{RANGE}")
    page.click(".seen-list a:text-is('checkout')")
    page.select_option("select[name=goal]", "custom")
    page.fill("input[name=value]", "paid")
    page.click("button:text('Show the report')")
    page.wait_for_selector("#report")
    shots = daphne.log_path.parent
    page.screenshot(path=str(shots / "experiment.png"), full_page=True)

    for variant in api["variants"]:
        row = page.locator(f"tr[data-variant={variant['variant']}]")
        assert row.locator("td").nth(0).inner_text() == str(variant["exposures"])
        assert row.locator("td").nth(1).inner_text() == str(variant["conversions"])
        # Each rate's bar spans its Wilson interval on the axis, its tick at the rate.
        rates = page.locator("svg[aria-label='Conversion rate by variant']")
        mark = rates.locator(f"g[data-variant={variant['variant']}]")
        bar = mark.locator("rect.bar").bounding_box()
        low, high = variant["rate_ci"]
        assert abs(bar["x"] - on_axis(page, rates, low)) < 1.5
        assert abs(bar["x"] + bar["width"] - on_axis(page, rates, high)) < 1.5
        tick = mark.locator("line.value").bounding_box()
        assert abs(tick["x"] + tick["width"] / 2 - on_axis(page, rates, variant["rate"])) < 1.5
    b = next(v for v in api["variants"] if v["variant"] == "b")
    lifts = page.locator("svg[aria-label='Lift over the control']")
    bar = lifts.locator("g[data-variant=b] rect.bar").bounding_box()
    assert abs(bar["x"] - on_axis(page, lifts, b["lift_ci"][0])) < 1.5
    assert abs(bar["x"] + bar["width"] - on_axis(page, lifts, b["lift_ci"][1])) < 1.5
    assert page.locator("tr[data-variant=b]").get_attribute("class") == "tone-better"
    assert page.locator("tr[data-variant=b] .p").inner_text() == f"{b['p_value']:.3f}"
    assert "saw several variants" in page.locator(".excluded").inner_text()
    # B's extra rage clicks show, marked worse than the control.
    assert page.locator("tr[data-friction=rage_click] td.shift-worse").count() == 1

    # The sessions behind B's conversions open in the player at the exposure.
    page.click("tr[data-variant=b] a:text('32 converted')")
    people = page.locator("#people .people-list li")
    assert people.count() == 32
    page.screenshot(path=str(shots / "experiment-people.png"), full_page=True)
    link = people.first.locator("a").get_attribute("href")
    assert link is not None
    assert "?t=0.0" in link
    session = link.split("/sessions/")[1].split("?")[0]
    assert Session.objects.get(pk=session).project == alices_shop
    assert session.startswith("b-")
    assert not errors


def test_a_small_experiment_is_withheld(daphne, alice, alices_shop, browser):
    for n in range(20):
        visit(alices_shop, f"a-{n}", ["a"], paid=n < 4)
        visit(alices_shop, f"b-{n}", ["b"], paid=n < 9)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(
        f"{daphne.url}/experiments?{RANGE}&experiment=checkout&goal=custom&value=paid&control=a"
    )
    page.screenshot(path=str(daphne.log_path.parent / "experiment-withheld.png"), full_page=True)
    withheld = page.locator(".withheld").inner_text()
    assert "a has 20 exposures (50 needed)" in withheld
    assert "a has 4 conversions (5 needed)" in withheld
    assert page.locator("tr[data-variant=b] .lift").inner_text() == "withheld"
    assert page.locator("svg[aria-label='Lift over the control']").count() == 0
    # The rates and their intervals are still shown: they are honest at any size.
    assert page.locator("svg[aria-label='Conversion rate by variant'] rect.bar").count() == 2


def test_adoption_is_chosen_and_drawn(daphne, alice, alices_shop, bobs_blog, browser):
    bobs_blog.members.add(alice)  # two projects: the picker shows
    # Weeks of November 2026 (the 2nd a Monday): ann uses the export twice the first
    # week, bo on three days of the second, cy is active but never exports.
    used(alices_shop, "ann-1", "ann", (day_at(3), "export"), (day_at(4), "export"))
    used(alices_shop, "bo-1", "bo", (day_at(10), "export"), (day_at(11), "export"))
    used(alices_shop, "bo-2", "bo", (day_at(12), "export"))
    used(alices_shop, "cy-1", "cy", (day_at(5), "view"), (day_at(17), "view"))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/adoption?since=2026-11-02&until=2026-11-22")
    page.select_option("select[name=project]", str(bobs_blog.pk))
    page.wait_for_url(f"**/adoption?project={bobs_blog.pk}")
    page.select_option("select[name=project]", str(alices_shop.pk))
    page.wait_for_url(f"**/adoption?project={alices_shop.pk}")
    page.select_option("select[name=feature]", "custom")
    page.fill("input[name=value]", "export")
    page.fill("input[name=since]", "2026-11-02")
    page.fill("input[name=until]", "2026-11-22")
    page.click("button:text('Show adoption')")
    page.wait_for_selector("#report")
    page.screenshot(path=str(daphne.log_path.parent / "adoption.png"), full_page=True)

    rows = page.locator(".adoption-table tbody tr")
    assert rows.all_inner_texts() == [
        "2026-11-02\t2\t1\t50.0 %\t1\t\N{EN DASH}",
        "2026-11-09\t1\t1\t100.0 %\t2\t0",
        "2026-11-16\t1\t0\t0.0 %\t2\t0",
    ]
    users = page.locator(".chart-users svg")
    adopters = users.locator("g[data-series=Adopters] circle.dot")
    assert adopters.count() == 3
    # Stickiness: ann one week of 2 days, bo one week of 3; bars as tall as their counts.
    bars = page.locator(".chart-stickiness g.column")
    heights = [bars.nth(n).locator("rect").bounding_box()["height"] for n in range(7)]
    assert heights[0] == 0
    assert heights[3:] == [0, 0, 0, 0]
    assert heights[1] > 0
    assert abs(heights[1] - heights[2]) < 0.5
    assert not errors
