"""What a session costs in storage when it is recorded at real pace.

Streams two sessions into a server on the embedded defaults (local folder, SQLite): the
10-minute corpus recording, and that recording three times over (30 minutes), each cut
into a batch per second of recording as the recorder sends them. The server
acknowledges each batch before the next is sent, so each is stored in a flush of its
own, as at real pace, where a second passes between batches (the time in between is
simulated: the bench runs in a minute or two). Once the keyframer has caught up, it
reports for each session:

- what storage holds for it, by kind (segments, keyframes, the tracking checkpoint):
  objects and bytes, and everything together against the gzip of the session's JSON
  (the goal of issue 17: at most 0.5x);
- the rows that index it in the database;
- the objects written for it (`replay_storage_writes_total`, each a PUT on S3) per
  recorded minute (the goal: at most 1), and what that makes per second for one server
  process recording 2,000 sessions at once (the goal: at most 2).

    .venv/bin/python bench/storage.py
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embedded import start_embedded  # noqa: E402
from bench.seek import FAST_INGEST, ORIGIN, long_session, stream  # noqa: E402
from tests.support import load_recording  # noqa: E402

SESSIONS = {"long-10min": 600, "30 minutes": 1800}  # seconds of recording
KINDS = {"seg": "segments", "key": "keyframes", "ckpt": "checkpoint"}
CONCURRENT = 2000


def writes(url: str) -> Counter[str]:
    """replay_storage_writes_total by kind, from the server's /metrics."""
    found: Counter[str] = Counter()
    with urllib.request.urlopen(f"{url}/metrics") as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("replay_storage_writes_total{"):
                labels, value = line.rsplit(" ", 1)
                found[labels.split('kind="', 1)[1].split('"', 1)[0]] += round(float(value))
    return found


def wait_for_keyframes(database: Path, session: str, last: int) -> None:
    with sqlite3.connect(database) as db:
        while True:  # the keyframer writes as it catches up
            (latest,) = db.execute(
                "SELECT MAX(timestamp) FROM replay_keyframe WHERE session_id = ?", (session,)
            ).fetchone()
            if latest and latest >= last - 60_000:
                return
            time.sleep(0.5)


def stored(folder: Path, session: str) -> dict[str, tuple[int, int]]:
    """Objects and bytes under the session's folder, by kind."""
    found: dict[str, tuple[int, int]] = {}
    for path in (folder / "sessions" / session).rglob("*"):
        if path.is_file():
            kind = KINDS.get(path.suffix.lstrip("."), path.name)
            count, size = found.get(kind, (0, 0))
            found[kind] = (count + 1, size + path.stat().st_size)
    return found


def index_rows(database: Path, session: str) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        return {
            table: db.execute(
                f"SELECT COUNT(*) FROM replay_{table} WHERE session_id = ?",
                (session,),
            ).fetchone()[0]
            for table in ("segment", "keyframe")
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
    total = 0
    for kind, (count, size) in sorted(measured["stored"].items()):
        total += size
        print(f"  {kind:<12} {count:>6} objects {size / 1e6:>8.3f} MB  {size / zipped:>6.3f}x gzip")
    print(f"  {'everything':<12} {'':>14} {total / 1e6:>8.3f} MB  {total / zipped:>6.3f}x gzip")
    rows = ", ".join(f"{count} {table} rows" for table, count in measured["rows"].items())
    print(f"  index: {rows}")
    written = sum(measured["writes"].values())
    per_minute = written / minutes
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(measured["writes"].items()))
    print(
        f"  storage writes: {written} ({kinds}): {per_minute:.1f} per recorded minute;"
        f" {per_minute * CONCURRENT / 60:,.0f} a second for {CONCURRENT:,} sessions at once"
    )


def main() -> None:
    embedded = start_embedded(
        "storage",
        ORIGIN,
        env=FAST_INGEST,
        access_log=False,
    )
    server = embedded.server
    folder = embedded.database.parent / "segments"
    recording = load_recording("long-10min")
    results = []
    try:
        for name, seconds in SESSIONS.items():
            batches = long_session((seconds - 3.6) / 3600, [recording], window_ms=1000)
            before = writes(server.url)
            session = stream(server.ws_url, embedded.key, batches)
            wait_for_keyframes(embedded.database, session, batches[-1][-1]["timestamp"])
            time.sleep(2)  # the tracking checkpoint follows the keyframer
            measured = {
                "stored": stored(folder, session),
                "rows": index_rows(embedded.database, session),
                "writes": writes(server.url) - before,
            }
            results.append((name, batches, measured))
    finally:
        server.stop()
    print("Storage per session, recorded at real pace (a batch a second, a flush each):")
    for name, batches, measured in results:
        report(name, batches, measured)


if __name__ == "__main__":
    main()
