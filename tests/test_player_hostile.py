"""The player against a hostile recording (tests/hostile.py): nothing in it runs script
in the viewer's browser, and nothing in it makes the viewer's browser call a host other
than this server and the recorded page's own origin. The player page's
Content-Security-Policy and rrweb's sandboxed iframe stop it, whatever was stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests import hostile
from tests.recording import log_in
from tests.test_keyframes import store_at_pace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SESSION = "session-hostile-01"

MARKS = """() => [document, ...Array.from(document.querySelectorAll('iframe'), (f) => {
  try { return f.contentDocument; } catch (e) { return null; }
})].filter(Boolean).map((d) => d.documentElement && d.documentElement.dataset.pwned)
  .filter(Boolean)"""


def test_a_hostile_recording_runs_no_script_and_calls_no_other_host(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    assert hostile.VECTORS >= 40
    store_at_pace(alices_shop, SESSION, hostile.recording())
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    outside: list[str] = []  # requests that reached the network for another host
    dialogs: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(daphne.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def dialog(box: Any) -> None:
        dialogs.append(box.message)
        box.dismiss()

    viewer.route("**/*", route)
    viewer.on("dialog", dialog)
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{SESSION}?t=3.5")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    viewer.wait_for_timeout(1500)  # time for anything to load, fire or run
    # The recording was replayed, vectors and all...
    replay = viewer.frame_locator("#stage iframe")
    assert replay.locator("b").inner_text() == "bold in an evil font"
    assert replay.locator("img").count() >= 8
    # ...and none of it ran or called out.
    assert viewer.evaluate(MARKS) == []
    assert dialogs == []
    assert outside == []
    viewer.close()
