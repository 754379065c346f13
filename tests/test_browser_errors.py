"""The errors page in Chromium: groups listed with their counts and trends, one opened
with its stack, browsers and sessions (a session opening in the player at the error),
resolved with the page's button, and the range chosen (applied at once)."""

from __future__ import annotations

import pytest

from tests.recording import log_in
from tests.test_error_groups import CHROME, FIREFOX, PAY_STACK, crash

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_errors_are_listed_opened_and_resolved(daphne, alice, alices_shop, browser):
    stack = PAY_STACK.format(line=3)
    crash(alices_shop, "crash-1", CHROME, "ann", (5, "Order 17 failed", stack))
    crash(alices_shop, "crash-2", CHROME, "bo", (8, "Order 2048 failed", stack))
    crash(alices_shop, "crash-3", FIREFOX, "", (12, "Order 99 failed", PAY_STACK.format(line=9)))
    crash(alices_shop, "crash-4", CHROME, "ann", (15, "Cannot read 'price' of undefined", ""))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/errors")
    rows = page.locator(".error-table tbody tr")
    assert rows.count() == 2
    shots = daphne.log_path.parent
    page.screenshot(path=str(shots / "errors.png"), full_page=True)
    order = page.locator("tr:has-text('Order 99 failed')")
    assert order.locator("td.count").inner_text() == "3"
    assert order.locator("td.sessions").inner_text() == "3"
    order.locator(".error-cell a").click()
    page.wait_for_selector("#group")
    assert page.locator("#group .people-list li").count() == 3
    assert "at pay (" in page.locator("#group pre.stack").inner_text()
    page.screenshot(path=str(shots / "error-group.png"), full_page=True)
    link = page.locator("#group .people-list a").first.get_attribute("href")
    assert link is not None
    assert "/sessions/crash-3?t=" in link
    # Resolved from the list, it leaves the open ones.
    page.locator("tr:has-text('Order 99 failed') button:text('Resolve')").click()
    page.wait_for_load_state()
    assert page.locator("tr:has-text('Order 99 failed') .status").inner_text() == "Resolved"
    page.select_option("select[name=status]", "open")
    page.wait_for_url("**status=open**")
    assert page.locator(".error-table tbody tr").count() == 1
    page.select_option("select[name=days]", "1")
    page.wait_for_url("**days=1**")
    assert not errors
