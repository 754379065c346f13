"""The exactly-once store: racing writers, gaps with their times, the byte limit."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import IntegrityError, connection

from ingest.commit import CommitRequest, Committed, commit_batches, commit_many
from ingest.plan import GapClaim, Received
from replay.codec import pack_batch
from replay.models import Gap, Segment, Session
from replay.segments import iter_events
from replay.storage import get_storage
from tests.stored import objects_holding
from tests.support import batches_of, load_recording, start_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]
LIMIT = 10**9


def start(project: Any, session_id: str) -> None:
    start_session(project, session_id)


def received(parts: list[list[dict[str, Any]]], seqs: Iterable[int]) -> list[Received]:
    return [Received(pack_batch(seq, parts[seq]), 100) for seq in seqs]


def test_racing_writers_store_each_batch_once(alices_shop):
    """Connections, beacons and resends carry overlapping batches at the same time."""
    start(alices_shop, "session-race-001")
    events = load_recording("spa")
    parts = batches_of(events, 5)
    errors = []

    def write(seed):
        # A client's view: resend everything from what it last saw acknowledged (which
        # lags behind the server) up to what it has recorded so far.
        rng = random.Random(seed)
        seen = -1
        try:
            for end in range(3, len(parts) + 4, rng.randint(2, 6)):
                seqs = range(max(0, seen - rng.randint(0, 4)), min(end, len(parts)))
                result = commit_batches(
                    "session-race-001",
                    received(parts, seqs),
                    get_storage(),
                    max_session_bytes=LIMIT,
                )
                seen = result.acked
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    plans = range(6)
    threads = [threading.Thread(target=write, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session = Session.objects.get(pk="session-race-001")
    assert list(iter_events(session, get_storage())) == events
    assert session.event_count == len(events)
    assert session.acked_seq == len(parts) - 1
    assert not Gap.objects.filter(session=session).exists()
    # Each batch is stored once: the parts of lost races are overwritten with zeros.
    storage = get_storage()
    indexed = Segment.objects.filter(session=session)
    everything = b"".join(storage.get(key) or b"" for key in storage.list_keys(""))
    assert everything.count(b"session-race-001") == indexed.count()


def test_gaps_carry_the_time_around_them_and_adjacent_ones_join(alices_shop):
    start(alices_shop, "session-gaps-002")
    events = load_recording("routes")
    parts = batches_of(events, 5)
    store = get_storage()
    commit_batches("session-gaps-002", received(parts, [0]), store, max_session_bytes=LIMIT)
    # The recorder reports 1-2 dropped, then 3 too, in separate commits; 4 arrives later.
    commit_batches(
        "session-gaps-002", [], store, [GapClaim(1, 2, "offline")], max_session_bytes=LIMIT
    )
    commit_batches(
        "session-gaps-002", [], store, [GapClaim(3, 3, "offline")], max_session_bytes=LIMIT
    )
    commit_batches("session-gaps-002", received(parts, [4, 7]), store, max_session_bytes=LIMIT)
    gaps = list(Gap.objects.filter(session_id="session-gaps-002").order_by("seq_start"))
    assert [(g.seq_start, g.seq_end, g.reason) for g in gaps] == [
        (1, 3, "client-dropped"),
        (5, 6, "sequence-hole"),
    ]
    last_of_0 = max(e["timestamp"] for e in parts[0])
    assert (gaps[0].start_ms, gaps[0].end_ms) == (last_of_0, min(e["timestamp"] for e in parts[4]))
    assert (gaps[1].start_ms, gaps[1].end_ms) == (
        max(e["timestamp"] for e in parts[4]),
        min(e["timestamp"] for e in parts[7]),
    )
    session = Session.objects.get(pk="session-gaps-002")
    assert session.missing_batches == 5
    assert session.completeness == pytest.approx(3 / 8)
    assert not session.gap_open


def test_the_byte_limit_cuts_the_session_where_it_is_passed(alices_shop):
    start(alices_shop, "session-limit-01")
    parts = batches_of(load_recording("checkout"), 20)
    store = get_storage()
    result = commit_batches(
        "session-limit-01", received(parts, range(5)), store, max_session_bytes=350
    )
    assert result.acked == 4
    assert "350 bytes" in result.cut_reason
    assert Segment.objects.get(session_id="session-limit-01").seq_end == 2  # 3 x 100 bytes fit
    later = commit_batches("session-limit-01", received(parts, [5]), store, max_session_bytes=350)
    assert (later.acked, later.cut_reason) == (4, result.cut_reason)
    gap = Gap.objects.get(session_id="session-limit-01")
    assert (gap.seq_start, gap.seq_end, gap.reason) == (3, 4, "session-limit")
    assert Session.objects.get(pk="session-limit-01").completeness == 1.0


def test_one_round_absorbs_duplicates_and_a_failing_session_fails_alone(
    alices_shop, segment_folder
):
    """A takeover puts the same batches of a session twice into one round, and one
    session's index row clashes with a stale one. That one fails alone; every other
    session of the round is stored."""
    for name in ("session-twice-01", "session-other-01", "session-stale-1"):
        start(alices_shop, name)
    parts = batches_of(load_recording("checkout"), 10)
    Segment.objects.create(  # an index row nothing moved acked_seq past
        session_id="session-stale-1",
        seq_start=0,
        seq_end=0,
        event_count=1,
        received_bytes=1,
        size=1,
        key="stale",
    )
    requests = [
        CommitRequest("session-twice-01", received(parts, [0, 1, 2])),
        CommitRequest("session-other-01", received(parts, [0, 1])),
        CommitRequest("session-twice-01", received(parts, [1, 2, 3])),
        CommitRequest("session-stale-1", received(parts, [0])),
    ]
    results = commit_many(requests, get_storage(), max_session_bytes=LIMIT)

    assert results[0] == results[2] == Committed(3)
    assert results[1] == Committed(1)
    assert isinstance(results[3], IntegrityError)
    twice = Session.objects.get(pk="session-twice-01")
    assert list(iter_events(twice, get_storage())) == [e for p in parts[:4] for e in p]
    assert Segment.objects.filter(session=twice).count() == 1
    other = Session.objects.get(pk="session-other-01")
    assert list(iter_events(other, get_storage())) == parts[0] + parts[1]
    assert Session.objects.get(pk="session-stale-1").acked_seq == -1
    # The stale clash left nothing behind: a failed index erases what it wrote.
    assert objects_holding(get_storage(), "session-stale-1") == []
