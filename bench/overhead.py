"""What recording the console and the network costs the page: its main thread's time with
capture on, with capture off, and with no recorder at all.

A page of a local site makes 200 fetches (20 rounds of 10 at once, each answer read as
JSON) and logs 1,000 console messages (50 after each round, each with an object), then
waits 2.5 s and has everything acknowledged. The real recorder records it into a server on
the embedded defaults, into a project that captures the console and the network, or into
one that captures neither; or no recorder is on the page. The three alternate, `--runs`
times each, each in a fresh tab of headless Chromium. Chrome's own counters (DevTools
Protocol `Performance.getMetrics`) are read once recording has started and again after
the workload: ScriptDuration (script run by tasks: callbacks, timers, listeners; what runs
in promise reactions, after a fetch or an await, is not counted), TaskDuration (all the main
thread did) and ThreadTime (the main thread's CPU time, the steadiest of the three on a
busy machine). The medians of the differences are reported side by side, with the ratio
capture on / capture off (the goal: capture adds at most 10 %). Capture off is measured a
second time ("capture off again", the same page in its own turn of each round): its ratio
to the first is what the measurement alone moves, the margin to read the goal against.
One more run with capture on counts what was recorded.

The ratios are also read round by round: each round measures every mode once, in turn
(each round starting one mode later than the one before), so the ratio of two modes
within a round leaves out what the machine's state does to both.
The median of those ratios is given with a 95 % interval (bootstrap), which says how far
the figure can be trusted on this machine. `--parts` adds two more modes, console only
and network only, to tell which capture the time goes to.

Chromium is driven over the DevTools Protocol with only the Performance domain on
(bench/cdp.py): nothing listens to the console, so that a console call costs the page what
it costs a visitor. (Under Playwright, which listens, each costs tens of microseconds more
in all three modes: a larger baseline and a smaller ratio than a visitor's.)

    .venv/bin/python bench/overhead.py [--runs 15] [--parts]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cdp import Tab, chromium  # noqa: E402
from bench.embedded import Embedded, start_embedded  # noqa: E402
from tests.website import serve  # noqa: E402

MODES = ("none", "off", "on", "again")
PARTS = ("console", "network")
LABELS = {
    "none": "no recorder",
    "off": "capture off",
    "on": "capture on",
    "again": "capture off again",
    "console": "console only",
    "network": "network only",
}
# What each project captures (console, network); "on" is the server's first project.
CAPTURES = {"off": (False, False), "console": (True, False), "network": (False, True)}
PAGE = """<!doctype html>
<html><head><title>Overhead</title></head>
<body><h1>Plants</h1><script>WORKLOAD</script>TAG</body></html>"""
TAG = '<script src="SERVER/static/replay/recorder.js" data-key="KEY"></script>'
LOADED = "location.pathname.startsWith('/bench/') && document.readyState === 'complete'"
READY = "!!(window.replay && window.replay.sessionId())"
# The page's own script: started from a timer, so that Chrome counts it as the page's
# (code that the DevTools Protocol runs itself is not in ScriptDuration).
WORKLOAD = """async function workload() {
  for (let round = 0; round < 20; round++) {
    const items = await Promise.all(Array.from({length: 10}, (_, i) =>
      fetch('/api/item?n=' + (round * 10 + i)).then((r) => r.json())));
    for (let i = 0; i < 50; i++) console.log('item', round, i, items[i % 10]);
  }
  await new Promise((resolve) => setTimeout(resolve, 2500));
  if (window.replay) await window.replay.flush();
}"""
# Started, then awaited with one evaluation: asking again and again whether it is done
# would run script in the page all along (a few ms a second) and count as its time.
START = "window.finished = new Promise((done) => setTimeout(() => workload().then(done), 0)); true"
FINISHED = "window.finished.then(() => true)"
# For the counting run only: what rrweb emitted, by kind.
COUNT_PLUGIN_EVENTS = """
(() => {
  window.__counts = {console: 0, requests: 0};
  let real;
  Object.defineProperty(window, 'rrweb', {
    configurable: true,
    get() { return real; },
    set(value) {
      const record = value.record;
      const wrapped = function (options) {
        const emit = options.emit;
        options.emit = (event, checkout) => {
          const plugin = event.type === 6 ? event.data.plugin : '';
          if (plugin === 'rrweb/console@1') window.__counts.console++;
          if (plugin === 'rrweb/network@1') {
            window.__counts.requests += event.data.payload.requests.length;
          }
          emit(event, checkout);
        };
        return record(options);
      };
      Object.assign(wrapped, record);
      value.record = wrapped;
      real = value;
    },
  });
})();
"""


@contextmanager
def site(pages: dict[str, str]) -> Iterator[str]:
    """The site: /bench/MODE pages and the JSON its script fetches."""

    class Site(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/api/item":
                n = int(parse_qs(url.query).get("n", ["0"])[0])
                body = json.dumps({"n": n, "name": f"plant {n}", "price": n * 1.5}).encode()
                kind = "application/json"
            else:
                body = pages.get(url.path.rsplit("/", 1)[-1], "").encode()
                kind = "text/html"
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Site) as origin:
        yield origin


def project(embedded: Embedded, origin: str, mode: str) -> str:
    """Another project on the same server, capturing what `mode` does (CAPTURES)."""
    console, network = CAPTURES[mode]
    key = embedded.manage("createproject", LABELS[mode], "--origin", origin)
    with sqlite3.connect(embedded.database) as db:
        db.execute(
            "UPDATE replay_project SET capture_console = ?, capture_network = ? WHERE key = ?",
            (console, network, key),
        )
    return key


METRICS = ("ScriptDuration", "TaskDuration", "ThreadTime")


def milliseconds(tab: Tab) -> dict[str, float]:
    metrics = tab.send("Performance.getMetrics")["metrics"]
    return {m["name"]: m["value"] * 1000 for m in metrics}


def measure(port: int, origin: str, mode: str) -> tuple[float, ...]:
    """The workload's ScriptDuration, TaskDuration and ThreadTime, in ms."""
    tab = Tab(port)
    try:
        tab.send("Performance.enable")
        tab.send("Page.navigate", url=f"{origin}/bench/{mode}")
        tab.wait_for(LOADED)
        if mode != "none":
            tab.wait_for(READY)
        time.sleep(0.5)  # the first snapshot and batch are not the workload's
        before = milliseconds(tab)
        tab.evaluate(START)
        tab.evaluate(FINISHED)
        after = milliseconds(tab)
    finally:
        tab.close()
    return tuple(after[name] - before[name] for name in METRICS)


