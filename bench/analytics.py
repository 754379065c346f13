"""Funnels over many records: how time and memory grow with the number of records.

Writes N synthetic event-tracking records straight into a fresh database (default
SQLite in a temporary folder; PostgreSQL with `--postgres URL`, into a database of its
own that is dropped afterwards): spread over 30 days, in sessions of about 20 records,
five sessions to a user, with a realistic mix of kinds (page views, clicks, inputs,
custom events, scrolls, friction, errors). Then times, each by sessions and by users, a
5-step sequential funnel, a strict one and one with a breakdown by browser, and reports
each one's time (the slowest of `--repeat` runs, as a p95 of so few runs is) and the
process's peak memory, for each size in turn. The tables are vacuumed and analyzed after
each fill, as autovacuum would soon after, and on PostgreSQL the fill's writes are
flushed (CHECKPOINT), so that neither runs beside the timings.

    .venv/bin/python bench/analytics.py [--sizes 100000,1000000] [--postgres URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY_MS = 24 * 3600 * 1000
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1 Mobile Safari/604.1",
]
PAGES = ["/home", "/product/fern", "/product/cactus", "/cart", "/checkout", "/blog/care"]
BUTTONS = ["add", "buy", "menu", "search", "close"]
CUSTOM = ["checkout", "paid", "newsletter", "coupon"]
FUNNEL = [
    {"kind": "pageview", "url": "/home*"},
    {"kind": "pageview", "url": "/product/*"},
    {"kind": "click", "selector": "#add"},
    {"kind": "custom", "name": "checkout"},
    {"kind": "custom", "name": "paid"},
]


def setup(postgres: str | None) -> str | None:
    """Point Django at a fresh database; returns the PostgreSQL database to drop."""
    if postgres:
        import psycopg

        name = f"replay_bench_{os.getpid()}"
        with psycopg.connect(postgres, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base = postgres.rsplit("/", 1)[0]
        os.environ["REPLAY_DATABASE_URL"] = f"{base}/{name}"
        dropped: str | None = name
    else:
        folder = tempfile.mkdtemp(prefix="bench-analytics-")
        os.environ["REPLAY_DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        dropped = None
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "replay.settings")
    os.environ.setdefault("REPLAY_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return dropped


@contextmanager
def bench_database(postgres: str | None) -> Iterator[None]:
    """A fresh database for the benchmark (`setup`), dropped or removed afterwards."""
    dropped = setup(postgres)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if dropped and postgres:
            import psycopg

            with psycopg.connect(postgres, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{dropped}"')
        elif not postgres:
            shutil.rmtree(Path(os.environ["REPLAY_DATABASE_URL"][10:]).parent, True)


def fill(project: Any, records: int, start_ms: int, rng: random.Random) -> None:
    from replay.models import Session, TrackedEvent

    sessions = max(1, records // 20)
    users = max(1, sessions // 5)
    offset = Session.objects.count()
    batch: list[Any] = []
    written = 0
    for number in range(sessions):
        sid = f"bench-{offset + number:08d}"
        first = start_ms + rng.randrange(30 * DAY_MS)
        Session.objects.create(
            id=sid,
            project=project,
            first_event_ms=first,
            user_id=f"user-{rng.randrange(users)}" if rng.random() < 0.7 else "",
            user_agent=rng.choice(AGENTS),
        )
        ts = first
        for _ in range(20 if number < sessions - 1 else records - written):
            ts += rng.randrange(500, 60_000)
            batch.append(record(project, sid, ts, rng))
            written += 1
        if len(batch) >= 5000:
            TrackedEvent.objects.bulk_create(batch, batch_size=5000)
            batch = []
    TrackedEvent.objects.bulk_create(batch, batch_size=5000)


def record(project: Any, sid: str, ts: int, rng: random.Random) -> Any:
    from replay.models import TrackedEvent

    roll = rng.random()
    url = "https://shop.example" + rng.choice(PAGES)
    fields: dict[str, Any] = {"kind": "scroll", "data": {"percent": rng.randrange(100)}}
    if roll < 0.30:
        fields = {"kind": "pageview", "data": {"how": "load"}}
    elif roll < 0.65:
        button = rng.choice(BUTTONS)
        element = {"type": 2, "tagName": "button", "attributes": {"id": button}}
        ancestors = [{"type": 2, "tagName": "main", "attributes": {"class": "shop"}}]
        fields = {
            "kind": "click",
            "selector": f"#{button}",
            "text": button.title(),
            "data": {"element": element, "ancestors": ancestors, "selector": f"#{button}"},
        }
    elif roll < 0.80:
        fields = {"kind": "input", "selector": "#email", "data": {"selector": "#email"}}
    elif roll < 0.90:
        name = rng.choice(CUSTOM)
        fields = {"kind": "custom", "name": name, "data": {"name": name, "props": {}}}
    elif roll < 0.97:
        pass  # scroll
    elif roll < 0.99:
        fields = {"kind": "friction", "name": "dead_click", "data": {"type": "dead_click"}}
    else:
        message = "TypeError: x is undefined"
        fields = {"kind": "error", "name": message, "data": {"message": message}}
    return TrackedEvent(project=project, session_id=sid, ts=ts, url=url, **fields)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(repeat: int, step: Any) -> tuple[float, float, Any]:
    """The slowest and the median time of `repeat` runs of `step()`, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return max(times), statistics.median(times), result


def settle() -> None:
    """What autovacuum does after so many rows, and the fill's writes flushed, before the
    clock starts; then the connections closed (what is timed opens its own)."""
    from django.db import connection, connections

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")
    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--postgres", default=None, help="postgres://user@host:port/db")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with bench_database(args.postgres):
        run(args, [int(size) for size in args.sizes.split(",")])


def run(args: argparse.Namespace, sizes: list[int]) -> None:
    from django.db import connection

    from replay.analytics.funnel_query import parse_query
    from replay.analytics.funnel_query import run as run_funnel
    from replay.models import Project, TrackedEvent

    project = Project.objects.create(name="Bench shop", allowed_origins=["https://shop.example"])
    start_ms = int(time.time() * 1000) - 30 * DAY_MS
    rng = random.Random(7)
    print(f"database: {connection.vendor}")
    print(
        f"{'records':>10} {'funnel':<22} {'count':<8} {'entities':>9} {'s (max)':>8}"
        f" {'s (median)':>10} {'peak MB':>8}"
    )
    have = 0
    for size in sizes:
        began = time.perf_counter()
        fill(project, size - have, start_ms, rng)
        have = TrackedEvent.objects.count()
        settle()  # funnels are asked on a connection of their own
        print(f"{have:>10} written in {time.perf_counter() - began:.0f} s")
        for label, extra in [
            ("5 steps, sequential", {}),
            ("5 steps, strict", {"order": "strict"}),
            ("5 steps, by browser", {"breakdown": "browser"}),
        ]:
            for count in ("sessions", "users"):
                body = {"steps": FUNNEL, "count": count, **extra}
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    result = run_funnel(project, parse_query(project, body))
                    times.append(time.perf_counter() - started)
                entities = len(result.reached)
                print(
                    f"{have:>10} {label:<22} {count:<8} {entities:>9} {max(times):>8.2f}"
                    f" {statistics.median(times):>10.2f}"
                    f" {peak_mb():>8.0f}"
                )


if __name__ == "__main__":
    main()
