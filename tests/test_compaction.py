"""Compaction, on both storage backends: sessions stored a second at a time in commit
rounds' packs are rewritten into blocks that read back exactly, cost a fraction of the
bytes, load in pieces for the player, and leave no pack behind; deleting a user after
compaction leaves nothing of theirs in any object."""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from replay import deltas
from replay.codec import (
    Batch,
    block_batches,
    decode_segment,
    encode_segment,
    pack_batch,
)
from replay.compaction import compact
from replay.dictionaries import MIN_SAMPLES
from replay.keyframes import advance_keyframes, load_keyframe
from replay.models import (
    Dictionary,
    Keyframe,
    Pack,
    Segment,
    Session,
    TrackedEvent,
    TrackingCheckpoint,
)
from replay.packs import drop_unreferenced
from replay.records import track_session
from replay.segments import iter_events, read_segment, segment_key, session_prefix
from replay.storage import get_storage
from tests.stored import objects_holding, store_at_pace
from tests.support import load_recording, start_session
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("compact", *args, stdout=out)
    return out.getvalue().strip()


def age_packs(minutes: float) -> None:
    Pack.objects.update(created_at=timezone.now() - timedelta(minutes=minutes))


def test_a_long_session_compacts_into_blocks_that_read_back_exactly(
    storage, client, alice, alices_shop
):
    recording = load_recording("long-10min")  # a page load every two minutes
    events = [e for e in recording if e["timestamp"] < recording[0]["timestamp"] + 570_000]
    store_at_pace(alices_shop, "session-long-001", events)
    session = Session.objects.get(pk="session-long-001")
    before = session.stored_bytes
    rounds = set(Segment.objects.filter(session=session).values_list("key", flat=True))
    assert len(rounds) == Segment.objects.filter(session=session).count() > 500

    # The server's own pass leaves the last minutes of a live session waiting for more.
    compact(storage)
    blocks = list(Segment.objects.filter(session=session, compacted=True))
    assert blocks
    assert Segment.objects.filter(session=session, compacted=False).exists()

    assert run("--session", "session-long-001").startswith("Compacted 1 sessions")
    rows = list(Segment.objects.filter(session=session).order_by("seq_start"))
    assert all(row.compacted for row in rows)
    assert len(rows) == 2  # five minutes each
    assert list(iter_events(session, storage)) == events
    session.refresh_from_db()
    assert session.stored_bytes < before * 0.6
    assert session.segment_count == len(rows)
    assert sum(row.size for row in rows) == session.stored_bytes

    # Nothing points into the rounds' packs any more: they go once past their grace.
    assert drop_unreferenced(storage) == 0  # too young yet: a round may still be indexing
    age_packs(20)
    assert drop_unreferenced(storage) == len(rounds)
    assert [key for key in storage.list_keys("packs/") if key.startswith("packs/round/")] == []
    assert list(iter_events(session, storage)) == events

    # The player loads a block in pieces of about ten seconds, each exactly its batches.
    manifest = client.get(
        "/api/sessions/session-long-001/manifest", **bearer(token_for("alice"))
    ).json()
    pieces = manifest["segments"]
    assert len(pieces) > 40
    assert [p["seq_start"] for p in pieces[1:]] == [p["seq_end"] + 1 for p in pieces[:-1]]
    # Its page loads are where they were.
    loads = [e["timestamp"] for e in events if e["type"] == 4]
    assert [p["snapshot_ts"] for p in pieces if p["keyframe"]] == loads
    loaded: list[dict[str, Any]] = []
    for piece in pieces[:3] + pieces[-3:]:
        assert piece["last_ts"] - piece["first_ts"] < 20_000
        answer = client.get(piece["url"], **bearer(token_for("alice")))
        assert answer.status_code == 200
        loaded += answer.json()
        first = next(e for e in events if e["timestamp"] >= piece["first_ts"])
        assert answer.json()[0] == first
    whole = [e for p in pieces for e in client.get(p["url"], **bearer(token_for("alice"))).json()]
    assert whole == events

    # Twice is harmless.
    assert run("--all").startswith("Compacted 0 sessions")
    assert list(iter_events(session, storage)) == events


