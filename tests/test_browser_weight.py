"""What the recorder weighs on a customer's page, in Chromium: the documented script tag
makes the page download one script and the project's options, at most 45 KB compressed
in all, and nothing of rrweb's replayer; a page that carries the tag twice records once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import DaphneServer
from tests.test_browser_tracking import site

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

BUDGET_BYTES = 45 * 1024
TAG = '<script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>'
PAGE = """<!doctype html>
<html><head><title>Plants</title></head>
<body><h1>Plants</h1><button id="buy">Buy</button>TAGS</body></html>"""
READY = "() => window.replay && window.replay.sessionId()"


@contextmanager
def recorded_page(
    browser: Any, daphne: DaphneServer, shop: Any, tags: int
) -> Iterator[tuple[Any, list[Any], list[str]]]:
    """The page with the recorder's tag `tags` times, recording; the requests it
    finished, and the URLs of the WebSockets it opened."""
    tag = TAG.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(PAGE.replace("TAGS", tag * tags)) as origin:
        shop.allowed_origins = [origin]
        shop.save()
        context = browser.new_context()
        try:
            page = context.new_page()
            finished: list[Any] = []
            sockets: list[str] = []
            page.on("requestfinished", lambda request: finished.append(request))
            page.on("websocket", lambda socket: sockets.append(socket.url))
            page.goto(origin + "/plants")
            page.wait_for_function(READY)
            page.click("#buy")
            page.evaluate("() => replay.flush()")
            yield page, finished, sockets
        finally:
            context.close()


def test_the_recorder_is_one_light_file(browser: Any, daphne: DaphneServer, shop: Any) -> None:
    with recorded_page(browser, daphne, shop, tags=1) as (page, finished, sockets):
        ours = [r for r in finished if r.url.startswith(daphne.url)]
        paths = sorted(urlsplit(r.url).path for r in ours)
        assert paths == ["/ingest/config", "/static/replay/recorder.js"]
        sizes = {urlsplit(r.url).path: r.sizes()["responseBodySize"] for r in ours}
        script = next(r for r in ours if r.url.endswith("/recorder.js")).response()
        assert script.header_value("content-encoding") == "gzip"
        assert sum(sizes.values()) <= BUDGET_BYTES, sizes
        # rrweb's recording side only: nothing of the replayer came with it.
        assert page.evaluate("Object.keys(window.rrweb)") == ["record"]
        assert page.evaluate("typeof window.rrweb.record.takeFullSnapshot") == "function"
        assert sockets == [daphne.ws_url]


def test_a_page_with_the_tag_twice_records_once(
    browser: Any, daphne: DaphneServer, shop: Any
) -> None:
    with recorded_page(browser, daphne, shop, tags=2) as (page, finished, sockets):
        configs = [r for r in finished if urlsplit(r.url).path == "/ingest/config"]
        assert len(configs) == 1
        assert sockets == [daphne.ws_url]
        assert page.evaluate("window.replay.sessionId()")
