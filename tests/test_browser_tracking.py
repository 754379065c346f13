"""Event tracking end to end: a page made to cause every kind of friction is recorded by
the real recorder in Chromium, and the server's own pass turns the stored events into
records and friction moments, read back through the API."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from replay.models import ApiToken, Session
from tests.website import serve

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PAGE = """<!doctype html>
<html><head><title>Friction shop</title></head>
<body style="height: 4000px; margin: 0">
  <h1>Friction shop</h1>
  <button id="dead">Do nothing</button>
  <button id="rage">Unresponsive</button>
  <button id="broken">Break</button>
  <div id="listened" class="tile" style="width: 200px">Listened tile</div>
  <form id="signup">
    <label>Email <input id="email" name="email"></label>
    <button type="button" id="join">Join</button>
  </form>
  <script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
  <script>
    document.getElementById('broken').addEventListener('click', () => { null.boom(); });
    document.getElementById('listened').addEventListener('click', () => {});
  </script>
</body></html>"""


@contextmanager
def site(html: str) -> Iterator[str]:
    """The customer's site (tests/website.py), answering every path with the page."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Page) as origin:
        yield origin


def tracked(server: Any, user: Any, session_id: str) -> dict[str, Any]:
    _, token = ApiToken.issue(user)
    request = urllib.request.Request(
        f"{server.url}/api/sessions/{session_id}/tracked",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return dict(json.loads(response.read()))


def test_a_page_full_of_friction_is_found_without_anyone_watching(daphne, shop, alice, browser):
    html = PAGE.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(html) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        records, session_id = cause_friction(browser, daphne, alice, origin)
    check_friction(records, daphne, session_id, origin)


def cause_friction(browser: Any, daphne: Any, alice: Any, origin: str) -> tuple[Any, str]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(f"{origin}/friction.html")
    page.wait_for_function("() => window.replay && window.replay.sessionId()")
    session_id = page.evaluate("replay.sessionId()")
    page.evaluate("replay.identify('customer-9')")
    page.evaluate("replay.track('coupon-tried', {code: 'SPRING'})")

    page.click("#dead")
    page.wait_for_timeout(2800)  # nothing answers
    for _ in range(4):
        page.click("#rage")
    page.wait_for_timeout(2800)
    page.click("#broken")  # throws
    page.wait_for_timeout(500)
    page.click("#listened")  # the page listens, and does nothing
    page.wait_for_timeout(2800)
    page.click("#email")
    page.keyboard.type("x@example.com", delay=10)
    page.evaluate("history.pushState({}, '', '/friction/next')")  # the form is left
    page.wait_for_timeout(1000)
    page.evaluate("history.pushState({}, '', '/friction.html')")  # and come back to
    for leg in range(16):  # rrweb keeps a pointer position every 50 ms at most
        page.mouse.move(300 + (150 if leg % 2 else 0), 500)
        page.wait_for_timeout(90)
    for y in (1200, 100, 1300, 50, 1250, 0):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(250)
    page.evaluate("console.error('checkout failed: card declined')")
    page.evaluate("async () => { await replay.flush(); }")
    context.close()

    # The server's keyframer pass computes the records once the session goes quiet.
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = tracked(daphne, alice, session_id)
        if body["complete"] and any(r["kind"] == "error" for r in body["records"]):
            break
        time.sleep(1)
    return body["records"], session_id


def check_friction(records: list[dict[str, Any]], daphne: Any, session_id: str, origin: str):
    friction = sorted({(r["name"], r["selector"]) for r in records if r["kind"] == "friction"})
    assert friction == [
        ("dead_click", "#broken"),
        ("dead_click", "#dead"),
        ("dead_click", "#listened"),
        ("dead_click", "#rage"),
        ("error_click", "#broken"),
        ("excessive_scrolling", ""),
        ("form_abandonment", "#email"),
        ("quick_back", ""),
        ("rage_click", "#rage"),
        ("thrashed_cursor", ""),
    ]
    rage = next(r for r in records if r["name"] == "rage_click")
    assert rage["data"]["clicks"] == 4
    assert rage["detector"] == "rage_click@1"
    error_click = next(r for r in records if r["name"] == "error_click")
    assert "boom" in error_click["data"]["error"]
    quick_back = next(r for r in records if r["name"] == "quick_back")
    assert quick_back["url"] == f"{origin}/friction/next"

    views = [(r["url"], r["data"]["how"]) for r in records if r["kind"] == "pageview"]
    assert views == [
        (f"{origin}/friction.html", "load"),
        (f"{origin}/friction/next", "pushState"),
        (f"{origin}/friction.html", "pushState"),
    ]
    first = next(r for r in records if r["kind"] == "pageview")
    assert first["data"]["title"] == "Friction shop"
    kinds = {r["kind"] for r in records}
    assert {"identify", "custom", "input", "error", "click", "scroll"} <= kinds
    errors = sorted(r["data"]["kind"] for r in records if r["kind"] == "error")
    assert errors == ["console", "error"]
    depths = [r["data"] for r in records if r["kind"] == "scroll"]
    assert any(0 < d.get("percent", 0) <= 100 for d in depths)
    field = next(r for r in records if r["kind"] == "input")
    assert (field["data"]["label"], field["selector"]) == ("Email", "#email")
    assert "x@example.com" not in json.dumps(records)
    for record in records:
        assert record["link"].startswith(f"{daphne.url}/sessions/{session_id}?t=")
    session = Session.objects.get(pk=session_id)
    assert session.friction_count == len([r for r in records if r["kind"] == "friction"])
    assert session.friction_score > 0
