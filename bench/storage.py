"""What a session costs in storage when it is recorded at real pace, then compacted.

Streams two sessions into a server on the embedded defaults (local folder, SQLite): the
10-minute corpus recording, and that recording three times over (30 minutes), each cut
into a batch per second of recording as the recorder sends them. The server
acknowledges each batch before the next is sent, so each is stored in a commit round of
its own, as at real pace, where a second passes between batches (the time in between is
simulated: the bench runs in a few minutes). Once the keyframer and the tracker have
caught up, it runs `manage.py compact` on the session and reports, before and after:

- what is stored for the session, by kind (segments or blocks, keyframes, the tracking
  checkpoint, which lives in the database), against the gzip of the session's JSON (the
  goal of issue 17: at most 0.5x once compacted);
- the rows that index it;
- the objects written while it recorded (`replay_storage_writes_total`, each a PUT on S3)
  per recorded minute. Rounds' and keyframer passes' packs are shared by every session
  recording in the process at once, so this bench, with one session recording, writes
  one per flush; `bench/load.py --sessions 2000` measures writes a second, and per
  session-minute, with 2,000 sessions recording together.

    .venv/bin/python bench/storage.py
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embedded import start_embedded, storage_writes  # noqa: E402
from bench.seek import FAST_INGEST, ORIGIN, long_session, stream  # noqa: E402
from tests.support import load_recording  # noqa: E402

SESSIONS = {"long-10min": 600, "30 minutes": 1800}  # seconds of recording
SUFFIXES = {"rnd": "rounds' packs", "kfp": "keyframe packs", "blk": "block packs"}


def wait_for_keyframes(database: Path, session: str, last: int) -> None:
    with sqlite3.connect(database) as db:
        while True:  # the keyframer writes as it catches up, then tracks
            (latest,) = db.execute(
                "SELECT MAX(timestamp) FROM replay_keyframe WHERE session_id = ?", (session,)
            ).fetchone()
            (tracked,) = db.execute(
                "SELECT tracked_seq >= acked_seq FROM replay_session WHERE id = ?", (session,)
            ).fetchone()
            if latest and latest >= last - 60_000 and tracked:
                return
            time.sleep(0.5)


def stored(database: Path, session: str) -> dict[str, tuple[int, int]]:
    """Parts and bytes stored for the session, by kind, from the rows that index them."""
    with sqlite3.connect(database) as db:
        found = {}
        for kind, query in {
            "segments": "SELECT COUNT(*), SUM(size) FROM replay_segment "
            "WHERE session_id = ? AND NOT compacted",
            "blocks": "SELECT COUNT(*), SUM(size) FROM replay_segment "
            "WHERE session_id = ? AND compacted",
            "keyframes": "SELECT COUNT(*), SUM(size) FROM replay_keyframe WHERE session_id = ?",
            "checkpoint (db)": "SELECT COUNT(*), SUM(LENGTH(data)) "
            "FROM replay_trackingcheckpoint WHERE session_id = ?",
        }.items():
            count, size = db.execute(query, (session,)).fetchone()
            if count:
                found[kind] = (count, size or 0)
        return found


def index_rows(database: Path, session: str) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return {
            table: db.execute(
                f"SELECT COUNT(*) FROM replay_{table} WHERE session_id = ?",
                (session,),
            ).fetchone()[0]
            for table in ("segment", "keyframe", "trackedevent")
        }


def report(name: str, batches: list[list[dict[str, Any]]], measured: dict[str, Any]) -> None:
    events = [event for batch in batches for event in batch]
    whole = json.dumps(events, separators=(",", ":")).encode()
    zipped = len(gzip.compress(whole, 6))
    minutes = (events[-1]["timestamp"] - events[0]["timestamp"]) / 60_000
    print(
        f"\n{name}: {minutes:.1f} min, {len(batches)} batches, {len(events)} events,"
        f" {len(whole) / 1e6:.2f} MB of JSON, {zipped / 1e6:.3f} MB as gzip"
    )
    for stage in ("ingested", "compacted"):
        total = 0
        print(f"  {stage}:")
        for kind, (count, size) in measured[stage].items():
            total += size
            print(f"    {kind:<16} {count:>6} {size / 1e6:>8.3f} MB  {size / zipped:>6.3f}x gzip")
        print(
            f"    {'everything':<16} {'':>6} {total / 1e6:>8.3f} MB  {total / zipped:>6.3f}x gzip"
        )
        rows = ", ".join(f"{n} {table} rows" for table, n in measured[f"{stage} rows"].items())
        print(f"    index: {rows}")
    written = sum(measured["writes"].values())
    kinds = ", ".join(
        f"{n} {SUFFIXES.get(kind, kind)}" for kind, n in sorted(measured["writes"].items())
    )
    print(
        f"  objects written while it recorded alone: {written} ({kinds}), "
        f"{written / minutes:.1f} per recorded minute"
    )
    print(f"  compaction: {measured['compact']}")


def main() -> None:
    embedded = start_embedded(
        "storage",
        ORIGIN,
        env={**FAST_INGEST, "REPLAY_COMPACT_IDLE_SECONDS": "5"},
        access_log=False,
    )
    server = embedded.server
    recording = load_recording("long-10min")
    results = []
    try:
        for name, seconds in SESSIONS.items():
            batches = long_session((seconds - 3.6) / 3600, [recording], window_ms=1000)
            before = storage_writes(server.url)
            session = stream(server.ws_url, embedded.key, batches)
            wait_for_keyframes(embedded.database, session, batches[-1][-1]["timestamp"])
            writes = storage_writes(server.url) - before
            measured = {
                "ingested": stored(embedded.database, session),
                "ingested rows": index_rows(embedded.database, session),
                "writes": writes,
            }
            time.sleep(6)  # idle past REPLAY_COMPACT_IDLE_SECONDS: it is over
            measured["compact"] = embedded.manage("compact", "--session", session)
            measured["compacted"] = stored(embedded.database, session)
            measured["compacted rows"] = index_rows(embedded.database, session)
            results.append((name, batches, measured))
    finally:
        server.stop()
    print("Storage per session, recorded at real pace (a batch a second, a round each):")
    for name, batches, measured in results:
        report(name, batches, measured)


if __name__ == "__main__":
    main()
