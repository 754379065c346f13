"""Records computed pass by pass while a session records (replay/records.py): each pass
reads only what is new and ends where one computation from the start would, and passes
that race (threads of one process, two server processes) store each record once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ingest.keyframer import advance
from replay.models import Segment, Session, TrackedEvent
from replay.records import track_session
from replay.storage import get_storage
from tests.stored import store_at_pace
from tests.support import load_recording
from tests.test_records import SESSION, friction

pytestmark = pytest.mark.django_db


def rows(session_id: str) -> list[tuple[Any, ...]]:
    found = TrackedEvent.objects.filter(session_id=session_id).order_by("ts", "kind", "id")
    return sorted(
        (r.kind, r.ts, r.name, r.selector, json.dumps(r.data, sort_keys=True)) for r in found
    )


def store_more(session_id: str, events: list[dict[str, Any]], per_batch: int = 40) -> None:
    """More batches for a session, as ingest commits them."""
    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch

    seq = Session.objects.get(pk=session_id).acked_seq + 1
    for offset in range(0, len(events), per_batch):
        packed = pack_batch(seq, events[offset : offset + per_batch]).packed
        received = Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))
        commit_batches(session_id, [received], get_storage(), max_session_bytes=10**9)
        seq += 1


def test_passes_feed_only_what_is_new_and_agree_with_computing_from_the_start(alices_shop):
    events = load_recording("checkout")
    cut = events[0]["timestamp"] + 24_000
    early = [e for e in events if e["timestamp"] < cut]
    rest = [e for e in events if e["timestamp"] >= cut]
    for session_id in ("session-records-step", "session-records-once"):
        store_at_pace(alices_shop, session_id, early)
    step = Session.objects.select_related("project").get(pk="session-records-step")
    first = track_session(step, get_storage())
    # The dead click at 20.8 s and the rage click at 22.7 s; whether that burst was dead
    # is not known before 25.2 s.
    assert first.friction == 2
    assert TrackedEvent.objects.filter(session=step, data__provisional=True).exists()

    # What the first pass read is gone from storage: the next pass must not need it.
    tracked = Session.objects.get(pk=step.pk).tracked_seq
    for row in Segment.objects.filter(session=step, seq_end__lte=tracked):
        get_storage().delete(row.key)
    for session_id in ("session-records-step", "session-records-once"):
        store_more(session_id, rest)
    later = track_session(step, get_storage())
    assert later.friction == 3

    once = Session.objects.select_related("project").get(pk="session-records-once")
    assert track_session(once, get_storage()) == later
    assert rows("session-records-step") == rows("session-records-once")
    assert not TrackedEvent.objects.filter(
        session=step, kind="pageview", data__provisional=True
    ).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.scaleout
def test_passes_racing_on_one_session_store_its_records_once(alices_shop):
    """Every process's keyframer looks at every session stored to lately. A process
    holds a session while it computes (another leaves it alone), and should two passes
    still race, the one that comes second adds nothing."""
    import threading

    from django.db import connection

    from ingest.commit import commit_batches
    from ingest.plan import Received
    from ingest.scan import scan_events
    from replay.codec import pack_batch

    events = load_recording("checkout")
    half = len(events) // 2
    store_at_pace(alices_shop, SESSION, events[:half])
    Session.objects.filter(pk=SESSION).update(derived_until=timezone.now() + timedelta(minutes=1))
    assert advance(SESSION, get_storage(), interval_ms=10**9) is None  # claimed elsewhere
    assert not TrackedEvent.objects.filter(session_id=SESSION).exists()
    Session.objects.filter(pk=SESSION).update(derived_until=timezone.now() - timedelta(seconds=1))
    track_session(Session.objects.get(pk=SESSION), get_storage())  # a checkpoint halfway
    seq = Session.objects.get(pk=SESSION).acked_seq + 1
    packed = pack_batch(seq, events[half:]).packed
    more = [Received.scanned(seq, packed, scan_events(packed, max_events=10**6), len(packed))]
    commit_batches(SESSION, more, get_storage(), max_session_bytes=10**9)

    errors: list[BaseException] = []
    ready = threading.Barrier(4)

    def race() -> None:
        try:
            session = Session.objects.get(pk=SESSION)
            ready.wait()  # all four read where the rows stood before any stores
            track_session(session, get_storage())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = TrackedEvent.objects.filter(session_id=SESSION).count()
    once = track_session(Session.objects.get(pk=SESSION), get_storage(), whole=True)
    assert stored == once.records
    assert len(friction()) == 3
    assert advance(SESSION, get_storage(), interval_ms=10**9) is not None  # free again


@pytest.mark.django_db(transaction=True)
@pytest.mark.scaleout
def test_two_server_processes_store_each_sessions_records_once(start_daphne, alices_shop):
    """Two Daphne processes share the database and storage, and both keyframers see the
    four sessions recording at once (two on each process). Once the sessions have
    records, more is recorded, and when they go quiet both processes find the same new
    records due at once: every session ends with the records one computation from the
    start gives, not one set of the new ones per process."""
    import time

    from tests.support import ResendingClient, batches_of

    servers = [start_daphne(REPLAY_KEYFRAME_SECONDS="1") for _ in range(2)]
    events = load_recording("long-10min")
    clients = [ResendingClient(servers[i % 2].ws_url, alices_shop.key) for i in range(4)]

    def record(part: list[dict[str, Any]]) -> None:
        for events in batches_of(part, 200):
            for client in clients:
                client.send(events)
            time.sleep(0.1)
        for client in clients:
            client.wait_until_acked(timeout=60)

    def settled(ids: list[str]) -> bool:
        """Whether the sessions' records cover all they stored and nobody computes."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            sessions = Session.objects.filter(pk__in=ids)
            if all(
                s.tracked_seq >= s.acked_seq
                and (s.derived_until is None or s.derived_until < timezone.now())
                for s in sessions
            ):
                time.sleep(2)  # a pass that raced the last one would have stored by now
                return True
            time.sleep(0.5)
        return False

    record(events[: len(events) // 2])
    ids = [client.session for client in clients]
    assert settled(ids), "the first records were not computed"
    record(events[len(events) // 2 :])
    for client in clients:
        client.close()
    assert settled(ids), "the records were not computed"
    stored = {i: TrackedEvent.objects.filter(session_id=i).count() for i in ids}
    for session_id in ids:
        session = Session.objects.select_related("project").get(pk=session_id)
        once = track_session(session, get_storage(), whole=True)
        assert stored[session_id] == once.records > 1000, session_id
