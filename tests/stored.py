"""Storing recordings as ingest does at real pace, and looking at what storage holds
as a whole (for tests that prove data is gone)."""

from __future__ import annotations

from typing import Any

import msgpack

from replay.storage import Storage, get_storage
from tests.support import start_session


def store_at_pace(
    project: Any, session_id: str, events: list[dict[str, Any]], *, user: str | None = None
) -> list[dict[str, Any]]:
    """Store events as the server does at real pace: a batch per second of recording
    time, each committed in a round of its own (so a segment, a part of a round's pack,
    per second)."""
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch

    start_session(project, session_id, user=user)
    start = events[0]["timestamp"]
    seconds: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        seconds.setdefault(int((event["timestamp"] - start) // 1000), []).append(event)
    for seq, second in enumerate(sorted(seconds)):
        packed = pack_batch(seq, seconds[second]).packed
        received = Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))
        commit_batches(session_id, [received], get_storage(), max_session_bytes=10**9)
    return events


def objects_holding(storage: Storage, session_id: str) -> list[str]:
    """Every stored object that holds something of the session. Each stored segment,
    keyframe and block, whether an object of its own or a part of a pack, starts with a
    header naming its session (a msgpack string, in plain bytes): no object naming the
    session means no object holds anything of it."""
    wanted = msgpack.packb(session_id)
    return [key for key in storage.list_keys("") if wanted in (storage.get(key) or b"")]