def test_forget_after_compaction_leaves_nothing_of_the_user_anywhere(storage, alices_shop):
    store_at_pace(alices_shop, "session-u42-x", load_recording("checkout"), user="user-42")
    store_at_pace(alices_shop, "session-u7-xy", load_recording("spa"), user="user-7")
    store_at_pace(alices_shop, "session-u42-y", load_recording("routes"), user="user-42")
    assert run("--all").startswith("Compacted 3 sessions")
    assert {r.key for r in Segment.objects.all()} == {
        key for key in storage.list_keys("packs/blocks/")
    }  # one pass, one pack, shared by the three sessions
    out = StringIO()
    call_command("forget", "user-42", stdout=out)
    assert objects_holding(storage, "session-u42-x") == []
    assert objects_holding(storage, "session-u42-y") == []
    kept = Session.objects.get(pk="session-u7-xy")
    assert list(iter_events(kept, storage)) == load_recording("spa")
    # A pack that holds nothing of anyone else goes whole.
    call_command("forget", "user-7", stdout=out)
    assert list(storage.list_keys("packs/blocks/")) == []
    assert not Pack.objects.filter(kind=Pack.Kind.BLOCKS).exists()


def test_a_redaction_after_compaction_rewrites_only_its_session(client, alice, alices_shop):
    storage = get_storage()
    store_at_pace(alices_shop, "session-red-001", load_recording("checkout"))
    store_at_pace(alices_shop, "session-red-002", load_recording("checkout"))
    run("--all")
    call_command(
        "redact",
        "--project",
        alices_shop.name,
        "--pattern",
        "Checkout",
        "--session",
        "session-red-001",
        stdout=StringIO(),
    )
    redacted = Session.objects.get(pk="session-red-001")
    assert "Checkout" not in str(list(iter_events(redacted, storage)))
    other = Session.objects.get(pk="session-red-002")
    assert list(iter_events(other, storage)) == load_recording("checkout")
    # The block it replaced is zeros in the shared pack: what holds the session now is
    # only what its rows point at.
    own = {row.key for row in Segment.objects.filter(session=redacted)}
    own |= {row.key for row in redacted.keyframes.all()}
    assert set(objects_holding(storage, "session-red-001")) == own
    assert not any(key.startswith(("packs/blocks/", "packs/round/")) for key in own)


def test_a_project_with_enough_sessions_gets_a_dictionary_its_blocks_name(alices_shop):
    storage = get_storage()
    names = ["routes", "article", "checkout", "spa"]
    for index in range(12):
        store_at_pace(alices_shop, f"session-dict-{index:03d}", load_recording(names[index % 4]))
    run("--all")
    dictionary = Dictionary.objects.get(project=alices_shop)
    assert dictionary.samples >= MIN_SAMPLES
    assert storage.get(dictionary.key) is not None
    store_at_pace(alices_shop, "session-dict-new", load_recording("checkout"))
    run("--session", "session-dict-new")
    block = Segment.objects.get(session_id="session-dict-new")
    assert block.dictionary == dictionary
    assert read_segment(block, storage).header.dictionary == dictionary.key
    fresh = Session.objects.get(pk="session-dict-new")
    assert list(iter_events(fresh, storage)) == load_recording("checkout")


def test_node_ids_as_differences_read_back_exactly_even_when_hostile():
    events = load_recording("long-10min")[:2000]
    copied = copy.deepcopy(events)
    assert deltas.rewrite(copied)
    assert copied != events
    deltas.restore(copied)
    assert copied == events
    hostile: list[dict[str, Any]] = [
        {"type": 3, "data": {"id": 2**63 - 1, "parentId": True}},
        {"id": -(2**63)},
    ]
    batches = [Batch(0, copy.deepcopy(hostile)), Batch(1, events[:50])]
    packed, rewritten = block_batches(batches)
    assert not rewritten  # one batch could not be: none is
    block = encode_segment("session-x", packed, ids_delta=rewritten, level=3)
    assert decode_segment(block).batches == [Batch(0, hostile), Batch(1, events[:50])]


