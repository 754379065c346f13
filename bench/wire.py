"""Bytes on the recorder's wire, side by side: the same batches as JSON, as plain
msgpack frames (protocol v1 without `encoding`), as compressed msgpack (`encoding:
deflate-raw`) and as compressed JSON text (`encoding: deflate-raw, format: json`, what
the recorder sends where the browser has CompressionStream), deflated at zlib's default
level as Chromium does, at real pace (a batch per second of recording, as the recorder
flushes) and in large batches.

    .venv/bin/python bench/wire.py [--recording long-10min|checkout|spa|routes|article]
"""

from __future__ import annotations

import argparse
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import msgpack

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def load(name: str) -> list[dict[str, Any]]:
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        with gzip.open(FIXTURES / f"{name}.json.gz") as file:
            return list(json.load(file))
    return list(json.loads(path.read_text()))


def batches(events: list[dict[str, Any]], every_ms: int) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    for event in events:
        if not found or event["timestamp"] - found[-1][0]["timestamp"] >= every_ms:
            found.append([])
        found[-1].append(event)
    return found


def deflated(data: bytes) -> bytes:
    writer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return writer.compress(data) + writer.flush()


def sizes(parts: list[list[dict[str, Any]]]) -> tuple[int, int, int, int]:
    as_json = plain = packed = text = 0
    for seq, events in enumerate(parts):
        as_json += len(json.dumps({"type": "batch", "seq": seq, "events": events}).encode())
        plain += len(msgpack.packb({"type": "batch", "seq": seq, "events": events}))
        frame = {"type": "batch", "seq": seq, "encoding": "deflate-raw"}
        packed += len(msgpack.packb({**frame, "events": deflated(msgpack.packb(events))}))
        # JSON.stringify writes no spaces.
        written = json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()
        text += len(msgpack.packb({**frame, "format": "json", "events": deflated(written)}))
    return as_json, plain, packed, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recording", default="long-10min")
    args = parser.parse_args()
    events = load(args.recording)
    print(f"{args.recording}: {len(events)} events, {len(json.dumps(events)) / 1e6:.2f} MB of JSON")
    print(
        f"{'batches':<22} {'count':>6} {'JSON MB':>8} {'msgpack':>8} {'deflated':>9}"
        f" {'deflated JSON (sent)':>21}"
    )
    for label, every in (("every second", 1000), ("every 10 seconds", 10_000)):
        parts = batches(events, every)
        as_json, plain, packed, text = sizes(parts)
        print(
            f"{label:<22} {len(parts):>6} {as_json / 1e6:>8.2f} {plain / as_json:>7.2f}x"
            f" {packed / as_json:>8.3f}x {text / as_json:>20.3f}x"
        )


if __name__ == "__main__":
    main()
