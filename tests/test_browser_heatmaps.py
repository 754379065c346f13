"""The heatmaps page in Chromium, over recordings made by the real recorder: a
responsive page (its elements move between widths) is recorded at 1280 px and at 390 px
with 200 scripted clicks on known elements each; on the heatmap of each width, at least
95 % of the drawn points fall inside the box of the element clicked, read in the
replayed page. The scroll map's figures equal a computation from the scroll records."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from replay.models import TrackedEvent
from tests.recording import log_in
from tests.test_browser_tracking import site

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
CLICKS = 200
TARGETS = ["cta", "nav-deals", "nav-help", "contact"] + [f"buy-{n}" for n in range(1, 7)]
CARDS = "".join(
    f'<div class="card"><h3>Plant {n}</h3><p>A fine plant.</p>'
    f'<button id="buy-{n}">Buy plant {n}</button></div>'
    for n in range(1, 7)
)
PAGE = f"""<!doctype html>
<html><head><title>Responsive shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body {{ margin: 0; font-family: sans-serif; color: #1f2937; }}
  header {{ display: flex; justify-content: space-between; align-items: center;
           padding: 16px 32px; background: #ecfdf5; }}
  nav button {{ margin-left: 12px; padding: 8px 14px; }}
  #hero {{ height: 320px; display: flex; align-items: center; justify-content: center;
          background: #d1fae5; }}
  #cta {{ width: 260px; height: 64px; font-size: 20px; }}
  .grid {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 24px; padding: 32px; }}
  .card {{ border: 1px solid #d1d5db; border-radius: 8px; padding: 16px; height: 200px; }}
  .card button {{ width: 60%; height: 48px; }}
  footer {{ padding: 48px 32px; background: #f3f4f6; }}
  @media (max-width: 767px) {{
    header {{ flex-direction: column; gap: 8px; padding: 12px; }}
    #hero {{ height: 200px; }}
    #cta {{ width: 90%; }}
    .grid {{ grid-template-columns: 1fr; padding: 12px; }}
    .card button {{ width: 100%; }}
  }}
</style></head>
<body>
  <header><strong>Green shop</strong>
    <nav><button id="nav-deals">Deals</button><button id="nav-help">Help</button></nav>
  </header>
  <section id="hero"><button id="cta">Start shopping</button></section>
  <main class="grid">{CARDS}</main>
  <footer><button id="contact">Contact us</button></footer>
  <script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
</body></html>"""


def record(browser: Any, origin: str, width: int, seed: int) -> str:
    """A visit at that width with CLICKS clicks on the targets, at random places."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{origin}/shop")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    session_id = str(page.evaluate("replay.sessionId()"))
    rng = random.Random(seed)
    for _ in range(CLICKS):
        target = page.locator(f"#{rng.choice(TARGETS)}")
        # (A place in the padding box, which Playwright's positions are relative to.)
        width, height = target.evaluate("(e) => [e.clientWidth, e.clientHeight]")
        fx, fy = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
        target.click(position={"x": fx * width, "y": fy * height}, delay=5)
    for top in (600, 1200, 0):
        page.evaluate(f"window.scrollTo(0, {top})")
        page.wait_for_timeout(200)
    page.evaluate("async () => { await replay.flush(); }")
    context.close()
    return session_id


def wait_for_clicks(session_id: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        clicks = TrackedEvent.objects.filter(session_id=session_id, kind="click").count()
        scrolls = TrackedEvent.objects.filter(session_id=session_id, kind="scroll").count()
        if clicks >= CLICKS and scrolls:
            return
        time.sleep(1)
    raise AssertionError(f"{session_id}: {clicks} click records")


INSIDE = """() => {
  const doc = document.querySelector('#stage iframe').contentDocument;
  const view = doc.defaultView;
  const overlay = document.querySelector('canvas.heat-overlay');
  const scale = overlay.width / parseFloat(overlay.style.width);
  const pixels = overlay.getContext('2d');
  let inside = 0, painted = 0;
  const points = window.ReplayHeatmap.drawn;
  for (const p of points) {
    const element = doc.getElementById(p.selector.slice(1));
    const r = element.getBoundingClientRect();
    const left = r.left + view.scrollX, top = r.top + view.scrollY;
    if (p.x >= left && p.x <= left + r.width && p.y >= top && p.y <= top + r.height) inside += 1;
    const at = pixels.getImageData(Math.floor(p.x * scale), Math.floor(p.y * scale), 1, 1);
    if (at.data[3] > 0) painted += 1;
  }
  return {points: points.length, inside: inside, painted: painted,
          missing: window.ReplayHeatmap.missing,
          selectors: [...new Set(points.map((p) => p.selector))].sort()};
}"""


def test_heatmaps_put_every_click_on_its_element_at_both_widths(daphne, shop, alice, browser):
    html = PAGE.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(html) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        sessions = {1280: record(browser, origin, 1280, 1), 390: record(browser, origin, 390, 2)}
    for session_id in sessions.values():
        wait_for_clicks(session_id)
    shop.members.add(alice)
    # Clicks on an element the page drawn does not have: listed apart, never drawn.
    first = TrackedEvent.objects.filter(session_id=sessions[1280], kind="click").first()
    assert first is not None
    for n in range(3):
        data = {**first.data, "selector": "#gone", "fx": 0.5, "fy": 0.5}
        TrackedEvent.objects.create(
            project=shop,
            session_id=sessions[1280],
            ts=first.ts + n,
            kind="click",
            url=first.url,
            selector="#gone",
            data=data,
        )

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, daphne, "alice", "alice-password-1")
    shots = daphne.log_path.parent  # the screenshots, beside the server's log
    for width, screen in [(1280, "desktop"), (390, "mobile")]:
        page.goto(f"{daphne.url}/heatmaps?project={shop.pk}&url=/shop*&width={screen}")
        page.wait_for_function("() => window.ReplayHeatmap && window.ReplayHeatmap.ready")
        found = page.evaluate(INSIDE)
        # Drawn over a page view of that width.
        assert page.evaluate("document.querySelector('#stage iframe').clientWidth") == width
        assert found["points"] == CLICKS, found
        assert found["missing"] == (["#gone"] if screen == "desktop" else [])
        listed_apart = page.locator("#missing .selector").all_inner_texts()
        assert listed_apart == found["missing"]
        assert found["selectors"] == sorted(f"#{t}" for t in TARGETS)
        assert found["inside"] >= 0.95 * CLICKS, found
        assert found["painted"] == CLICKS, found
        page.screenshot(path=str(shots / f"heatmap-{screen}.png"), full_page=True)

    # The click map, and the sessions behind an element, each opening at its click.
    page.select_option("#mode", "elements")
    page.wait_for_function("() => window.ReplayHeatmap.ready && window.ReplayHeatmap.boxes.length")
    boxes = page.evaluate("window.ReplayHeatmap.boxes.map((b) => b.count)")
    assert sum(boxes) == CLICKS
    page.screenshot(path=str(shots / "heatmap-elements.png"), full_page=True)
    page.locator("#elements li").first.locator("button").click()
    page.wait_for_selector("#people-list li a")
    link = page.locator("#people-list li a").first.get_attribute("href")
    assert link is not None
    assert f"/sessions/{sessions[390]}?t=" in link

    # The scroll map equals a computation from the scroll records.
    page.goto(f"{daphne.url}/heatmaps?project={shop.pk}&url=/shop*&width=desktop&mode=scroll")
    page.wait_for_function("() => window.ReplayHeatmap && window.ReplayHeatmap.ready")
    bands = page.evaluate("window.ReplayHeatmap.bands.map((b) => [b.from, b.reached])")
    views = [
        r.data
        for r in TrackedEvent.objects.filter(kind="scroll", session_id=sessions[1280])
        if r.data.get("page_height")
    ]
    assert views
    expected = [
        [
            start,
            sum(1 for v in views if v["depth_px"] * 100 > start * v["page_height"]) / len(views),
        ]
        for start in range(0, 100, 5)
    ]
    assert bands == expected
    lines = page.evaluate("window.ReplayHeatmap.lines.map((l) => l.label)")
    assert lines[-1] == "Average fold"
    page.screenshot(path=str(shots / "heatmap-scroll.png"), full_page=True)
    assert errors == []
