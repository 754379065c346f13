"""Heatmaps over many clicks: the query's time on SQLite and on PostgreSQL, and the page's.

Writes N click records (default 100,000) on one URL pattern straight into a fresh
database, spread over 50 elements of a page and the last 30 days, at desktop width, with
places inside their elements, beside as many again at other widths and on other pages
(which the query must leave out); then times the click map, the rage map and the scroll
map (the slowest and the median of `--repeat` runs). Then, with `--page`, records a page
with those 50 elements into a server on the embedded defaults, adds the same clicks to
its database, and times the heatmaps page in headless Chromium from navigation until the
map is drawn over the replayed page.

    .venv/bin/python bench/heatmaps.py [--clicks 100000] [--postgres URL] [--page]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analytics import DAY_MS, bench_database, settle  # noqa: E402

ELEMENTS = 50
ORIGIN = "https://heat.example"


def click_rows(clicks: int, start_ms: int, rng: random.Random) -> list[dict[str, Any]]:
    """The clicks of the query (desktop, /bench/...) and as many others."""
    rows = []
    for number in range(clicks * 2):
        ours = number % 2 == 0
        element = int(rng.paretovariate(1.2)) % ELEMENTS  # a few elements get most clicks
        url = ORIGIN + ("/bench/page" if ours or number % 4 == 1 else "/elsewhere")
        width = 1440 if ours else rng.choice([390, 1024])
        selector = f"#b{element}"
        data = {
            "selector": selector,
            "vw": width,
            "fx": round(rng.random(), 4),
            "fy": round(rng.random(), 4),
            "x": 10,
            "y": 10,
        }
        ts = start_ms + rng.randrange(30 * DAY_MS)
        rows.append({"ts": ts, "url": url, "selector": selector, "data": data})
    return rows


def fill(project: Any, clicks: int, start_ms: int) -> None:
    from replay.models import Session, TrackedEvent

    rng = random.Random(11)
    sessions = [f"heat-{n:06d}" for n in range(max(1, clicks // 20))]
    Session.objects.bulk_create(
        [Session(id=sid, project=project, first_event_ms=start_ms) for sid in sessions],
        batch_size=5000,
    )
    batch = []
    for row in click_rows(clicks, start_ms, rng):
        kind, name = "click", ""
        if rng.random() < 0.03:
            kind, name = "friction", "rage_click"
        batch.append(
            TrackedEvent(
                project=project,
                session_id=rng.choice(sessions),
                kind=kind,
                name=name,
                **row,
            )
        )
        if len(batch) == 5000:
            TrackedEvent.objects.bulk_create(batch)
            batch = []
    TrackedEvent.objects.bulk_create(batch)
    views = []
    for number in range(clicks // 10):
        height = rng.choice([2400, 3600])
        data: dict[str, Any] = {"depth_px": rng.randrange(800, height + 1), "viewport": 800}
        data.update(vw=1440, page_height=height, scroller="document")
        views.append(
            TrackedEvent(
                project=project,
                session_id=sessions[number % len(sessions)],
                kind="scroll",
                url=ORIGIN + "/bench/page",
                ts=start_ms + rng.randrange(30 * DAY_MS),
                data=data,
            )
        )
    TrackedEvent.objects.bulk_create(views, batch_size=5000)


def time_queries(args: argparse.Namespace) -> None:
    from django.db import connection

    from replay.analytics.heatmaps import clicks, parse, scrolling
    from replay.models import Project

    project = Project.objects.create(name="Heat", allowed_origins=[ORIGIN])
    start_ms = int(time.time() * 1000) - 30 * DAY_MS
    began = time.perf_counter()
    fill(project, args.clicks, start_ms)
    settle()
    print(
        f"database: {connection.vendor}; {args.clicks * 2} clicks written in"
        f" {time.perf_counter() - began:.0f} s, {args.clicks} of them the query's"
    )
    print(f"{'map':<8} {'counted':>8} {'s (max)':>8} {'s (median)':>10}")
    for kind in ("click", "rage", "scroll"):
        query = parse({"url": "/bench/*", "width": "desktop", "kind": kind})
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            answer = scrolling(project, query) if kind == "scroll" else clicks(project, query)
            times.append(time.perf_counter() - started)
        counted = answer["pageviews"] if kind == "scroll" else answer["total"]
        print(f"{kind:<8} {counted:>8} {max(times):>8.2f} {statistics.median(times):>10.2f}")


def snapshot(ts: int) -> list[dict[str, Any]]:
    """A page of ELEMENTS buttons in a grid, as rrweb records it: Meta, FullSnapshot."""
    buttons = []
    for n in range(ELEMENTS):
        style = "display:block;width:220px;height:60px;margin:20px;float:left"
        buttons.append(
            {
                "type": 2,
                "tagName": "button",
                "attributes": {"id": f"b{n}", "style": style},
                "childNodes": [{"type": 3, "textContent": f"Button {n}", "id": 100 + 2 * n + 1}],
                "id": 100 + 2 * n,
            }
        )
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": buttons, "id": 4}
    head = {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 3}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [head, body], "id": 2}
    document = {"type": 0, "childNodes": [html], "id": 1}
    return [
        {
            "type": 4,
            "timestamp": ts,
            "data": {"href": ORIGIN + "/bench/page", "width": 1440, "height": 900},
        },
        {
            "type": 2,
            "timestamp": ts,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        },
        {"type": 3, "timestamp": ts + 1000, "data": {"source": 3, "id": 1, "x": 0, "y": 400}},
    ]


def time_page(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    from bench.embedded import start_embedded
    from bench.seek import stream

    embedded = start_embedded(
        "heatmaps", ORIGIN, env={"REPLAY_LOG_LEVEL": "WARNING"}, access_log=False
    )
    server = embedded.server
    now = int(time.time() * 1000) - 60_000
    session = stream(server.ws_url, embedded.key, [snapshot(now)], ORIGIN)
    with sqlite3.connect(embedded.database) as db:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the server's tracking pass
            found = db.execute(
                "SELECT COUNT(*) FROM replay_trackedevent"
                " WHERE session_id = ? AND kind = 'pageview'",
                (session,),
            ).fetchone()[0]
            if found:
                break
            time.sleep(1)
        (project,) = db.execute(
            "SELECT project_id FROM replay_session WHERE id = ?", (session,)
        ).fetchone()
        rng = random.Random(5)
        rows = [
            (
                project,
                session,
                "",
                r["ts"],
                "click",
                "",
                r["url"],
                r["selector"],
                "",
                "",
                json.dumps(r["data"]),
            )
            for r in click_rows(args.clicks, now - 29 * DAY_MS, rng)
        ]
        db.executemany(
            "INSERT INTO replay_trackedevent (project_id, session_id, tab, ts, kind, name, url,"
            " selector, text, detector, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
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
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(f"{server.url}/accounts/login/")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/sessions")
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page.goto(f"{server.url}/heatmaps?project={project}&url=/bench/*&width=desktop")
            page.wait_for_function(
                "() => window.ReplayHeatmap && window.ReplayHeatmap.ready", timeout=60_000
            )
            times.append(time.perf_counter() - started)
            drawn = page.evaluate("window.ReplayHeatmap.drawn.length")
        browser.close()
    print(
        f"page: {args.clicks} clicks, {drawn} points drawn over the replayed page;"
        f" navigation to drawn: {max(times):.2f} s (max), {statistics.median(times):.2f} s (median)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clicks", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, help="postgres://user@host:port/db")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page", action="store_true", help="also time the page in Chromium")
    args = parser.parse_args()
    with bench_database(args.postgres):
        time_queries(args)
    if args.page:
        time_page(args)


if __name__ == "__main__":
    main()
