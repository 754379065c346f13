"""A hostile session against an honest one: what tracking them costs the server.

A client that keeps to every ingest limit (10,000 events a batch, 20 batches a second,
200 MB a session) can still send millions of tiny events that each make a record: clicks,
errors, console errors, failed requests, custom events, input changes, page views, and
the pointer moves, scrolls and DOM changes friction detectors read. This stores such a
session (`--events` of each kind, interleaved, a millisecond apart, in batches of 10,000)
and an honest one (a page with a click every 2 s and pointer moves between them, for
`--minutes`), then times the keyframer's tracking pass (`replay.records.track_session`)
over each, from the start and once more after one more batch, with the growth of the
process's peak memory, the rows stored and the size of the tracking checkpoint.

    .venv/bin/python bench/flood.py [--events 100000] [--minutes 60] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analytics import bench_database, peak_mb  # noqa: E402

ORIGIN = "https://shop.example"
BATCH = 10_000


def page(ts: int) -> list[dict[str, Any]]:
    """Meta and FullSnapshot of a page with a button (id 10) and two fields (12, 13)."""
    button = {
        "type": 2,
        "tagName": "button",
        "attributes": {"id": "buy"},
        "childNodes": [],
        "id": 10,
    }
    fields = [
        {"type": 2, "tagName": "input", "attributes": {"name": n}, "childNodes": [], "id": i}
        for n, i in (("email", 12), ("name", 13))
    ]
    body = {
        "type": 2,
        "tagName": "body",
        "attributes": {},
        "childNodes": [button, *fields],
        "id": 4,
    }
    head = {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 3}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [head, body], "id": 2}
    document = {"type": 0, "childNodes": [html], "id": 1}
    return [
        {"type": 4, "timestamp": ts, "data": {"href": ORIGIN + "/", "width": 1280, "height": 800}},
        {
            "type": 2,
            "timestamp": ts,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        },
    ]


def hostile(ts: int, n: int) -> dict[str, Any]:
    """The n-th event of the flood: each kind in turn."""
    kind = n % 10
    if kind == 0:
        return {
            "type": 3,
            "timestamp": ts,
            "data": {"source": 2, "type": 2, "id": 10, "x": n % 90, "y": 5},
        }
    if kind == 1:
        error = {"message": f"boom {n}", "kind": "error", "stack": "at f (x.js:1:1)"}
        return {"type": 5, "timestamp": ts, "data": {"tag": "replay/error", "payload": error}}
    if kind == 2:
        entry = {"level": "warn", "payload": [f'"slow {n}"'], "trace": []}
        return {"type": 6, "timestamp": ts, "data": {"plugin": "rrweb/console@1", "payload": entry}}
    if kind == 3:
        request = {
            "url": f"{ORIGIN}/api/{n}",
            "method": "GET",
            "status": 500,
            "startTime": 1.0,
            "endTime": 2.0,
        }
        return {
            "type": 6,
            "timestamp": ts,
            "data": {"plugin": "rrweb/network@1", "payload": {"requests": [request]}},
        }
    if kind == 4:
        return {"type": 5, "timestamp": ts, "data": {"tag": f"event {n % 50}", "payload": {"n": n}}}
    if kind == 5:
        field = 12 + (n // 10) % 2  # alternating fields: each input a record
        return {
            "type": 3,
            "timestamp": ts,
            "data": {"source": 5, "id": field, "text": "*", "isChecked": False},
        }
    if kind == 6:
        navigation = {"href": f"{ORIGIN}/p/{n % 7}", "kind": "navigation"}
        return {
            "type": 5,
            "timestamp": ts,
            "data": {"tag": "replay/navigation", "payload": navigation},
        }
    if kind == 7:
        moves = [{"x": n % 800, "y": 7, "id": 4, "timeOffset": 0}]
        return {"type": 3, "timestamp": ts, "data": {"source": 1, "positions": moves}}
    if kind == 8:
        return {"type": 3, "timestamp": ts, "data": {"source": 3, "id": 1, "x": 0, "y": n % 3000}}
    return {
        "type": 3,
        "timestamp": ts,
        "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": []},
    }


def honest(start: int, minutes: int) -> Iterator[dict[str, Any]]:
    """A visitor: a click on the button every 2 s, pointer moves (rrweb's 50 ms sampling,
    sent every 500 ms) and a DOM change after each click."""
    for step in range(minutes * 60 * 2):
        ts = start + step * 500
        moves = [
            {"x": (step * 37 + i) % 800, "y": 300, "id": 4, "timeOffset": -50 * i}
            for i in range(10)
        ]
        yield {"type": 3, "timestamp": ts, "data": {"source": 1, "positions": moves}}
        if step % 4 == 0:
            yield {
                "type": 3,
                "timestamp": ts + 1,
                "data": {"source": 2, "type": 2, "id": 10, "x": 5, "y": 5},
            }
            adds = [
                {
                    "parentId": 4,
                    "nextId": None,
                    "node": {"type": 3, "textContent": "ok", "id": 100_000 + step},
                }
            ]
            removes = [{"parentId": 4, "id": 100_000 + step - 4}] if step else []
            mutation = {
                "source": 0,
                "texts": [],
                "attributes": [],
                "removes": removes,
                "adds": adds,
            }
            yield {"type": 3, "timestamp": ts + 80, "data": mutation}


def store(project: Any, session_id: str, events: Iterator[dict[str, Any]], start: int) -> int:
    """Store the session as ingest does, in batches of BATCH events; the last seq."""
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from ingest.sessions import open_session
    from replay.codec import pack_batch
    from replay.storage import get_storage

    open_session(
        project,
        session_id,
        secret=None,
        tab="tab-1",
        page=None,
        user=None,
        user_agent="bench",
        new_id=session_id,
    )
    storage, seq, batch = get_storage(), 0, page(start)

    def commit(events: list[dict[str, Any]], seq: int) -> None:
        packed = pack_batch(seq, events).packed
        received = Received.scanned(
            seq, packed, scan_events(packed, max_events=BATCH + 2), len(packed)
        )
        commit_batches(session_id, [received], storage, max_session_bytes=200 * 1024 * 1024)

    for event in events:
        batch.append(event)
        if len(batch) == BATCH:
            commit(batch, seq)
            seq, batch = seq + 1, []
    commit(
        batch or [{"type": 3, "timestamp": start, "data": {"source": 3, "id": 1, "x": 0, "y": 0}}],
        seq,
    )
    return seq


def measure(project: Any, session_id: str, events: Iterator[dict[str, Any]], start: int) -> None:
    from replay.models import Session, TrackedEvent, TrackingCheckpoint
    from replay.records import track_session
    from replay.storage import get_storage

    began = time.perf_counter()
    seq = store(project, session_id, events, start)
    stored = Session.objects.get(pk=session_id).stored_bytes
    stored_s = time.perf_counter() - began
    before = peak_mb()
    began = time.perf_counter()
    tracked = track_session(Session.objects.get(pk=session_id), get_storage())
    whole_s = time.perf_counter() - began
    grown = peak_mb() - before
    checkpoint = len(TrackingCheckpoint.objects.get(session_id=session_id).data)
    # One more batch, as a session that goes on recording: the next pass.
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch

    last = (
        TrackedEvent.objects.filter(session_id=session_id)
        .order_by("-ts")
        .values_list("ts", flat=True)
        .first()
        or start
    )
    more = [
        {
            "type": 3,
            "timestamp": last + 1000,
            "data": {"source": 2, "type": 2, "id": 10, "x": 1, "y": 1},
        }
    ]
    packed = pack_batch(seq + 1, more).packed
    received = Received.scanned(seq + 1, packed, scan_events(packed, max_events=10), len(packed))
    commit_batches(session_id, [received], get_storage(), max_session_bytes=200 * 1024 * 1024)
    began = time.perf_counter()
    track_session(Session.objects.get(pk=session_id), get_storage())
    next_s = time.perf_counter() - began
    print(
        f"{session_id:<8} {stored / 1e6:>9.1f} {stored_s:>8.1f} {whole_s:>9.1f} {next_s:>9.2f}"
        f" {grown:>9.0f} {tracked.records:>9} {tracked.friction:>9} {checkpoint / 1e6:>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="of each kind, in the flood")
    parser.add_argument("--minutes", type=int, default=60, help="of the honest session")
    parser.add_argument(
        "--postgres", help="a PostgreSQL URL; SQLite in a temporary folder if not given"
    )
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-flood-")
    os.environ["REPLAY_STORAGE_URL"] = f"file://{folder}"
    try:
        with bench_database(args.postgres):
            from django.db import connection

            from replay.models import Project

            project = Project.objects.create(name="Flood", allowed_origins=[ORIGIN])
            start = int(time.time() * 1000) - 3_600_000
            print(
                f"database: {connection.vendor};"
                f" {args.events:,} events of each of 10 kinds in the flood"
            )
            print(
                f"{'session':<8} {'MB stored':>9} {'store s':>8} {'tracking s':>9} {'next s':>9}"
                f" {'+peak MB':>9} {'rows':>9} {'friction':>9} {'checkpt MB':>10}"
            )
            measure(project, "honest", honest(start, args.minutes), start)
            flood = (hostile(start + n, n) for n in range(args.events * 10))
            measure(project, "hostile", flood, start)
    finally:
        shutil.rmtree(folder, True)


if __name__ == "__main__":
    main()
