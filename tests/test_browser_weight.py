"""What the recorder weighs on a customer's page, in Chromium: the documented script tag
makes the page download one script and the project's options, at most 45 KB compressed
in all, and nothing of rrweb's replayer; a page that carries the tag twice records once;
the page's console, fetch and XMLHttpRequest calls pass through code at the start of the
script (where V8 finds the caller's line cheaply: recorder-entry.js says why)."""

from __future__ import annotations

import urllib.request
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
    browser: Any, daphne: DaphneServer, shop: Any, tags: int, before: str = ""
) -> Iterator[tuple[Any, list[Any], list[str]]]:
    """The page with the recorder's tag `tags` times (after `before`), recording; the
    requests it finished, and the URLs of the WebSockets it opened."""
    tag = TAG.replace("SERVER", daphne.url).replace("KEY", shop.key)
    with site(PAGE.replace("TAGS", before + tag * tags)) as origin:
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


# The page's own console.log, fetch and XMLHttpRequest.prototype.send, before the
# recorder wraps them: each notes the stack it is last called with.
CALLERS = """<script>
window.stacks = {};
const noting = (name, original) => function () {
  window.stacks[name] = new Error().stack;
  return original.apply(this, arguments);
};
console.log = noting('console', console.log);
window.fetch = noting('fetch', window.fetch);
XMLHttpRequest.prototype.send = noting('xhr', XMLHttpRequest.prototype.send);
</script>"""
WRAPPER_WITHIN = 16 * 1024


def test_the_pages_calls_pass_through_the_start_of_the_recorder(
    browser: Any, daphne: DaphneServer, shop: Any
) -> None:
    with recorded_page(browser, daphne, shop, tags=1, before=CALLERS) as (page, _, _):
        page.evaluate(
            """() => {
              console.log('plants');
              fetch('/plants.json');
              const xhr = new XMLHttpRequest();
              xhr.open('GET', '/plants.json');
              xhr.send();
            }"""
        )
        stacks = page.evaluate("window.stacks")
    with urllib.request.urlopen(f"{daphne.url}/static/replay/recorder.js") as answer:
        lines = answer.read().decode().split("\n")
    for name in ("console", "fetch", "xhr"):
        # The frame under the page's function: the recorder's wrapper that called it.
        frame = stacks[name].split("\n")[2]
        assert "/static/replay/recorder.js:" in frame, stacks[name]
        line, column = (int(n) for n in frame.rstrip(")").rsplit(":", 2)[1:])
        offset = sum(len(text) + 1 for text in lines[: line - 1]) + column - 1
        assert offset < WRAPPER_WITHIN, (name, offset)