def count_recorded(port: int, origin: str) -> dict[str, int]:
    tab = Tab(port)
    try:
        tab.send("Page.enable")
        tab.send("Page.addScriptToEvaluateOnNewDocument", source=COUNT_PLUGIN_EVENTS)
        tab.send("Page.navigate", url=f"{origin}/bench/on")
        tab.wait_for(LOADED)
        tab.wait_for(READY)
        tab.evaluate(START)
        tab.evaluate(FINISHED)
        counts: dict[str, int] = tab.evaluate("window.__counts")
    finally:
        tab.close()
    return counts


Times = dict[str, list[tuple[float, ...]]]


def interval(ratios: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median of `ratios`."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


def report(times: Times, modes: tuple[str, ...]) -> None:
    def median(mode: str, column: int) -> float:
        return statistics.median(t[column] for t in times[mode])

    print(f"{'':<18}" + "".join(f" {name:>15} {'(min-max)':>11}" for name in METRICS))
    for mode in modes:
        cells = []
        for column in range(len(METRICS)):
            values = [t[column] for t in times[mode]]
            spread = f"{min(values):.0f}-{max(values):.0f}"
            cells.append(f" {median(mode, column):>15.1f} {spread:>11}")
        print(f"{LABELS[mode]:<18}" + "".join(cells))
    ratios = [median("on", c) / median("off", c) for c in range(len(METRICS))]
    print(f"{'capture on / off':<18}" + "".join(f" {r:>15.3f} {'':>11}" for r in ratios))
    noise = [median("again", c) / median("off", c) for c in range(len(METRICS))]
    print(f"{'off again / off':<18}" + "".join(f" {r:>15.3f} {'':>11}" for r in noise))
    for column, name in enumerate(METRICS):
        added = median("on", column) - median("off", column)
        print(f"capture adds {added:.1f} ms of {name} ({(ratios[column] - 1) * 100:+.1f} %)")
    thread = METRICS.index("ThreadTime")
    print("ThreadTime round by round (median of the rounds' ratios, 95 % interval):")
    for mode in [m for m in modes if m not in ("none", "off")]:
        pairs = zip(times[mode], times["off"], strict=True)
        each = [on[thread] / off[thread] for on, off in pairs]
        low, high = interval(each)
        label = f"{LABELS[mode]} / off"
        print(f"  {label:<24} {statistics.median(each):.3f}  ({low:.3f}-{high:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--parts", action="store_true", help="also console only, network only")
    args = parser.parse_args()
    modes = MODES + (PARTS if args.parts else ())

    pages: dict[str, str] = {}
    with site(pages) as origin:
        embedded = start_embedded(
            "overhead", origin, env={"REPLAY_LOG_LEVEL": "WARNING"}, access_log=False
        )
        server = embedded.server
        try:
            keys = {"on": embedded.key}
            keys.update((mode, project(embedded, origin, mode)) for mode in CAPTURES)
            tag = TAG.replace("SERVER", server.url)
            page = PAGE.replace("WORKLOAD", WORKLOAD)
            pages["none"] = page.replace("TAG", "")
            for mode, key in keys.items():
                pages[mode] = page.replace("TAG", tag.replace("KEY", key))
            pages["again"] = pages["off"]
            with chromium() as port:
                measure(port, origin, "on")  # warm up the browser and the server
                times: Times = {mode: [] for mode in modes}
                for round_number in range(args.runs):
                    # Each round starts one mode later: no mode always runs in the same
                    # place of its round (later places measured slower on this machine).
                    shift = round_number % len(modes)
                    for mode in modes[shift:] + modes[:shift]:
                        times[mode].append(measure(port, origin, mode))
                counts = count_recorded(port, origin)
        finally:
            server.stop()
    print(
        f"200 fetches and 1,000 console messages, {args.runs} runs of each, alternating;"
        " main-thread time of the workload (median):"
    )
    report(times, modes)
    print(
        f"capture on recorded {counts['console']} console messages (100 a minute at most)"
        f" and {counts['requests']} requests"
    )


if __name__ == "__main__":
    main()
