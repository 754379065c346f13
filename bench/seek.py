"""Opening a long session at a moment: the keyframe player against loading everything.

Builds a session (`--recording`): 3 hours of the corpus recordings one after another
(each a page load) with shifted timestamps, or the 10-minute corpus recording, or that
recording three times over (30 minutes). Streams it into a server on the embedded
defaults (batches of about ten seconds of recording, as a recorder with a backlog sends
them), and waits until the server's keyframer has written its keyframes. Then, in
headless Chromium, opens the session at its start, middle and end two ways, each in a
fresh page:

- the player: manifest, the keyframe before the moment, the segments after it;
- from the start: the whole export loaded into rrweb's Replayer, then paused at the
  moment (what a player without keyframes must do).

Reports time to first frame and bytes fetched for each, and their ratios; and the bytes
the player's data took on the wire until the first frame (compressed as the server sends
them), against the gzip of the whole session's JSON.

With `--compact`, the session is compacted before it is opened (its segments rewritten
into blocks, which the player loads in pieces), as it is once it is over.

    .venv/bin/python bench/seek.py [--recording 3h|10min|30min] [--hours 3] [--compact]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
from websockets.sync.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embedded import start_embedded  # noqa: E402
from tests.support import CORPUS, load_recording  # noqa: E402

ORIGIN = "https://seek.example"
# A server for recordings streamed faster than they were made: each batch flushed at
# once, and no per-connection frame rate limit (a live recorder, a batch a second,
# never comes near it).
FAST_INGEST = {
    "REPLAY_FLUSH_SECONDS": "0.01",
    "REPLAY_LOG_LEVEL": "WARNING",
    "REPLAY_FRAMES_PER_SECOND": "10000",
    "REPLAY_FRAMES_BURST": "10000",
}

FROM_START = """async ([url, offset]) => {
  const started = performance.now();
  const response = await fetch(url, { credentials: 'same-origin' });
  const text = await response.text();
  const events = JSON.parse(text);
  const root = document.createElement('div');
  document.body.appendChild(root);
  const replayer = new rrweb.Replayer(events, { root, showWarning: false });
  replayer.pause(offset);
  return { ms: performance.now() - started, bytes: text.length };
}"""


def long_session(
    hours: float, recordings: list[list[dict[str, Any]]], window_ms: int = 10_000
) -> list[list[dict[str, Any]]]:
    """Batches of `window_ms` of recording each, recordings one after another until
    `hours`."""
    batches: list[list[dict[str, Any]]] = []
    offset = 1_700_000_000_000
    end = offset + hours * 3600 * 1000
    while offset < end:
        for recording in recordings:
            start = recording[0]["timestamp"]
            current: list[dict[str, Any]] = []
            window = None
            for event in recording:
                shifted = {**event, "timestamp": event["timestamp"] - start + offset}
                second = (shifted["timestamp"] - offset) // window_ms
                if window is not None and second != window and current:
                    batches.append(current)
                    current = []
                window = second
                current.append(shifted)
            if current:
                batches.append(current)
            offset = batches[-1][-1]["timestamp"] + 2_000
    return batches


def stream(url: str, key: str, batches: list[list[dict[str, Any]]], origin: str = ORIGIN) -> str:
    """Record the batches into a new session (from a page of `origin`); its id."""
    with connect(url, origin=Origin(origin), max_size=None) as ws:
        hello = {
            "type": "hello",
            "key": key,
            "session": "bench-seek-session",
            "secret": "",
            "tab": "bench-tab-01",
            "acked": -1,
            "page": {"url": origin + "/"},
            "sdk": "bench",
        }
        ws.send(msgpack.packb(hello))
        welcome = msgpack.unpackb(ws.recv())
        if "session" not in welcome:
            raise SystemExit(f"server refused the session: {welcome}")
        session: str = welcome["session"]
        for seq, events in enumerate(batches):
            ws.send(msgpack.packb({"type": "batch", "seq": seq, "events": events}))
            while True:
                reply = msgpack.unpackb(ws.recv(timeout=60))
                if reply["type"] == "error":
                    raise SystemExit(f"server refused batch {seq}: {reply}")
                if reply["type"] == "ack" and reply["seq"] >= seq:
                    break
    return session


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recording", choices=["3h", "10min", "30min"], default="3h")
    parser.add_argument("--hours", type=float, default=3.0, help="with --recording 3h")
    parser.add_argument(
        "--compact", action="store_true", help="compact the session first, as it is once over"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if args.recording == "3h":
        batches = long_session(args.hours, [load_recording(name) for name in CORPUS])
    else:
        hours = 600 / 3600 if args.recording == "10min" else 1800 / 3600
        batches = long_session(hours - 0.001, [load_recording("long-10min")])
    args.hours = (batches[-1][-1]["timestamp"] - batches[0][0]["timestamp"]) / 3.6e6
    events = sum(len(b) for b in batches)
    whole_json = json.dumps([e for b in batches for e in b], separators=(",", ":")).encode()
    size = len(whole_json)
    whole_gzip = len(gzip.compress(whole_json, 6))
    embedded = start_embedded(
        "seek",
        ORIGIN,
        env={**FAST_INGEST, "REPLAY_KEYFRAME_SECONDS": "30"},
        access_log=False,
    )
    server = embedded.server
    try:
        started = time.perf_counter()
        session = stream(server.ws_url, embedded.key, batches)
        stored = time.perf_counter() - started
        print(
            f"session: {args.hours:g} h, {len(batches)} batches, {events} events, "
            f"{size / 1e6:.1f} MB of JSON (stored in {stored:.0f} s)"
        )
        first, last = batches[0][0]["timestamp"], batches[-1][-1]["timestamp"]
        with sqlite3.connect(embedded.database) as db:
            while True:  # the keyframer writes as it catches up
                (latest,) = db.execute("SELECT MAX(timestamp) FROM replay_keyframe").fetchone()
                if latest and latest >= last - 60_000:
                    break
                time.sleep(1)
            (count,) = db.execute("SELECT COUNT(*) FROM replay_keyframe").fetchone()
        print(f"keyframes: {count}, every 30 s of recording")
        if args.compact:
            print(embedded.manage("compact", "--session", session))
        password = "bench-password-1"
        subprocess.run(
            [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "bench"],
            cwd=ROOT,
            env={
                **os.environ,
                "REPLAY_DATABASE_URL": f"sqlite:///{embedded.database}",
                "DJANGO_SUPERUSER_PASSWORD": password,
                "DJANGO_SUPERUSER_EMAIL": "bench@example.com",
            },
            check=True,
            capture_output=True,
        )
        rows = []
        wires: list[tuple[str, int]] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.goto(f"{server.url}/accounts/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/sessions")
            for label, at in [
                ("start", 1.0),
                ("middle", (last - first) / 2000),
                ("end", (last - first) / 1000 - 1),
            ]:
                player = context.new_page()
                data: list[Any] = []  # the player's data, as it came over the wire

                def keep(response: Any, into: list[Any] = data) -> None:
                    if "/api/" in response.url:
                        into.append(response)

                player.on("response", keep)
                began = time.perf_counter()
                player.goto(f"{server.url}/sessions/{session}?t={at:.1f}")
                player.wait_for_selector("#stage[data-ready=true]", timeout=600_000)
                page_ms = (time.perf_counter() - began) * 1000
                player_ms = player.evaluate("window.replayPlayer.openedMs")
                player_bytes = player.evaluate("window.replayPlayer.source.fetchedBytes")
                first_frame = [r for r in data if "/tracked" not in r.url]  # moments: after
                wire = sum(
                    r.request.sizes()["responseBodySize"] + r.request.sizes()["responseHeadersSize"]
                    for r in first_frame
                )
                player.close()
                whole = context.new_page()
                whole.goto(f"{server.url}/sessions")
                # From this server, as the player loads it: the pages' policy allows no
                # inline script.
                whole.add_script_tag(url=f"{server.url}/static/replay/vendor/rrweb/rrweb.min.js")
                result = whole.evaluate(FROM_START, [f"/api/sessions/{session}/events", at * 1000])
                whole.close()
                rows.append(
                    (label, at, player_ms, page_ms, player_bytes, result["ms"], result["bytes"])
                )
                wires.append((label, wire))
            browser.close()
    finally:
        server.stop()
    heads = ["player ms", "page ms", "player MB", "start ms", "start MB", "ms ratio", "MB ratio"]
    print(f"{'moment':8} {'at s':>8} " + " ".join(f"{h:>10}" for h in heads))
    for label, at, p_ms, page_ms, p_bytes, w_ms, w_bytes in rows:
        figures = [
            p_ms,
            page_ms,
            p_bytes / 1e6,
            w_ms,
            w_bytes / 1e6,
            p_ms / w_ms,
            p_bytes / w_bytes,
        ]
        print(f"{label:8} {at:8.0f} " + " ".join(f"{f:10.3f}" for f in figures))
    print("player ms: manifest, keyframe, segments and Replayer, as from-start counts its fetch")
    print("and Replayer; page ms: the whole player page, navigation and rrweb's script included")
    print(f"gzip of the whole session's JSON: {whole_gzip / 1e3:.0f} KB")
    for label, wire in wires:
        print(
            f"{label:8} the player's data on the wire until the first frame: "
            f"{wire / 1e3:.0f} KB, {wire / whole_gzip:.3f}x the gzip of the whole session"
        )


if __name__ == "__main__":
    main()
