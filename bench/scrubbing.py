"""What scrubbing costs at ingest, in this process, on the real recordings of tests/fixtures
(the corpus and the 10-minute page) cut into batches as the recorder sends them.

- the byte-level pre-check (`Scrubber.needed`) over every batch: MB/s, beside the cost of
  decoding the same bytes with msgpack (the work it saves), and how many batches it lets
  through untouched (they hold nothing personal);
- a page's full snapshot with one email address in a text node, cleaned
  (`ingest.cleaning.clean_packed`: decoded, scrubbed, packed again), beside the same
  snapshot without it and beside msgpack's decode;
- hostile batches of 4 MB (the largest frame), a text of a million "://" and one of
  millions of letters an email address could start with, pre-checked and cleaned: what
  finds URLs and addresses in a text must cost one pass over it, not one per position.

    .venv/bin/python bench/scrubbing.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django
import msgpack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "replay.settings")
django.setup()

from ingest.cleaning import clean_packed  # noqa: E402
from replay.scrub import Scrubber  # noqa: E402
from tests.support import CORPUS, batches_of, load_recording  # noqa: E402


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def first_text(node: dict[str, Any]) -> dict[str, Any] | None:
    if node.get("type") == 3 and len(node.get("textContent", "")) > 3:
        return node
    for child in node.get("childNodes", []):
        found = first_text(child)
        if found is not None:
            return found
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scrubber = Scrubber()

    recordings = {name: load_recording(name) for name in [*CORPUS, "long-10min"]}
    batches = [
        msgpack.packb(events, use_bin_type=True)
        for recording in recordings.values()
        for events in batches_of(recording, 50)
    ]
    size = sum(len(packed) for packed in batches)
    check = best_of(args.repeat, lambda: [scrubber.needed(packed) for packed in batches])
    decode = best_of(args.repeat, lambda: [msgpack.unpackb(packed) for packed in batches])
    flagged = sum(scrubber.needed(packed) for packed in batches)
    print(f"pre-check over {len(batches)} batches ({size / 1e6:.1f} MB of msgpack):")
    print(f"  Scrubber.needed   {size / check / 1e6:8.0f} MB/s   {check * 1e3:7.1f} ms")
    print(f"  msgpack decode    {size / decode / 1e6:8.0f} MB/s   {decode * 1e3:7.1f} ms")
    print(f"  pre-check / decode: {check / decode:.2f}x")
    print(f"  batches let through untouched: {len(batches) - flagged} of {len(batches)}")

    snapshot = next(e for e in recordings["long-10min"] if e["type"] == 2)
    personal = copy.deepcopy(snapshot)
    node = first_text(personal["data"]["node"])
    assert node is not None
    node["textContent"] += " write to jane.roe@example.com"
    clean = msgpack.packb([snapshot], use_bin_type=True)
    dirty = msgpack.packb([personal], use_bin_type=True)
    assert b"jane.roe@example.com" not in clean_packed(dirty, scrubber)
    untouched = best_of(args.repeat, lambda: clean_packed(clean, scrubber))
    scrubbed = best_of(args.repeat, lambda: clean_packed(dirty, scrubber))
    decoded = best_of(args.repeat, lambda: msgpack.unpackb(dirty))
    print(f"a full snapshot of the 10-minute page ({len(dirty) / 1e3:.0f} KB of msgpack):")
    passed = "let through" if not scrubber.needed(clean) else "decoded: it holds a URL query"
    print(f"  without the email ({passed})  {untouched * 1e3:7.2f} ms")
    print(f"  one email, scrubbed                {scrubbed * 1e3:7.2f} ms")
    print(f"  msgpack decode alone               {decoded * 1e3:7.2f} ms")
    print(f"  scrubbed / decode: {scrubbed / decoded:.1f}x")

    hostile = {
        'a million "://"': "a://" * 1_000_000,
        'an email, then 4 million letters and an "@"': "jane@example.com " + "a" * 4_000_000 + "@",
    }
    for what, text in hostile.items():
        packed = msgpack.packb([{"type": 5, "data": {"tag": text}}])
        checked = best_of(args.repeat, lambda: scrubber.needed(packed))  # noqa: B023
        cleaned = best_of(args.repeat, lambda: clean_packed(packed, scrubber))  # noqa: B023
        print(f"a hostile batch, one text of {what} ({len(packed) / 1e6:.0f} MB of msgpack):")
        print(f"  Scrubber.needed                    {checked * 1e3:7.2f} ms")
        print(f"  cleaned                            {cleaned * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
