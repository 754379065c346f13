"""DOM mirror throughput on the corpus recordings: events/s and MB/s on one core.

Events are decoded first (not timed; the mirror keeps and changes the events it is given,
so each round decodes them again from msgpack); the time is the mirror applying them, as
the keyframer does after decoding a segment. Each recording is applied in 21 rounds and
its figure is the median round.

    .venv/bin/python bench/mirror.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import msgpack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay.mirror import Mirror, keyframe  # noqa: E402
from tests.support import CORPUS, load_recording  # noqa: E402

ROUNDS = 21


def main() -> None:
    recordings = {name: load_recording(name) for name in CORPUS}
    packed = {name: msgpack.packb(events) for name, events in recordings.items()}
    times: dict[str, list[float]] = {name: [] for name in CORPUS}
    # Rounds interleave the recordings, and each figure is the median of its rounds: on a
    # shared machine the CPU's speed drifts by up to 2x within a minute.
    for _ in range(ROUNDS):
        for name in CORPUS:
            fresh = msgpack.unpackb(packed[name])
            mirror = Mirror()
            started = time.perf_counter()
            for event in fresh:
                mirror.apply(event)
            times[name].append(time.perf_counter() - started)
    total_events = total_bytes = 0
    total_seconds = 0.0
    print(
        f"{'recording':10} {'events':>7} {'MB':>6} {'events/s':>10} {'MB/s':>7} {'keyframe ms':>12}"
    )
    for name, events in recordings.items():
        size = len(json.dumps(events, separators=(",", ":")))
        seconds = statistics.median(times[name])
        mirror = Mirror()
        for event in msgpack.unpackb(packed[name]):
            mirror.apply(event)
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
