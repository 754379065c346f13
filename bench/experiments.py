"""Experiments, adoption and datasets over many records.

Writes N synthetic records (bench/analytics.py's mix: 20 to a session, five sessions to
a user, 30 days; default 1,000,000, so 50,000 sessions) and an exposure to experiment
`cta` at the start of every session (variant a or b; a tenth of the users see both),
then times the experiment report (goal: the custom event `paid`, by sessions and by
users) and weekly adoption of the `checkout` custom event (the slowest and the median of
`--repeat` runs), the pages that show them (`/experiments`, `/adoption`, drawn whole),
and the dataset export of every session as CSV and as Parquet:
sessions per second and the process's peak memory.

    .venv/bin/python bench/experiments.py [--records 1000000] [--postgres URL]
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

from bench.analytics import DAY_MS, bench_database, fill, peak_mb, settle, timed  # noqa: E402


def expose(project: Any, rng: random.Random) -> None:
    from replay.models import Session, TrackedEvent

    rows = []
    for sid, user, first in Session.objects.filter(project=project).values_list(
        "pk", "user_id", "first_event_ms"
    ):
        variant = "a" if hash(user or sid) % 2 else "b"
        if rng.random() < 0.1:
            variant = rng.choice("ab")
        props = {"experiment": "cta", "variant": variant}
        rows.append(
            TrackedEvent(
                project=project,
                session_id=sid,
                ts=first or 0,
                kind="custom",
                name="$exposure",
                url="https://shop.example/home",
                data={"name": "$exposure", "props": props},
            )
        )
        if len(rows) == 5000:
            TrackedEvent.objects.bulk_create(rows)
            rows = []
    TrackedEvent.objects.bulk_create(rows)


def page(project: Any, path: str, params: dict[str, Any]) -> None:
    """A report page as a member of the project asks for it, drawn to its last byte."""
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from replay.analytics import report_views

    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    project.members.add(user)
    request = RequestFactory().get(path, params)
    request.user = user
    view = report_views.experiments_page if path == "/experiments" else report_views.adoption_page
    response = view(request)
    assert response.status_code == 200, response.content[:2000]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="postgres://user@host:port/db")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with bench_database(args.postgres):
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    from replay.analytics import adoption, experiments
    from replay.analytics.dataset_api import stream
    from replay.models import Project, Session

    project = Project.objects.create(name="Bench shop", allowed_origins=["https://shop.example"])
    rng = random.Random(3)
    began = time.perf_counter()
    fill(project, args.records, int(time.time() * 1000) - 30 * DAY_MS, rng)
    expose(project, rng)
    settle()
    sessions = Session.objects.filter(project=project).count()
    print(
        f"database: {connection.vendor}; {args.records} records and {sessions} sessions"
        f" written in {time.perf_counter() - began:.0f} s"
    )
    print(f"{'query':<34} {'s (max)':>8} {'s (median)':>10} {'peak MB':>8}")
    goal = {"kind": "custom", "name": "paid"}
    for count in ("sessions", "users"):
        body = {"experiment": "cta", "goal": goal, "control": "a", "count": count}

        def report(body: dict[str, Any] = body) -> Any:
            return experiments.compute(project, experiments.parse(project, body))

        slowest, median, answer = timed(args.repeat, report)
        label = f"experiment report, by {count}"
        print(f"{label:<34} {slowest:>8.2f} {median:>10.2f} {peak_mb():>8.0f}")
        exposures = [(v["variant"], v["exposures"], v["conversions"]) for v in answer["variants"]]
        print(f"  variants {exposures}, excluded {answer['excluded']}")
    feature = {"feature": {"kind": "custom", "name": "checkout"}, "interval": "week"}
    slowest, median, answer = timed(
        args.repeat, lambda: adoption.compute(project, adoption.parse(project, feature))
    )
    print(f"{'weekly adoption':<34} {slowest:>8.2f} {median:>10.2f} {peak_mb():>8.0f}")
    pages: list[tuple[str, str, dict[str, Any]]] = [
        ("experiments page, by sessions", "/experiments", {"experiment": "cta", "goal": "custom"}),
        ("adoption page, weekly", "/adoption", {"feature": "custom", "value": "checkout"}),
    ]
    for label, path, asked in pages:
        params = {"project": project.pk, "value": "paid", "control": "a", **asked}
        slowest, median, _ = timed(args.repeat, lambda p=path, q=params: page(project, p, q))
        print(f"{label:<34} {slowest:>8.2f} {median:>10.2f} {peak_mb():>8.0f}")
    since_ms, until_ms = 0, int(time.time() * 1000) + DAY_MS
    for kind in ("csv", "parquet"):
        started = time.perf_counter()
        size = sum(len(part) for part in stream(project, since_ms, until_ms, kind))
        took = time.perf_counter() - started
        label = f"dataset as {kind}, {sessions} sessions"
        print(
            f"{label:<34} {took:>8.2f} {'':>10} {peak_mb():>8.0f}"
            f"   {sessions / took:,.0f} sessions/s, {size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
