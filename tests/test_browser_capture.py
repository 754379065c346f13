"""The page's console and requests, recorded by the real recorder in Chromium as rrweb
plugin events (`rrweb/console@1`, `rrweb/network@1`) and read back from what the server
stored: levels, arguments and traces; statuses, timings, failures, headers and bodies as
the project's options say; credentials never; and a page that behaves as before."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.recording import CAPTURE_EVENTS, FLUSH, export
from tests.support import DaphneServer, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CONSOLE = "rrweb/console@1"
NETWORK = "rrweb/network@1"
SECRET_TOKEN = "SECRET-TOKEN-123"
SECRET_COOKIE = "SECRET-COOKIE-456"
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
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
  <script src="SERVER/static/replay/console.js"></script>
  <script src="SERVER/static/replay/outbox.js"></script>
  <script src="SERVER/static/replay/timings.js"></script>
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
            elif path == "/api/fail":
                self.answer(500, b'{"error": "out of stock"}', "application/json")
            elif path == "/api/slow":
                time.sleep(3.5)
                self.answer(200, b'{"slow": true}', "application/json")
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

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


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


@pytest.fixture
def recorded(browser: Any, shop: Any) -> Iterator[Recorded]:
    """Opens a tab on a site recorded into the shop project, its options set first."""
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


def by_path(requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for request in requests:
        parts = urlsplit(request["url"])
        found.setdefault(parts.path + (f"?{parts.query}" if parts.query else ""), request)
    return found


def wait_for_requests(tab: Tab, count: int) -> None:
    tab.page.wait_for_function(f"() => ({PRODUCED_REQUESTS})().length >= {count}")


# -- the console --

SAY_EVERYTHING = """async () => {
  console.log('hi', 42, {a: 1});
  console.info('info', true);
  console.warn('warn', null);
  console.error('error', undefined);
  console.debug('debug', [1, 2]);
  console.assert(true, 'never shown');
  console.assert(1 === 2, 'math', 'broke');
  const loop = {name: 'loop'};
  loop.self = loop;
  console.log(loop, document.getElementById('buy'));
  console.log({a: {b: {c: {d: 1}}}}, 'x'.repeat(5000), function named() {});
  console.log(new TypeError('bad input'));
  const trap = {};
  Object.defineProperty(trap, 'boom', {enumerable: true, get() { throw new Error('no'); }});
  console.log(trap);
  console.warn('[replay] the recorder speaks');
  document.body.appendChild(Object.assign(new Image(), {src: '/broken.png'}));  // not an error
  setTimeout(() => { throw new TypeError('thrown later'); });
  Promise.reject(new RangeError('nobody caught me'));
  await new Promise((resolve) => setTimeout(resolve, 200));
}"""


def test_console_messages_are_recorded_with_their_arguments_and_traces(
    daphne: DaphneServer, alice: Any, recorded: Recorded
) -> None:
    tab, _ = recorded(daphne)
    tab.recording()
    tab.page.evaluate(SAY_EVERYTHING)
    messages = console_of(stored(daphne, alice, tab))

    assert [(m["level"], m["payload"]) for m in messages[:6]] == [
        ("log", ['"hi"', "42", '{"a":1}']),
        ("info", ['"info"', "true"]),
        ("warn", ['"warn"', "null"]),
        ("error", ['"error"', '"undefined"']),
        ("debug", ['"debug"', "[1,2]"]),
        ("assert", ['"math"', '"broke"']),
    ]
    cycle, deep, error, trap, thrown, rejected = messages[6:]
    assert cycle["payload"] == ['{"name":"loop","self":"[Circular]"}', '"<button#buy.primary.big>"']
    nested, long, function = deep["payload"]
    assert nested == '{"a":{"b":{"c":"[Object]"}}}'
    assert len(long) <= 2000
    assert long.endswith('…"')
    assert json.loads(long).startswith("xxx")
    assert function == '"[Function named]"'
    assert error["payload"] == ['"TypeError: bad input"']
    assert trap["payload"] == ['{"boom":"[getter threw]"}']
    assert (thrown["level"], thrown["payload"]) == ("error", ['"Uncaught TypeError: thrown later"'])
    assert (rejected["level"], rejected["payload"]) == (
        "error",
        ['"Uncaught (in promise) RangeError: nobody caught me"'],
    )
    for message in messages:
        assert 1 <= len(message["trace"]) <= 10, message
        assert all(f.startswith("at ") and "console.js" not in f for f in message["trace"])
    assert not any("[replay]" in json.dumps(m) for m in messages)

    # The page's console received every call, the recorder's own message too.
    assert [kind for kind, _ in tab.console] == [
        *("log", "info", "warning", "error", "debug", "assert"),
        *("log", "log", "log", "log", "warning"),
    ]
    assert tab.console[-1] == ("warning", "[replay] the recorder speaks")


def test_a_flood_keeps_a_hundred_messages_a_minute_and_counts_the_rest(
    daphne: DaphneServer, alice: Any, recorded: Recorded
) -> None:
    tab, _ = recorded(daphne)
    tab.recording()
    tab.page.evaluate("() => { for (let i = 0; i < 250; i++) console.log('message', i); }")
    tab.page.evaluate("async () => { await replay.stop(); await replay.flush(); }")
    events = export(daphne, alice, tab.page.evaluate("replay.sessionId()"))

    messages = console_of(events)
    assert [m["payload"] for m in messages] == [['"message"', str(i)] for i in range(100)]
    dropped = [e["data"] for e in events if e["type"] == 5 and "console" in e["data"]["tag"]]
    assert dropped == [{"tag": "replay/console-dropped", "payload": {"count": 150}}]
    assert len([text for kind, text in tab.console if text.startswith("message")]) == 250


# -- the network --

MAKE_REQUESTS = """async (closedPort) => {
  await fetch('/api/cookie');
  await fetch('/api/fail').then((r) => r.text());
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/ok');
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('X-Request-Id', 'xhr-7');
    xhr.onloadend = resolve;
    xhr.send(JSON.stringify({item: 'fern', quantity: 2}));
  });
  const refused = await fetch(`http://127.0.0.1:${closedPort}/nothing`).catch((e) => e.name);
  const controller = new AbortController();
  const aborted = fetch('/api/slow?abort=1', {signal: controller.signal}).catch((e) => e.name);
  setTimeout(() => controller.abort(), 100);
  const dropped = new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/slow?xhr=1');
    xhr.onloadend = () => resolve(xhr.status);
    xhr.send();
    setTimeout(() => xhr.abort(), 100);
  });
  const slow = await fetch('/api/slow').then((r) => r.json());
  const secret = await fetch('/api/ok', {
    method: 'POST',
    headers: {
      Authorization: 'Bearer SECRET-TOKEN-123',
      'X-Request-Id': 'req-42',
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({hello: 'server'}),
  }).then((r) => r.json());
  await new Promise((resolve) => {
    const image = document.getElementById('pixel');
    image.onload = resolve;
    image.src = '/pixel.png';
  });
  // Another origin that does not let the page read its timing (no Timing-Allow-Origin).
  const other = location.origin.replace('127.0.0.1', 'localhost') + '/api/ok?other=1';
  const crossed = await fetch(other).then((r) => r.status);
  return [refused, await aborted, await dropped, slow, secret, document.cookie, crossed];
}"""


def test_requests_are_recorded_without_credentials_or_bodies(
    daphne: DaphneServer, alice: Any, recorded: Recorded
) -> None:
    headers = ["authorization", "cookie", "x-request-id", "content-type"]
    tab, origin = recorded(daphne, network_headers=headers)
    tab.recording()
    before = time.time() * 1000
    answers = tab.page.evaluate(MAKE_REQUESTS, free_port())
    assert answers == [
        "TypeError",
        "AbortError",
        0,
        {"slow": True},
        {"ok": True, "echo": '{"hello":"server"}'},
        f"session={SECRET_COOKIE}",
        200,
    ]
    wait_for_requests(tab, 10)
    events = stored(daphne, alice, tab)
    requests = requests_of(events)
    found = by_path(requests)

    failing = found["/api/fail"]
    assert (failing["status"], failing["failed"], failing["initiatorType"]) == (500, False, "fetch")
    assert failing["responseSize"] == len('{"error": "out of stock"}')
    xhr = next(r for r in requests if r["initiatorType"] == "xmlhttprequest" and r["status"])
    sent = json.dumps({"item": "fern", "quantity": 2}, separators=(",", ":"))
    assert (xhr["method"], xhr["url"], xhr["status"]) == ("POST", f"{origin}/api/ok", 200)
    assert xhr["requestSize"] == len(sent)
    assert xhr["requestHeaders"] == {"content-type": "application/json", "x-request-id": "xhr-7"}
    assert xhr["responseHeaders"] == {"content-type": "application/json", "x-request-id": "xhr-7"}
    assert xhr["responseSize"] == len(json.dumps({"ok": True, "echo": sent}))
    refused = found["/nothing"]
    assert (refused["failed"], refused["aborted"], refused["status"]) == (True, False, 0)
    assert refused["error"].startswith("TypeError")
    for path in ("/api/slow?abort=1", "/api/slow?xhr=1"):
        aborted = found[path]
        assert (aborted["aborted"], aborted["failed"], aborted["status"]) == (True, False, 0)
    slow = found["/api/slow"]
    assert slow["status"] == 200
    assert slow["endTime"] - slow["startTime"] >= 3000
    assert before - 1000 <= slow["startTime"] <= time.time() * 1000
    crossed = found["/api/ok?other=1"]
    assert crossed["url"].startswith("http://localhost:")
    # Its timing hides the size: the response's Content-Length tells it.
    assert crossed["responseSize"] == len(json.dumps({"ok": True, "echo": ""}))
    image = found["/pixel.png"]
    assert (image["initiatorType"], image["status"]) == ("img", 200)
    assert image["responseSize"] == len(PIXEL)
    posted = next(r for r in requests if r["requestHeaders"].get("x-request-id") == "req-42")
    sent_headers = {"x-request-id": "req-42", "content-type": "application/json"}
    assert posted["requestHeaders"] == sent_headers
    assert posted["responseHeaders"]["x-request-id"] == "req-42"
    for request in requests:
        assert (request["requestBody"], request["responseBody"]) == (None, None)
        assert not request["url"].startswith(daphne.url)  # the recorder's own traffic
    for request in sent_requests(events):  # defaults are not sent
        assert not [name for name, value in LEFT_OUT.items() if request.get(name, ...) == value]
    text = json.dumps(events)
    assert SECRET_TOKEN not in text
    assert SECRET_COOKIE not in text
    assert '"x-request-id": "req-42"' in text
    assert '"content-type": "application/json"' in text


BODIES = """async () => {
  const echoed = await fetch('/api/ok', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"item":"fern"}',
  }).then((r) => r.json());
  const big = await fetch('/api/big').then((r) => r.json());
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/ok?long=1');
    xhr.onloadend = resolve;
    xhr.send('y'.repeat(20000));
  });
  await fetch('/api/ok?form=1', {method: 'POST', body: new URLSearchParams({a: '1', b: 'two'})});
  await fetch('/api/ok?blob=1', {method: 'POST', body: new Blob(['blob body'])});
  await fetch('/pixel.png?fetched=1').then((r) => r.blob());
  return [echoed.echo, big.items.length];
}"""


UNSIZED = b'{"unsized": true}'
FILL_OR_CLEAR = """async (how) => {
  const load = (src) => new Promise((resolve) => {
    const image = new Image();
    image.onload = image.onerror = resolve;
    image.src = src;
  });
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  if (how === 'shrinks') performance.setResourceTimingBufferSize(20);
  await load('/pixel.png?first=1');
  await pause(300);
  if (how === 'clears') performance.clearResourceTimings();
  // As a script holding the method from before the recorder came would.
  if (how === 'clears-unseen') Performance.prototype.clearResourceTimings.call(performance);
  await load('/pixel.png?then=1');
  await pause(300);
  for (let i = 0; i < 260; i++) await fetch('/api/unsized?n=' + i).then((r) => r.text());
  await load('/pixel.png?last=1');
}"""


@pytest.mark.parametrize("how", ["fills", "clears", "clears-unseen", "shrinks"])
def test_no_request_is_lost_past_the_pages_timing_buffer_or_when_the_page_clears_it(
    daphne: DaphneServer, alice: Any, recorded: Recorded, how: str
) -> None:
    # The page's resource timing buffer holds 250 entries unless the page sets its size,
    # and a page may clear it (RUM scripts do): timings.js reads the buffer until it
    # could lose entries and then observes them, so every resource is recorded and every
    # fetch still gets its size from its entry. Only a clearing it cannot see may take
    # what came since its last reading (here the first image).
    tab, _ = recorded(daphne)
    tab.recording()
    tab.page.evaluate(FILL_OR_CLEAR, how)
    tab.page.wait_for_function(
        f"""() => {{
          const urls = ({PRODUCED_REQUESTS})().map((r) => r.url);
          return urls.some((u) => u.endsWith('/pixel.png?last=1')) &&
            urls.filter((u) => u.includes('/api/unsized?')).length >= 260;
        }}"""
    )
    found = by_path(requests_of(stored(daphne, alice, tab)))
    images = ["/pixel.png?then=1", "/pixel.png?last=1"]
    if how != "clears-unseen":
        images.append("/pixel.png?first=1")
    for path in images:
        assert (found[path]["initiatorType"], found[path]["status"]) == ("img", 200), path
        assert found[path]["responseSize"] == len(PIXEL), path
    # (More than the 250 entries the page's buffer holds.)
    fetched = [found.get(f"/api/unsized?n={i}") for i in range(260)]
    assert [(r or {}).get("responseSize") for r in fetched] == [len(UNSIZED)] * 260
    assert {(r or {}).get("method") for r in fetched} == {"GET"}


def test_bodies_are_recorded_only_once_the_project_asks(
    start_daphne: Callable[..., DaphneServer], alice: Any, recorded: Recorded, shop: Any
) -> None:
    # Connections close after 2 quiet seconds; the recorder's next connection hears the
    # project's new options in its welcome and starts rrweb (and its plugins) over.
    server = start_daphne(REPLAY_IDLE_TIMEOUT="2")
    tab, _ = recorded(server)
    tab.recording()
    tab.page.evaluate("() => fetch('/api/ok', {method: 'POST', body: 'before'})")
    wait_for_requests(tab, 1)

    shop.capture_network_bodies = True
    shop.save()
    tab.page.wait_for_timeout(10_500)  # each server process rereads a project within 10 s
    tab.page.evaluate("console.log('wake up')")
    tab.page.wait_for_function("() => window.__produced.filter((e) => e.type === 2).length >= 2")
    assert tab.page.evaluate(BODIES) == ['{"item":"fern"}', 1500]
    wait_for_requests(tab, 7)
    events = stored(server, alice, tab)
    found = by_path(requests_of(events))

    before = found["/api/ok"]
    assert (before["requestSize"], before["requestBody"], before["responseBody"]) == (6, None, None)
    # After the restart, one record per request: the wrappers were put back, not stacked.
    assert [r["method"] for r in requests_of(events) if "/api/big" in r["url"]] == ["GET"]
    assert ["wake up" in m["payload"][0] for m in console_of(events)] == [True]
    first = next(r for r in requests_of(events) if r["requestBody"] == '{"item":"fern"}')
    assert json.loads(first["responseBody"]) == {"ok": True, "echo": '{"item":"fern"}'}
    big = found["/api/big"]
    assert len(big["responseBody"]) == 10_240
    assert big["responseBody"].endswith("…")
    assert BIG.startswith(big["responseBody"][:-1])
    assert big["responseSize"] == len(BIG)
    long = found["/api/ok?long=1"]
    assert long["requestBody"] == "y" * 10_239 + "…"
    assert long["requestSize"] == 20_000
    assert len(long["responseBody"]) == 10_240
    assert found["/api/ok?form=1"]["requestBody"] == "a=1&b=two"
    blob = found["/api/ok?blob=1"]
    assert (blob["requestBody"], blob["requestSize"]) == (None, 9)
    assert found["/pixel.png?fetched=1"]["responseBody"] is None


def test_nothing_of_the_kind_is_recorded_when_the_project_says_so(
    daphne: DaphneServer, alice: Any, recorded: Recorded
) -> None:
    tab, _ = recorded(daphne, capture_console=False, capture_network=False)
    tab.recording()
    answer = tab.page.evaluate("""async () => {
      console.log('not recorded');
      console.error('nor this');
      const body = await fetch('/api/ok').then((r) => r.json());
      return [body.ok, String(fetch).includes('[native code]'),
              String(console.log).includes('[native code]'),
              String(XMLHttpRequest.prototype.send).includes('[native code]')];
    }""")
    assert answer == [True, True, True, True]
    tab.page.wait_for_timeout(300)
    events = stored(daphne, alice, tab)
    assert [e for e in events if e["type"] == 6] == []
    assert ("log", "not recorded") in tab.console


# -- the plugins' contract with rrweb --

RESTART = """async (server) => {
  const native = [window.fetch, XMLHttpRequest.prototype.open, XMLHttpRequest.prototype.send,
                  console.log, console.error];
  const config = {
    capture_console: true, capture_network: true, capture_network_bodies: false,
    network_headers: ['Authorization', 'COOKIE', 'Proxy-Authorization', 'X-Request-Id'],
  };
  const seen = [];
  const start = () => ['consolePlugin', 'networkPlugin'].map((name) => {
    const plugin = ReplayInternals[name](config, server);
    return plugin.observer((payload) => seen.push([plugin.name, payload]), window, plugin.options);
  });
  const wait = () => new Promise((resolve) => setTimeout(resolve, 300));
  let stops = start();
  stops.forEach((stop) => stop());
  const restored = [window.fetch, XMLHttpRequest.prototype.open, XMLHttpRequest.prototype.send,
                    console.log, console.error].every((f, i) => f === native[i]);
  stops = start();
  console.log('once');
  await fetch('/api/ok', {headers: {Authorization: 'Bearer SECRET-TOKEN-123',
                                    'X-Request-Id': 'direct-1'}}).then((r) => r.text());
  await wait();
  stops.forEach((stop) => stop());
  console.log('after the stop');
  await fetch('/api/ok?after=1');
  await wait();
  return {restored, seen};
}"""


def test_the_plugins_patch_once_put_everything_back_and_never_take_credentials(
    browser: Any, daphne: DaphneServer
) -> None:
    with site(PLUGINS_ONLY.replace("SERVER", daphne.url)) as origin:
        context = browser.new_context()
        page = context.new_page()
        page.goto(origin + "/plugins")
        page.wait_for_function("() => window.ReplayInternals && ReplayInternals.networkPlugin")
        result = page.evaluate(RESTART, daphne.url)
        context.close()

    assert result["restored"] is True
    seen = result["seen"]
    assert [p["payload"] for name, p in seen if name == CONSOLE] == [['"once"']]
    requests = [r for name, p in seen if name == NETWORK for r in p["requests"]]
    (request,) = [r for r in requests if "/api/" in r["url"]]  # (and the page's favicon)
    assert request["url"] == f"{origin}/api/ok"
    assert request["requestHeaders"] == {"x-request-id": "direct-1"}
    assert request["responseHeaders"] == {"x-request-id": "direct-1"}
    assert SECRET_TOKEN not in json.dumps(seen)
