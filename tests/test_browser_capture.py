"""The page's console, recorded by the real recorder in Chromium as rrweb plugin events
(`rrweb/console@1`) and read back from what the server stored: levels, arguments and
traces, a hundred messages a minute; and, for both plugins, nothing recorded when the
project says so and a page that behaves as before (tests/capture.py has the site)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.capture import (
    CONSOLE,
    NETWORK,
    PLUGINS_ONLY,
    SECRET_TOKEN,
    Recorded,
    console_of,
    site,
    stored,
)
from tests.recording import export
from tests.support import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


# -- the console --


def logged(
    daphne: DaphneServer, alice: Any, open_tab: Recorded, script: str
) -> tuple[Any, list[dict[str, Any]]]:
    """A recording tab that ran `script`, and the console messages the server stored."""
    tab, _ = open_tab(daphne)
    tab.recording()
    tab.page.evaluate(script)
    return tab, console_of(stored(daphne, alice, tab))


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
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    tab, messages = logged(daphne, alice, open_tab, SAY_EVERYTHING)

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


FLAT_AND_NEARLY = """() => {
  console.log(Object.assign(Object.create(null), {b: 'say "hi"\\n'}), [1, , 3],
              {n: -0, big: 1e21, t: true, z: null}, ['\u00fc', 2.5]);
  console.log(Object.create({inherited: 1}), {toJSON() { return 1; }},
              {long: 'y'.repeat(3000)}, Array.from({length: 800}, (_, i) => i));
}"""


def test_flat_objects_and_arrays_are_written_as_json_and_the_rest_as_described(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    _, messages = logged(daphne, alice, open_tab, FLAT_AND_NEARLY)
    flat, nearly = (m["payload"] for m in messages)

    assert flat == [
        '{"b":"say \\"hi\\"\\n"}',
        '[1,"undefined",3]',  # a hole is read as what it holds
        '{"n":0,"big":1e+21,"t":true,"z":null}',
        '["\u00fc",2.5]',
    ]
    inherited, own_to_json, long, many = nearly
    assert inherited == "{}"  # only own properties
    assert own_to_json == '{"toJSON":"[Function toJSON]"}'  # described, not called
    for cut in (long, many):  # cut within 2,000 characters, still JSON
        assert len(cut) <= 2000
        json.loads(cut)
    assert json.loads(long)["long"].endswith("…")
    assert json.loads(many)[-1] == "…"


def test_a_flood_keeps_a_hundred_messages_a_minute_and_counts_the_rest(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    tab, _ = open_tab(daphne)
    tab.recording()
    tab.page.evaluate("""() => {
      for (let i = 0; i < 250; i++) console.log('message', i);
      // Past the budget too, only the page's messages count.
      console.assert(true, 'holds');
      console.warn('[replay] the recorder speaks');
      console.assert(false, '[replay] so does this');
      console.assert(false, 'broke');
    }""")
    tab.page.evaluate("async () => { await replay.stop(); await replay.flush(); }")
    events = export(daphne, alice, tab.page.evaluate("replay.sessionId()"))

    messages = console_of(events)
    assert [m["payload"] for m in messages] == [['"message"', str(i)] for i in range(100)]
    dropped = [e["data"] for e in events if e["type"] == 5 and "console" in e["data"]["tag"]]
    assert dropped == [{"tag": "replay/console-dropped", "payload": {"count": 151}}]
    assert len([text for kind, text in tab.console if text.startswith("message")]) == 250


def test_console_errors_past_the_error_budget_cost_the_page_nothing_and_never_throw(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    """The recorder reports at most 60 errors a minute (`replay/error`): the arguments of
    the calls past that are not even written as text, and an argument that cannot be
    does not make the page's own console.error throw."""
    tab, _ = open_tab(daphne, capture_console=False)  # errors are reported all the same
    uncaught: list[str] = []
    tab.page.on("pageerror", lambda error: uncaught.append(str(error)))
    tab.recording()
    answer = tab.page.evaluate("""() => {
      const hostile = {toJSON() { throw new Error('no'); }, toString() { throw new Error('no'); }};
      Promise.reject(hostile);  // unhandled, within the budget: not reported, and no error of ours
      let threw = false;
      try { console.error(hostile); } catch (err) { threw = true; }
      return new Promise((resolve) => setTimeout(() => {
        let written = 0;
        const counted = {toJSON() { written += 1; return 'cart'; }};
        for (let i = 0; i < 300; i++) console.error('failed', counted);
        resolve({written, threw});
      }, 200));
    }""")
    assert answer == {"written": 60, "threw": False}
    assert len([text for kind, text in tab.console if kind == "error"]) == 301
    assert len(uncaught) == 1  # the page's own rejection, and no error of ours after it
    errors = [e for e in stored(daphne, alice, tab) if e["type"] == 5]
    reported = [e["data"]["payload"] for e in errors if e["data"]["tag"] == "replay/error"]
    assert len(reported) == 60
    assert reported[0]["message"] == 'failed "cart"'


def test_nothing_of_the_kind_is_recorded_when_the_project_says_so(
    daphne: DaphneServer, alice: Any, open_tab: Recorded
) -> None:
    tab, _ = open_tab(daphne, capture_console=False, capture_network=False)
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
