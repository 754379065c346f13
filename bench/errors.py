"""Error groups over many error records: how long `/errors` and its API take to group them.

Writes N synthetic error records straight into a fresh database (SQLite in a temporary
folder by default; PostgreSQL with `--postgres URL`, in a database of its own dropped
afterwards): over the last 14 days, in sessions of one to five errors, a user to about
three sessions, from 300 distinct errors (their messages with varying numbers and ids, as
real ones have, each with a stack of ten frames from a built bundle), a few of them
frequent and most rare. Then times, for each size and side by side, what grouping cost
before fingerprints were stored (every record of the range read and fingerprinted in
Python), the groups of the last 14 days as `/errors` and `GET /api/projects/ID/errors`
count them now, the whole page, and the largest group's sessions: each the slowest of
`--repeat` runs, with the process's peak memory; and checks that both ways find the same
groups, counts and sessions.

    .venv/bin/python bench/errors.py [--sizes 100000,1000000] [--postgres URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analytics import AGENTS, bench_database, peak_mb, settle, timed  # noqa: E402

DAY_MS = 24 * 3600 * 1000
DISTINCT = 300
FUNCTIONS = ["render", "update", "onClick", "fetchCart", "parse", "apply", "reduce", "emit"]
MESSAGES = [
    "TypeError: Cannot read properties of undefined (reading 'price') at item {n}",
    "Error: request {id} failed with status {n}",
    "ReferenceError: widget is not defined in step {n}",
    "Uncaught (in promise) Error: timeout after {n} ms",
    "TypeError: cart.items[{n}] is null",
]


def error_kinds(rng: random.Random) -> list[tuple[str, list[str]]]:
    """DISTINCT errors: a message template and its stack's frames."""
    kinds = []
    for number in range(DISTINCT):
        template = MESSAGES[number % len(MESSAGES)] + f" (module {number})"
        frames = [
            f"    at {rng.choice(FUNCTIONS)}{number} (https://shop.example/assets/"
            f"app.{rng.getrandbits(32):08x}.js:{rng.randrange(1, 9000)}:{rng.randrange(1, 200)})"
            for _ in range(10)
        ]
        kinds.append((template, frames))
    return kinds


def fill(project: Any, records: int, now_ms: int, rng: random.Random) -> None:
    from replay.fingerprints import record_fingerprint
    from replay.models import Session, TrackedEvent

    kinds = error_kinds(rng)
    # A few errors are most of the occurrences, as on real sites.
    weights = [1 / (rank + 1) for rank in range(DISTINCT)]
    users = max(1, records // 9)
    offset = Session.objects.count()
    written = 0
    number = 0
    batch: list[Any] = []
    sessions: list[Any] = []
    while written < records:
        sid = f"bench-{offset + number:08d}"
        number += 1
        ts = now_ms - rng.randrange(14 * DAY_MS)
        sessions.append(
            Session(
                id=sid,
                project=project,
                first_event_ms=ts,
                user_id=f"user-{rng.randrange(users)}" if rng.random() < 0.7 else "",
                user_agent=rng.choice(AGENTS),
            )
        )
        for _ in range(min(rng.randrange(1, 6), records - written)):
            ts += rng.randrange(500, 60_000)
            template, frames = rng.choices(kinds, weights)[0]
            message = template.format(n=rng.randrange(10_000), id=f"{rng.getrandbits(64):016x}")
            stack = "\n".join([message, *frames])
            data = {"message": message, "kind": "error", "source": "", "stack": stack}
            batch.append(
                TrackedEvent(
                    project=project,
                    session_id=sid,
                    ts=ts,
                    kind="error",
                    name=message[:200],
                    url="https://shop.example/cart",
                    data=data,
                    fingerprint=record_fingerprint(data),  # as tracking stores it
                )
            )
            written += 1
        if len(batch) >= 5000:
            Session.objects.bulk_create(sessions, batch_size=5000)
            TrackedEvent.objects.bulk_create(batch, batch_size=5000)
            batch, sessions = [], []
    Session.objects.bulk_create(sessions, batch_size=5000)
    TrackedEvent.objects.bulk_create(batch, batch_size=5000)


def in_python(project: Any, since: int, until: int) -> dict[str, tuple[int, int]]:
    """What the grouping did before fingerprints were stored (migration 0021): every
    record of the range read and fingerprinted in Python; {fingerprint: (count,
    sessions)}, to compare the figures and the answers."""
    from replay.fingerprints import record_fingerprint
    from replay.models import TrackedEvent

    rows = TrackedEvent.objects.filter(
        project=project, kind="error", ts__gte=since, ts__lt=until
    ).values_list("session_id", "data")
    counts: dict[str, int] = {}
    sessions: dict[str, set[str]] = {}
    for session_id, data in rows.iterator(chunk_size=5000):
        key = record_fingerprint(data)
        counts[key] = counts.get(key, 0) + 1
        sessions.setdefault(key, set()).add(session_id)
    return {key: (n, len(sessions[key])) for key, n in counts.items()}


def run(args: argparse.Namespace, sizes: list[int]) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from replay.models import Project, TrackedEvent

    project = Project.objects.create(name="Bench shop", allowed_origins=["https://shop.example"])
    viewer = User.objects.create_superuser("bench", password="bench")
    now_ms = int(time.time() * 1000)
    rng = random.Random(7)
    print(f"database: {connection.vendor}")
    header = f"{'records':>10} {'what':<28} {'groups':>7} {'s (max)':>8} {'s (median)':>10}"
    print(f"{header} {'peak MB':>8}")
    have = 0
    for size in sizes:
        began = time.perf_counter()
        fill(project, size - have, now_ms, rng)
        have = TrackedEvent.objects.count()
        settle()
        print(f"{have:>10} written in {time.perf_counter() - began:.0f} s")
        measure(project, viewer, have, now_ms - 14 * DAY_MS, now_ms + 1, args.repeat)


def measure(project: Any, viewer: Any, have: int, since: int, until: int, repeat: int) -> None:
    from django.test import Client

    from replay.analytics.error_groups import groups

    client = Client(HTTP_HOST="localhost")
    client.force_login(viewer)
    top: list[Any] = []
    old: dict[str, tuple[int, int]] = {}

    def before() -> Any:
        old.update(in_python(project, since, until))

    def listed() -> Any:
        top[:] = groups(project, since, until)

    def page() -> Any:
        return client.get("/errors", {"project": project.pk})

    def sessions() -> Any:
        largest = max(top, key=lambda group: group.count)
        return client.get(f"/api/projects/{project.pk}/errors/{largest.fingerprint}/sessions")

    for label, step in [
        ("read and fingerprinted (old)", before),
        ("groups, last 14 days", listed),
        ("the /errors page", page),
        ("the largest group's sessions", sessions),
    ]:
        worst, median, result = timed(repeat, step)
        if result is not None and result.status_code != 200:
            raise SystemExit(f"{label}: HTTP {result.status_code}")
        print(
            f"{have:>10} {label:<28} {len(top):>7} {worst:>8.2f} {median:>10.2f} {peak_mb():>8.0f}"
        )
    same = old == {g.fingerprint: (g.count, g.sessions) for g in top}
    print(f"{have:>10} the same groups, counts and sessions both ways: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--postgres", default=None, help="postgres://user@host:port/db")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with bench_database(args.postgres):
        run(args, [int(size) for size in args.sizes.split(",")])


if __name__ == "__main__":
    main()