def test_a_complete_session_keeps_its_records_but_not_its_tracking_checkpoint(alices_shop):
    storage = get_storage()
    store_at_pace(alices_shop, "session-done-001", load_recording("checkout"))
    session = Session.objects.get(pk="session-done-001")
    track_session(session, storage)
    records = sorted(TrackedEvent.objects.filter(session=session).values_list("kind", "ts"))
    assert TrackingCheckpoint.objects.filter(session=session).exists()
    run("--all")  # just recorded: it may go on, so the checkpoint stays
    assert TrackingCheckpoint.objects.filter(session=session).exists()
    Session.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    compact(storage)
    assert not TrackingCheckpoint.objects.filter(session=session).exists()
    # Should it go on after all, tracking starts over and finds the same records.
    track_session(Session.objects.get(pk="session-done-001"), storage, whole=True)
    again = sorted(TrackedEvent.objects.filter(session=session).values_list("kind", "ts"))
    assert again == records


def test_segments_stored_before_packs_are_compacted_and_their_objects_removed(alices_shop):
    """Servers before packs wrote one object per flush under the session's folder; they
    are read as before, and compaction takes them in too."""
    storage = get_storage()
    events = load_recording("routes")
    start_session(alices_shop, "session-old-0001")
    parts = [events[:20], events[20:]]
    for seq, part in enumerate(parts):
        packed = pack_batch(seq, part)
        key = segment_key("session-old-0001", seq, seq)
        data = encode_segment("session-old-0001", [packed])
        storage.put(key, data)
        Segment.objects.create(
            session_id="session-old-0001",
            seq_start=seq,
            seq_end=seq,
            first_ts=packed.first_ts,
            last_ts=packed.last_ts,
            event_count=packed.count,
            received_bytes=len(packed.packed),
            size=len(data),
            key=key,
            keyframe=seq == 0,
            snapshot_ts=events[0]["timestamp"] if seq == 0 else None,
        )
    Session.objects.filter(pk="session-old-0001").update(acked_seq=1, segment_count=2)
    session = Session.objects.get(pk="session-old-0001")
    assert list(iter_events(session, storage)) == events
    assert run("--session", "session-old-0001").startswith("Compacted 1 sessions")
    assert list(storage.list_keys(session_prefix("session-old-0001"))) == []
    assert list(iter_events(session, storage)) == events
    assert Segment.objects.get(session=session).compacted


def test_a_finished_session_keeps_a_keyframe_a_minute_compressed_again(alices_shop):
    storage = get_storage()
    recording = load_recording("long-10min")
    events = [e for e in recording if e["timestamp"] < recording[0]["timestamp"] + 240_000]
    store_at_pace(alices_shop, "session-kf-0001", events)
    session = Session.objects.get(pk="session-kf-0001")
    advance_keyframes(session, storage, interval_ms=30_000)
    before = list(Keyframe.objects.filter(session=session).order_by("after_seq"))
    assert len(before) >= 7
    shown = {f.after_seq: load_keyframe(f, storage) for f in before}
    run("--all")
    after = list(Keyframe.objects.filter(session=session).order_by("after_seq"))
    assert all(f.compacted for f in after)
    assert 3 <= len(after) <= (len(before) + 1) // 2
    times = [f.timestamp for f in after]
    assert all(b - a >= 60_000 for a, b in itertools.pairwise(times))
    for frame in after:  # each reads back as the very keyframe it was
        assert load_keyframe(frame, storage) == shown[frame.after_seq]
    assert sum(f.size for f in after) < 0.7 * sum(f.size for f in before)
    # The player opens every moment from them as before.
    for frame in after:
        assert load_keyframe(frame, storage)[0]["type"] == 4  # a Meta, then the page


def test_a_session_whose_data_is_lost_does_not_stop_the_others(alices_shop):
    storage = get_storage()
    store_at_pace(alices_shop, "session-lost-001", load_recording("routes"))
    store_at_pace(alices_shop, "session-fine-001", load_recording("routes"))
    lost = Segment.objects.filter(session_id="session-lost-001").first()
    assert lost is not None
    storage.delete(lost.key)  # its round's pack, gone from storage
    said = run("--all")
    assert said.startswith("Compacted 1 sessions")
    assert "1 could not be read" in said
    fine = Session.objects.get(pk="session-fine-001")
    assert all(row.compacted for row in Segment.objects.filter(session=fine))
    assert list(iter_events(fine, storage)) == load_recording("routes")
    assert not Segment.objects.filter(session_id="session-lost-001", compacted=True).exists()
