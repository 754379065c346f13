"""A hostile page that adds nodes without end: what it costs the DOM mirror, which the
keyframer and the tracking pass build for every session.

A client within every ingest limit can add millions of nodes to a page: an add is about
60 bytes of msgpack, so 200 MB (a session's limit) holds over three million. This feeds
a mirror one page and then `--nodes` added nodes in mutations of 10,000 (a batch's most
events, each one add), as the keyframer would, and reports the nodes the mirror holds,
the time taken, the growth of the process's peak memory, and the events' size as stored
before compression.

    .venv/bin/python bench/node_flood.py [--nodes 2000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.analytics import peak_mb  # noqa: E402
from replay.mirror import Mirror, keyframe  # noqa: E402

BATCH = 10_000


def snapshot() -> dict[str, Any]:
    ul = {"type": 2, "tagName": "ul", "attributes": {}, "childNodes": [], "id": 10}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [ul], "id": 3}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [body], "id": 2}
    node = {"type": 0, "childNodes": [html], "id": 1}
    return {"type": 2, "timestamp": 0, "data": {"node": node, "initialOffset": {}}}


def mutation(first: int, count: int) -> dict[str, Any]:
    adds = [
        {
            "parentId": 10,
            "nextId": None,
            "node": {"type": 2, "tagName": "li", "attributes": {}, "childNodes": [], "id": n},
        }
        for n in range(first, first + count)
    ]
    data = {"source": 0, "adds": adds, "removes": [], "texts": [], "attributes": []}
    return {"type": 3, "timestamp": first, "data": data}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=2_000_000)
    args = parser.parse_args()
    before = peak_mb()
    mirror = Mirror()
    mirror.apply(snapshot())
    stored = 0
    started = time.perf_counter()
    for first in range(100, 100 + args.nodes, BATCH):
        event = mutation(first, min(BATCH, 100 + args.nodes - first))
        stored += len(msgpack.packb(event))
        mirror.apply(event)
    elapsed = time.perf_counter() - started
    written = keyframe(mirror, 1) is not None
    print(f"{args.nodes:,} nodes added: {stored / 1e6:.0f} MB of events (msgpack, uncompressed)")
    print(f"the mirror holds {len(mirror.nodes):,} nodes; a keyframe written: {written}")
    print(f"skipped: {dict(mirror.skipped)}")
    print(f"{elapsed:.1f} s (packing the events to size them included)")
    print(f"peak memory +{peak_mb() - before:.0f} MB")


if __name__ == "__main__":
    main()
