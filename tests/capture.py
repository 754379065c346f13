"""What the browser tests of console and network capture share: the customer's site
(a page recorded into the shop project, and the endpoints its script calls), a recorded
tab, and readers of the plugins' events (`rrweb/console@1`, `rrweb/network@1`) in what
the server stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.recording import CAPTURE_EVENTS, FLUSH, export
from tests.support import DaphneServer
from tests.website import serve

CONSOLE = "rrweb/console@1"
NETWORK = "rrweb/network@1"
SECRET_TOKEN = "SECRET-TOKEN-123"
SECRET_COOKIE = "SECRET-COOKIE-456"
ANSWERED_TOKEN = "SECRET-ANSWERED-789"
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
UNSIZED = b'{"unsized": true}'
BIG = json.dumps({"items": [{"n": n, "name": f"plant number {n}"} for n in range(1500)]})

PAGE = """<!doctype html>
<html><head><title>Capture shop</title></head>
<body>
  <button id="buy" class="primary big">Buy</button>
  <img id="pixel" alt="">
  <script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>
</body></html>"""

# The plugins alone, without the recorder: their contract with rrweb.
PLUGINS_ONLY = """<!doctype html>
<html><head><title>Plugins</title></head>
<body>
  <script src="SERVER/static/replay/errors.js"></script>
  <script src="SERVER/static/replay/credentials.js"></script>
  <script src="SERVER/static/replay/arguments.js"></script>
  <script src="SERVER/static/replay/console.js"></script>
  <script src="SERVER/static/replay/outbox.js"></script>
  <script src="SERVER/static/replay/timings.js"></script>
  <script src="SERVER/static/replay/bodies.js"></script>
  <script src="SERVER/static/replay/xhr.js"></script>
  <script src="SERVER/static/replay/network.js"></script>
</body></html>"""

READY = "() => window.replay && window.replay.sessionId()"
PRODUCED_REQUESTS = """() => window.__produced
  .filter((e) => e.type === 6 && e.data.plugin === 'rrweb/network@1')
  .flatMap((e) => e.data.payload.requests)"""


@contextmanager
def site(html: str) -> Iterator[str]:
    """The customer's site on another port of this machine: the page on every other
    path, and the endpoints its script calls."""

    class Site(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(
            self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Request-Id", self.headers.get("X-Request-Id") or "resp-1")
            if self.headers.get("Origin"):  # readable by pages of other origins, timed not
                self.send_header("Access-Control-Allow-Origin", "*")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def route(self, sent: bytes) -> None:
            path = urlsplit(self.path).path
            if path == "/api/ok":
                body = json.dumps({"ok": True, "echo": sent.decode()}).encode()
                self.answer(200, body, "application/json")
            elif path == "/api/login":  # a sign-in's answer, with the session's token
                body = json.dumps({"ok": True, "refresh_token": ANSWERED_TOKEN}).encode()
                self.answer(200, body, "application/json")
            elif path == "/api/fail":
                self.answer(500, b'{"error": "out of stock"}', "application/json")
            elif path == "/api/slow":
                time.sleep(3.5)
                self.answer(200, b'{"slow": true}', "application/json")
            elif path == "/api/wait":  # answers after ?ms= milliseconds
                time.sleep(int(parse_qs(urlsplit(self.path).query)["ms"][0]) / 1000)
                self.answer(200, b'{"waited": true}', "application/json")
            elif path == "/api/cookie":
                cookie = f"session={SECRET_COOKIE}; Path=/"
                self.answer(200, b"{}", "application/json", {"Set-Cookie": cookie})
            elif path == "/api/big":
                self.answer(200, BIG.encode(), "application/json")
            elif path == "/pixel.png":
                self.answer(200, PIXEL, "image/png")
            elif path == "/api/unsized":  # no Content-Length: only its timing tells its size
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(UNSIZED), UNSIZED))
            else:
                self.answer(200, html.encode(), "text/html")

        def do_GET(self) -> None:
            with suppress(BrokenPipeError, ConnectionResetError):  # the page aborted it
                self.route(b"")

        def do_POST(self) -> None:
            self.route(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Site) as origin:
        yield origin


class Tab:
    """A fresh tab on the site, recorded by the real recorder, that keeps what the page's
    own console received."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context()
        self.context.add_init_script(CAPTURE_EVENTS)
        self.page = self.context.new_page()
        self.console: list[tuple[str, str]] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.goto(url)

    def recording(self) -> str:
        self.page.wait_for_function(READY)
        return str(self.page.evaluate("replay.sessionId()"))

    def close(self) -> None:
        self.context.close()


Recorded = Callable[..., tuple[Tab, str]]


def open_tabs(browser: Any, shop: Any) -> Iterator[Recorded]:
    """For a fixture: opens tabs on a site recorded into the shop project, its options set
    first, and closes them afterwards."""
    with ExitStack() as stack:

        def open_tab(server: DaphneServer, **options: Any) -> tuple[Tab, str]:
            html = PAGE.replace("SERVER", server.url).replace("KEY", shop.key)
            origin = stack.enter_context(site(html))
            shop.allowed_origins = [origin]
            for name, value in options.items():
                setattr(shop, name, value)
            shop.save()
            tab = Tab(browser, origin + "/shop")
            stack.callback(tab.close)
            return tab, origin

        yield open_tab


def plugin_events(events: list[dict[str, Any]], plugin: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == 6 and e["data"]["plugin"] == plugin]


def console_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"]["payload"] for e in plugin_events(events, CONSOLE)]


# What network.js leaves out of a request as sent when it holds its default.
LEFT_OUT: dict[str, Any] = {
    "method": None,
    "requestSize": None,
    "responseSize": None,
    "failed": False,
    "aborted": False,
    "error": None,
    "requestHeaders": {},
    "responseHeaders": {},
    "requestBody": None,
    "responseBody": None,
}


def sent_requests(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for e in plugin_events(events, NETWORK) for r in e["data"]["payload"]["requests"]]


def requests_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests recorded, with what was left out at its default."""
    return [{**LEFT_OUT, **request} for request in sent_requests(events)]


def stored(server: DaphneServer, alice: Any, tab: Tab) -> list[dict[str, Any]]:
    tab.page.evaluate(FLUSH)
    return export(server, alice, tab.page.evaluate("replay.sessionId()"))


def stored_once_the_page_went(
    server: DaphneServer, alice: Any, tab: Tab, script: str = "() => location.assign(location.href)"
) -> list[dict[str, Any]]:
    """Runs `script`, which takes the tab to its next page (the plugins send what they
    hold as the page goes); what the server stored once the next page records on, into
    the same session."""
    session = tab.recording()
    with tab.page.expect_navigation():
        tab.page.evaluate(script)
    assert tab.recording() == session
    return stored(server, alice, tab)


def by_path(requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for request in requests:
        parts = urlsplit(request["url"])
        found.setdefault(parts.path + (f"?{parts.query}" if parts.query else ""), request)
    return found


def wait_for_requests(tab: Tab, count: int, last: str = "") -> None:
    """Until the page has produced `count` requests, and the one whose URL has `last` in
    it (the browser may add requests of its own, such as the favicon's, to the count)."""
    tab.page.wait_for_function(
        f"""(last) => {{
          const requests = ({PRODUCED_REQUESTS})();
          return requests.length >= {count} && requests.some((r) => r.url.includes(last));
        }}""",
        arg=last,
    )
