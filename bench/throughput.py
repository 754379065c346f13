"""Ingest throughput of one WebSocket session into each storage backend.

Starts a real Daphne process (SQLite in a temporary folder), creates a project with
`manage.py createproject`, and streams the corpus recordings from tests/fixtures
(repeated with shifted timestamps until there are N events) over one WebSocket, as fast
as acknowledgements allow. Reports events/s and MB/s (msgpack bytes on the wire, and the
same events as JSON) for the local folder and for S3 (moto's server on loopback), side by
side in one run; and, in this process, how fast `ingest.protocol.parse_frame` reads the
same frames (the scan, and the check that events hold only what JSON carries): the part
of an acknowledgement's path that grows with the bytes.

    .venv/bin/python bench/throughput.py [--events 50000] [--batch 200] [--window 16]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import msgpack
from websockets.sync.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embedded import start_embedded  # noqa: E402
from tests.support import CORPUS, free_port, load_recording  # noqa: E402

ORIGIN = "https://bench.example"


def workload(total: int) -> list[dict[str, Any]]:
    """Corpus activity, repeated with shifted timestamps, `total` events long."""
    events: list[dict[str, Any]] = []
    offset = 0
    while len(events) < total:
        for name in CORPUS:
            recording = load_recording(name)
            start = recording[0]["timestamp"]
            for event in recording:
                events.append({**event, "timestamp": event["timestamp"] - start + offset})
            offset = events[-1]["timestamp"] + 1000
    return events[:total]


def run_backend(
    name: str,
    storage_url: str,
    s3_endpoint: str | None,
    events: list[dict[str, Any]],
    batch_size: int,
    window: int,
) -> dict[str, Any]:
    embedded = start_embedded(name, ORIGIN, storage_url=storage_url, s3_endpoint=s3_endpoint)
    server, key = embedded.server, embedded.key
    batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
    frames = [
        msgpack.packb({"type": "batch", "seq": seq, "events": part})
        for seq, part in enumerate(batches)
    ]
    wire_bytes = sum(len(f) for f in frames)
    json_bytes = len(json.dumps(events, separators=(",", ":")))
    try:
        with connect(server.ws_url, origin=Origin(ORIGIN), max_size=None) as ws:
            hello = {
                "type": "hello",
                "key": key,
                "session": f"bench-{name}-session",
                "secret": "",
                "tab": "bench-tab-1",
                "acked": -1,
                "page": {"url": ORIGIN + "/"},
                "sdk": "bench",
            }
            ws.send(msgpack.packb(hello))
            msgpack.unpackb(ws.recv())
            started = time.perf_counter()
            acked = -1
            sent = 0
            while acked < len(frames) - 1:
                # Keep up to `window` batches in flight, as a recorder with a backlog does.
                while sent < len(frames) and sent - acked <= window:
                    ws.send(frames[sent])
                    sent += 1
                    if sent == len(frames):
                        # Store the tail now rather than at the next flush interval.
                        ws.send(msgpack.packb({"type": "end"}))
                frame = msgpack.unpackb(ws.recv(timeout=60))
                if frame["type"] != "ack":
                    raise RuntimeError(f"server said {frame}")
                acked = frame["seq"]
            elapsed = time.perf_counter() - started
    finally:
        server.stop()
    return {
        "backend": name,
        "events": len(events),
        "seconds": elapsed,
        "events_per_s": len(events) / elapsed,
        "wire_mb_per_s": wire_bytes / elapsed / 1e6,
        "json_mb_per_s": json_bytes / elapsed / 1e6,
    }


def parse_rate(frames: list[bytes], rounds: int = 7) -> float:
    """MB/s of frames through `parse_frame`, the best of `rounds` passes."""
    from ingest.protocol import parse_frame

    size = sum(len(frame) for frame in frames)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for frame in frames:
            parse_frame(frame, max_frame_bytes=64 * 1024 * 1024, max_events=10**6)
        best = min(best, time.perf_counter() - started)
    return size / best / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=200, help="events per batch frame")
    parser.add_argument("--window", type=int, default=16, help="unacknowledged batches in flight")
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")

    events = workload(args.events)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-segments-") as segments:
            results.append(
                run_backend("folder", f"file://{segments}", None, events, args.batch, args.window)
            )
        results.append(
            run_backend("s3", "s3://bench/segments", endpoint, events, args.batch, args.window)
        )
    finally:
        moto.stop()

    print(f"one session, {args.events} events, batches of {args.batch}, window {args.window}")
    print(f"{'backend':8} {'events/s':>10} {'wire MB/s':>10} {'JSON MB/s':>10} {'seconds':>8}")
    for r in results:
        rates = f"{r['events_per_s']:10.0f} {r['wire_mb_per_s']:10.2f} {r['json_mb_per_s']:10.2f}"
        print(f"{r['backend']:8} {rates} {r['seconds']:8.2f}")
    print(
        f"s3/folder events/s ratio: {results[1]['events_per_s'] / results[0]['events_per_s']:.2f}"
    )
    frames = [
        msgpack.packb({"type": "batch", "seq": seq, "events": events[i : i + args.batch]})
        for seq, i in enumerate(range(0, len(events), args.batch))
    ]
    print(f"parse_frame (scan and value check), in this process: {parse_rate(frames):.0f} MB/s")


if __name__ == "__main__":
    main()
