"""The actions page in Chromium: defining an action with its live preview, saving it,
finding it in the list with its counts, editing and deleting it."""

from __future__ import annotations

import pytest

from replay.models import Action
from tests.recording import log_in
from tests.test_actions import record_checkout

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_action_is_defined_with_a_live_preview(daphne, alice, alices_shop, browser):
    record_checkout(alices_shop, "session-page-01", ended_ms_ago=60_000)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/actions")
    page.wait_for_selector("#list-note:has-text('No actions yet')")

    assert not page.is_visible("#delete")  # nothing to delete yet
    page.fill("#action-name", "Tried to buy")
    page.fill("#matchers .matcher input[data-field=selector]", "#buy")
    page.wait_for_function("() => document.getElementById('preview-records').textContent === '7'")
    assert page.inner_text("#preview-sessions") == "1"
    assert page.locator("#examples li").count() == 7
    first = page.locator("#examples li a").first.get_attribute("href")
    assert "/sessions/session-page-01?t=" in first

    page.click("#add-matcher")  # or a rage click
    page.locator("#matchers .matcher .kind").nth(1).select_option("friction")
    page.locator("#matchers .matcher select[data-field=name]").select_option("rage_click")
    page.wait_for_function("() => document.getElementById('preview-records').textContent === '8'")
    page.screenshot(path=str(daphne.log_path.parent / "actions.png"))

    page.fill("#matchers .matcher input[data-field=selector]", "a:hover")  # not supported
    page.wait_for_selector("#preview-problem:has-text(':hover')")
    page.fill("#matchers .matcher input[data-field=selector]", "#buy")
    page.click("#save")
    page.wait_for_selector("#actions-body tr:has-text('Tried to buy')")
    row = page.locator("#actions-body tr", has_text="Tried to buy")
    assert row.locator("td").nth(1).inner_text() == "8"
    action = Action.objects.get(project=alices_shop)
    assert action.matchers == [
        {"kind": "click", "selector": "#buy"},
        {"kind": "friction", "name": "rage_click"},
    ]

    page.click("#new-action")
    assert page.input_value("#action-name") == ""
    row.click()  # back to editing it
    assert page.input_value("#action-name") == "Tried to buy"
    page.locator("#matchers .matcher .remove").nth(1).click()
    page.click("#save")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#actions-body td')]"
        ".some((td) => td.textContent === '7')"
    )
    assert Action.objects.get(pk=action.pk).matchers == [{"kind": "click", "selector": "#buy"}]

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_selector("#list-note:has-text('No actions yet')")
    assert not Action.objects.exists()
    assert errors == []
