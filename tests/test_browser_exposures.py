"""`replay.experiment(name, variant)` from a page recorded by the real recorder in
Chromium: the exposure becomes a `$exposure` record, and the session list finds the
session under that experiment and variant."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.test_browser_tracking import site, tracked
from tests.test_funnels import auth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PAGE = """<!doctype html><html><head><title>Pricing</title></head>
<body><h1>Pricing</h1>
<script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
<script>replay.experiment('pricing-page', 'annual-first');</script>
</body></html>"""


def test_an_exposure_is_recorded_and_found_by_its_variant(daphne, shop, alice, browser):
    from django.test import Client

    html = PAGE.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(html) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        page = browser.new_page()
        page.goto(f"{origin}/pricing")
        page.wait_for_function("() => window.replay && window.replay.sessionId()")
        session_id = page.evaluate("replay.sessionId()")
        page.evaluate("async () => { await replay.flush(); }")
        page.close()
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not records:
        body = tracked(daphne, alice, session_id)
        records = [r for r in body["records"] if r["name"] == "$exposure"]
        time.sleep(0.5)
    assert [(r["kind"], r["data"]["props"]) for r in records] == [
        ("custom", {"experiment": "pricing-page", "variant": "annual-first"})
    ]
    shop.members.add(alice)
    query = "experiment=pricing-page&variant=annual-first"
    answer = Client().get(f"/api/sessions?{query}", **auth("alice")).json()
    assert [s["id"] for s in answer["sessions"]] == [session_id]
    other = Client().get("/api/sessions?experiment=pricing-page&variant=monthly", **auth("alice"))
    assert other.json()["sessions"] == []
