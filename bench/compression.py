"""Stored bytes against raw JSON and against gzip of the JSON, per corpus recording.

Each recording in tests/fixtures is cut into segments the way the server stores it at
real pace (the recorder sends a batch about every second, the server flushes every
REPLAY_FLUSH_SECONDS = 1 s, so one segment per second of recording), and also as one
segment for the whole stream, the lower bound for this codec.

    .venv/bin/python bench/compression.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay.codec import PackedBatch, encode_segment, pack_batch  # noqa: E402
from tests.support import CORPUS, load_recording  # noqa: E402


def per_second(events: list[dict[str, Any]]) -> list[list[PackedBatch]]:
    """Segments of one batch each, one per second of recording time."""
    segments: list[list[PackedBatch]] = []
    start = events[0]["timestamp"]
    current: list[dict[str, Any]] = []
    window = 0
    for event in events:
        second = int((event["timestamp"] - start) // 1000)
        if second != window and current:
            segments.append([pack_batch(len(segments), current)])
            current = []
        window = second
        current.append(event)
    if current:
        segments.append([pack_batch(len(segments), current)])
    return segments


def main() -> None:
    head = ["JSON B", "gzip-6", "1 s segs", "one seg", "segs/gzip"]
    print(f"{'recording':10} " + " ".join(f"{h:>10}" for h in head))
    for name in CORPUS:
        events = load_recording(name)
        raw = json.dumps(events, separators=(",", ":")).encode()
        gzipped = len(gzip.compress(raw, compresslevel=6))
        stored = sum(len(encode_segment(name, batches)) for batches in per_second(events))
        whole = len(encode_segment(name, [pack_batch(0, events)]))
        print(
            f"{name:10} {len(raw):10d} {gzipped / len(raw):10.3f} {stored / len(raw):10.3f} "
            f"{whole / len(raw):10.3f} {stored / gzipped:10.2f}"
        )
    print("sizes after 'JSON B' are fractions of the JSON; segs/gzip > 1: larger than gzip")


if __name__ == "__main__":
    main()
