"""What the keyframer's passes cost over a long session whose page the mirror cannot
reproduce (a canvas drawing, with a recorder that never snapshots again, such as one on
the HTTP fallback), beside the same session without the canvas.

Each session is a page of `--nodes` nodes, then `--minutes` of recording at 20 changes a
second, stored as ingest stores it (a batch and a segment a second, SQLite and a local
folder). Every 30 s of recording the keyframer's pass runs (`advance_keyframes`, 30 s
interval), as it does while the session records. Three ways, side by side:

- the canvas page, as the keyframer runs now: a pass reads only what came since the last
  (the session's `keyframe_stuck_seq`);
- the canvas page read again from its start at each pass, every segment decoded and
  applied to a new mirror, as the keyframer's pass did before it kept the marker;
- the page without the canvas: every pass starts from the last keyframe.

Reports, for each, the milliseconds of the last pass and of all passes together.

    .venv/bin/python bench/keyframer_passes.py [--minutes 30] [--nodes 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analytics import bench_database  # noqa: E402

T = 1_700_000_000_000
INTERVAL_MS = 30_000
WAYS = {
    "canvas": "canvas page, marker kept",
    "again": "canvas page, from the start",
    "exact": "page without canvas",
}
SESSIONS = ("canvas", "exact")


def page(ts: int, nodes: int) -> list[dict[str, Any]]:
    items = [
        {
            "type": 2,
            "tagName": "li",
            "attributes": {"class": "item"},
            "childNodes": [{"type": 3, "textContent": f"item {n}", "id": 2 * n + 101}],
            "id": 2 * n + 100,
        }
        for n in range(nodes // 2)
    ]
    ul = {"type": 2, "tagName": "ul", "attributes": {}, "childNodes": items, "id": 10}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [ul], "id": 4}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [body], "id": 2}
    document = {"type": 0, "childNodes": [html], "id": 1}
    return [
        {
            "type": 4,
            "timestamp": ts,
            "data": {"href": "https://bench.example/", "width": 1280, "height": 800},
        },
        {
            "type": 2,
            "timestamp": ts,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        },
    ]


def second(ts: int, nodes: int) -> list[dict[str, Any]]:
    """A second of recording: 20 text and attribute changes."""
    events = []
    for n in range(20):
        node = 2 * ((ts // 50 + n) % (nodes // 2)) + 100
        data = {
            "source": 0,
            "adds": [],
            "removes": [],
            "texts": [{"id": node + 1, "value": f"at {ts + n}"}],
            "attributes": [{"id": node, "attributes": {"class": f"item c{n}"}}],
        }
        events.append({"type": 3, "timestamp": ts + 50 * n, "data": data})
    return events


def store(session_id: str, seq: int, events: list[dict[str, Any]]) -> None:
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch
    from replay.storage import get_storage

    packed = pack_batch(seq, events).packed
    received = Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))
    commit_batches(session_id, [received], get_storage(), max_session_bytes=10**10)


def from_start(session: Any) -> None:
    """What a pass did for a page stuck from its start: every segment read and applied."""
    from replay.mirror import Mirror
    from replay.models import Segment
    from replay.segments import read_segment
    from replay.storage import get_storage

    mirror = Mirror()
    for row in Segment.objects.filter(session=session).order_by("seq_start"):
        for batch in read_segment(row, get_storage()).batches:
            for event in batch.events:
                mirror.apply(event)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--nodes", type=int, default=2000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-keyframer-")
    os.environ["REPLAY_STORAGE_URL"] = f"file://{folder}"
    with bench_database(None):
        from ingest.sessions import open_session
        from replay.keyframes import advance_keyframes
        from replay.models import Project, Session
        from replay.storage import get_storage

        project = Project.objects.create(name="bench", allowed_origins=["https://bench.example"])
        for way in SESSIONS:
            open_session(
                project,
                way,
                secret=None,
                tab="tab-1",
                page=None,
                user=None,
                user_agent="bench",
                new_id=way,
            )
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        for s in range(args.minutes * 60):
            ts = T + 1000 * s
            for way in SESSIONS:
                events = page(ts, args.nodes) if s == 0 else []
                if s == 0 and way != "exact":
                    data = {"source": 9, "id": 10, "type": 0, "commands": []}
                    events.append({"type": 3, "timestamp": ts + 1, "data": data})
                store(way, s, [*events, *second(ts, args.nodes)])
            if (s + 1) % (INTERVAL_MS // 1000):
                continue
            for way in WAYS:
                session = Session.objects.get(pk="canvas" if way == "again" else way)
                started = time.perf_counter()
                if way == "again":
                    from_start(session)
                else:
                    advance_keyframes(session, get_storage(), INTERVAL_MS)
                times[way].append((time.perf_counter() - started) * 1000)
    print(
        f"{args.minutes} min of recording, a page of {args.nodes} nodes, 20 changes a second;"
        f" a keyframer pass every 30 s ({len(times['exact'])} passes):"
    )
    print(f"{'':<30} {'last pass ms':>13} {'all passes ms':>14}")
    for way, label in WAYS.items():
        print(f"{label:<30} {times[way][-1]:>13.0f} {sum(times[way]):>14.0f}")
    again, kept = sum(times["again"]), sum(times["canvas"])
    print(f"canvas page, from the start / marker kept: {again / kept:.1f} times (all passes)")


if __name__ == "__main__":
    main()
