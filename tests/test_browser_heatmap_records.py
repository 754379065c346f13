"""What the real recorder in Chromium gives heatmaps: where in its element each click
fell, and how far an app whose content scrolls inside a container was read, measured on
that container."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.test_browser_tracking import site, tracked

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PAGE = """<!doctype html>
<html><head><title>App</title>
<style>
  html, body { margin: 0; height: 100%; overflow: hidden; }
  main { height: 100%; overflow-y: auto; }
  .tall { height: 3000px; padding: 40px; }
  #buy { width: 200px; height: 60px; }
</style></head>
<body><main><div class="tall"><button id="buy">Buy</button></div></main>
  <script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
</body></html>"""
PLACES = [(0.1, 0.2), (0.5, 0.5), (0.9, 0.8)]


def test_clicks_keep_their_place_and_depth_is_read_on_the_scrolling_container(
    daphne, shop, alice, browser
):
    html = PAGE.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(html) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        page = context.new_page()
        page.goto(f"{origin}/app")
        page.wait_for_function("() => window.replay && window.replay.sessionId()")
        session_id = page.evaluate("replay.sessionId()")
        box = page.locator("#buy").bounding_box()
        assert box is not None
        for fx, fy in PLACES:
            page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            page.wait_for_timeout(1200)  # not a rage click
        page.focus("#buy")
        page.keyboard.press("Enter")  # a click with no place
        for top in (600, 1500, 900):
            page.evaluate(f"document.querySelector('main').scrollTo(0, {top})")
            page.wait_for_timeout(300)
        sizes = page.evaluate(
            "(() => { const m = document.querySelector('main');"
            " return [m.scrollHeight, m.clientHeight]; })()"
        )
        page.evaluate("async () => { await replay.flush(); }")
        context.close()
    records = _records(daphne, alice, session_id)

    clicks = [r["data"] for r in records if r["kind"] == "click"]
    assert len(clicks) == 4
    for (fx, fy), data in zip(PLACES, clicks, strict=False):
        assert data["fx"] == pytest.approx(fx, abs=0.01)
        assert data["fy"] == pytest.approx(fy, abs=0.02)
        assert data["vw"] == 1000
    assert "fx" not in clicks[3]  # from the keyboard
    depth = next(r["data"] for r in records if r["kind"] == "scroll")
    depth.pop("provisional", None)  # (the session may not have ended yet)
    height, viewport = sizes
    assert depth == {
        "depth_px": 1500 + viewport,
        "viewport": viewport,
        "vw": 1000,
        "scroller": "container",
        "selector": "body > main",
        "page_height": height,
        "percent": round((1500 + viewport) / height * 100),
    }


def _records(daphne: Any, alice: Any, session_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = tracked(daphne, alice, session_id)
        if body["complete"] and any(r["kind"] == "scroll" for r in body["records"]):
            break
        time.sleep(1)
    return list(body["records"])
