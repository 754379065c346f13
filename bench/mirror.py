"""DOM mirror throughput on the corpus recordings: events/s and MB/s on one core.

Events are decoded from JSON first (not timed); the time is the mirror applying them,
as ingest would after decoding a batch. Each recording is applied several times.

    .venv/bin/python bench/mirror.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay.mirror import Mirror, keyframe  # noqa: E402
from tests.support import CORPUS, load_recording  # noqa: E402

ROUNDS = 5


def main() -> None:
    total_events = total_bytes = 0
    total_seconds = 0.0
    print(
        f"{'recording':10} {'events':>7} {'MB':>6} {'events/s':>10} {'MB/s':>7} {'keyframe ms':>12}"
    )
    for name in CORPUS:
        events = load_recording(name)
        size = len(json.dumps(events, separators=(",", ":")))
        started = time.perf_counter()
        for _ in range(ROUNDS):
            mirror = Mirror()
            for event in events:
                mirror.apply(event)
        seconds = (time.perf_counter() - started) / ROUNDS
        started = time.perf_counter()
        keyframe(mirror, events[-1]["timestamp"])
        keyframe_ms = (time.perf_counter() - started) * 1000
        total_events += len(events)
        total_bytes += size
        total_seconds += seconds
        print(
            f"{name:10} {len(events):7d} {size / 1e6:6.2f} {len(events) / seconds:10.0f} "
            f"{size / seconds / 1e6:7.1f} {keyframe_ms:12.2f}"
        )
    print(
        f"{'all':10} {total_events:7d} {total_bytes / 1e6:6.2f} "
        f"{total_events / total_seconds:10.0f} {total_bytes / total_seconds / 1e6:7.1f}"
    )


if __name__ == "__main__":
    main()
