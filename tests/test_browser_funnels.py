"""The funnels page in Chromium: a funnel built from an action and quick matchers, its
bars, the sessions behind the converted and dropped parts (each playing at its moment),
a breakdown, saving it and opening it again, and the range it counts in."""

from __future__ import annotations

import time
from typing import Any

import pytest

from replay.models import Action, SavedFunnel, Session, TrackedEvent
from tests.recording import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def visit(project: Any, sid: str, steps: int, agent: str, hours_ago: float) -> None:
    """A session an hour or so ago that went `steps` far: home, signup, paid."""
    start = int((time.time() - hours_ago * 3600) * 1000)
    Session.objects.create(id=sid, project=project, first_event_ms=start, user_agent=agent)
    records = [
        {"kind": "pageview", "url": "https://shop.example/home", "data": {}},
        {"kind": "custom", "name": "signup", "data": {"name": "signup", "props": {}}},
        {"kind": "custom", "name": "paid", "data": {"name": "paid", "props": {}}},
    ]
    for index, record in enumerate(records[:steps]):
        fields = {"url": "https://shop.example/home", **record}
        TrackedEvent.objects.create(
            project=project, session_id=sid, ts=start + 30_000 * index, **fields
        )


def bar_counts(page: Any) -> list[str]:
    return [text.strip() for text in page.locator(".bar .bar-count").all_inner_texts()]


def test_a_funnel_is_built_read_and_opened_again(daphne, alice, alices_shop, browser):
    for number, (steps, agent) in enumerate(
        [(3, CHROME), (2, CHROME), (1, FIREFOX), (3, FIREFOX), (2, CHROME)]
    ):
        visit(alices_shop, f"funnel-{number}", steps, agent, hours_ago=2 + number)
    Action.objects.create(
        project=alices_shop, name="Signed up", matchers=[{"kind": "custom", "name": "signup"}]
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/funnels")
    page.wait_for_selector("body[data-ready=true]")

    steps = page.locator("#steps .step")
    steps.nth(0).locator(".step-choice").select_option("quick:pageview")
    steps.nth(0).locator("input").fill("/home*")
    steps.nth(1).locator(".step-choice").select_option(label="Signed up")
    page.click("#add-step")
    steps.nth(2).locator(".step-choice").select_option("quick:custom")
    steps.nth(2).locator("input").fill("paid")
    page.select_option("#breakdown", "browser")
    page.click("#run")
    page.wait_for_selector("#results[data-ready=true]")
    assert bar_counts(page) == ["5", "4", "2"]
    assert page.locator(".bar .bar-percent").all_inner_texts() == ["100%", "80%", "40%"]
    rows = page.locator("table.breakdown tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["Chrome", "Firefox"]
    page.screenshot(path=str(daphne.log_path.parent / "funnel.png"), full_page=True)

    page.locator(".bar").nth(1).locator(".bar-dropped").click()  # dropped before signing up
    page.wait_for_selector("#people[data-ready=true]")
    people = page.locator("#people-list li")
    assert people.count() == 1
    assert "funnel-2" in people.first.inner_text()
    link = people.first.locator("a").get_attribute("href")
    assert link is not None
    assert "/sessions/funnel-2?t=0.0" in link  # the last step it completed: the page view
    page.locator(".bar").nth(2).locator(".bar-converted").click()
    page.wait_for_function("() => document.querySelectorAll('#people-list li').length === 2")
    assert "Play at step 3" in page.locator("#people-list li a").first.inner_text()
    page.screenshot(path=str(daphne.log_path.parent / "funnel-people.png"), full_page=True)

    page.fill("#funnel-name", "Signup to paid")
    page.click("#save-funnel")
    page.wait_for_selector("#saved-funnel-note:has-text('Saved')")
    assert SavedFunnel.objects.get(project=alices_shop).definition["breakdown"] == "browser"
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#saved", label="Signup to paid")
    page.wait_for_selector("#results[data-ready=true]")
    page.wait_for_function("() => document.querySelectorAll('.bar').length === 3")
    assert bar_counts(page) == ["5", "4", "2"]
    assert page.input_value("#breakdown") == "browser"

    # The range the funnel counts in: the page's last 30 days by default, or fewer.
    visit(alices_shop, "three-days-ago", 3, CHROME, hours_ago=72)
    page.click("#run")
    page.wait_for_function("() => document.querySelector('.bar .bar-count').textContent == '6'")
    assert bar_counts(page) == ["6", "5", "3"]
    assert "the last 30 days" in page.inner_text("#range")
    page.select_option("#started-in", "1")
    page.click("#run")
    page.wait_for_function("() => document.querySelector('.bar .bar-count').textContent == '5'")
    assert bar_counts(page) == ["5", "4", "2"]
    assert "the last 24 hours" in page.inner_text("#range")

    steps.nth(0).locator(".step-choice").select_option("quick:click")
    steps.nth(0).locator("input").fill("a:hover")
    page.click("#run")
    page.wait_for_selector("#funnel-problem:has-text(':hover')")
    assert errors == []
