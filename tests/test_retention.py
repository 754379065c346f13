"""Retention and deletion, on both storage backends: `manage.py purge` deletes sessions
older than their project keeps them, with every object and row, and objects no row
points to; `manage.py forget` and the API delete everything of one of the site's users.
What is kept stays whole."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from ingest.commit import commit_batches
from ingest.plan import Received
from ingest.scan import scan_events
from replay.codec import pack_batch
from replay.keyframes import advance_keyframes
from replay.models import Keyframe, Project, Segment, Session
from replay.segments import iter_events, session_prefix
from replay.storage import Storage, StorageError, get_storage
from tests.stored import objects_holding
from tests.support import load_recording, record, start_session
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().strip()


def age(session_id: str, days: float) -> None:
    """Make a session look as if it last recorded `days` ago."""
    when = timezone.now() - timedelta(days=days)
    Session.objects.filter(pk=session_id).update(updated_at=when)


def keys(storage: Storage, session_id: str) -> list[str]:
    return list(storage.list_keys(session_prefix(session_id)))


def test_purge_deletes_what_outlived_its_retention_and_nothing_else(storage, alices_shop):
    weekly = Project.objects.create(
        name="Weekly", retention_days=7, allowed_origins=["*"], scrub=False
    )
    forever = Project.objects.create(
        name="Forever", retention_days=0, allowed_origins=["*"], scrub=False
    )
    kept = {
        "session-keep-recent": (alices_shop, 29),  # the default, 30 days
        "session-keep-forever": (forever, 4000),
        "session-keep-weekly": (weekly, 6),
    }
    gone = {"session-gone-default": (alices_shop, 31), "session-gone-weekly": (weekly, 8)}
    exports = {}
    for session_id, (project, days) in {**kept, **gone}.items():
        exports[session_id] = record(project, session_id, "spa")
        session = Session.objects.get(pk=session_id)
        advance_keyframes(session, storage, interval_ms=10_000)
        age(session_id, days)
    assert Keyframe.objects.filter(session_id="session-gone-default").exists()
    # Objects no row points to: a session with no row, an idle session's unindexed
    # object, and a live session's unindexed object (a write in flight: kept).
    storage.put("sessions/session-ghost/000000000000-000000000003.seg", b"ghost")
    storage.put(f"{session_prefix('session-keep-recent')}000000009999.key", b"crashed")
    record(alices_shop, "session-live", "routes")
    storage.put(f"{session_prefix('session-live')}000000009999.key", b"in flight")

    # A pack whose row is gone (a removal that stopped half way).
    storage.put("packs/round/2026-01-01/0123456789abcdef01234567.rnd", b"left over")

    assert run("purge", "--dry-run") == "Would delete 2 sessions and 3 orphan objects."
    assert run("purge") == (
        "Deleted 2 sessions, 3 orphan objects and 0 packs nothing pointed into."
    )

    for session_id in gone:
        assert not Session.objects.filter(pk=session_id).exists()
        assert not Segment.objects.filter(session_id=session_id).exists()
        assert not Keyframe.objects.filter(session_id=session_id).exists()
        assert keys(storage, session_id) == []
        assert objects_holding(storage, session_id) == []
    assert keys(storage, "session-ghost") == []
    assert list(storage.list_keys("packs/round/2026-01-01/")) == []
    for session_id in kept:
        session = Session.objects.get(pk=session_id)
        assert list(iter_events(session, storage)) == exports[session_id]
        indexed = set(Segment.objects.filter(session=session).values_list("key", flat=True))
        indexed |= set(Keyframe.objects.filter(session=session).values_list("key", flat=True))
        own = {key for key in indexed if key.startswith(session_prefix(session_id))}
        assert set(keys(storage, session_id)) == own  # the crashed write went too
    assert f"{session_prefix('session-live')}000000009999.key" in keys(storage, "session-live")
    # Running again finds nothing more to do.
    assert run("purge") == "Deleted 0 sessions, 0 orphan objects and 0 packs nothing pointed into."


def test_forget_deletes_every_session_of_one_user(storage, client, alice, alices_shop, bobs_blog):
    record(alices_shop, "session-u42-a", "routes", user="user-42")
    record(alices_shop, "session-u42-b", "article", user="user-42")
    record(bobs_blog, "session-u42-bob", "routes", user="user-42")
    record(alices_shop, "session-u7", "routes", user="user-7")

    # Through the API, in the projects the caller sees: Alice's shop, not Bob's blog.
    response = client.delete("/api/users/user-42/sessions", **bearer(token_for("alice")))
    assert response.status_code == 200
    assert response.json() == {"user_id": "user-42", "deleted": 2}
    assert set(Session.objects.values_list("pk", flat=True)) == {"session-u42-bob", "session-u7"}
    # No object holds anything of theirs: not their own objects, and not the packs
    # they shared with other sessions (overwritten with zeros there).
    assert objects_holding(storage, "session-u42-a") == []
    assert objects_holding(storage, "session-u42-b") == []
    assert objects_holding(storage, "session-u7") != []

    # From the command line, everywhere.
    assert run("forget", "user-42") == "Deleted 1 sessions of user 'user-42'."
    assert list(Session.objects.values_list("pk", flat=True)) == ["session-u7"]
    assert objects_holding(storage, "session-u42-bob") == []
    assert objects_holding(storage, "session-u7") != []
    u7 = Session.objects.get(pk="session-u7")
    assert list(iter_events(u7, storage)) == load_recording("routes")
    assert run("forget", "user-42") == "Deleted 0 sessions of user 'user-42'."


def test_forget_only_in_the_projects_named(alices_shop, bobs_blog):
    record(alices_shop, "session-u9-a", "routes", user="user-9")
    record(bobs_blog, "session-u9-b", "routes", user="user-9")
    assert run("forget", "user-9", "--project", "Bob's blog") == (
        "Deleted 1 sessions of user 'user-9'."
    )
    assert list(Session.objects.values_list("pk", flat=True)) == ["session-u9-a"]


def test_purge_deletes_sessions_that_never_stored_anything(alices_shop, segment_folder):
    # One session said hello and every commit of it failed (storage's folder could not
    # be made), another said hello and went away; a third stored its recording.
    start_session(alices_shop, "session-never-01")
    blocked = segment_folder / "packs"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_bytes(b"")  # a file where the folder of packs must go
    packed = pack_batch(0, load_recording("routes")[:5]).packed
    part = [Received.scanned(0, packed, scan_events(packed, max_events=100), 100)]
    with pytest.raises(StorageError):
        commit_batches("session-never-01", part, get_storage(), max_session_bytes=10**9)
    blocked.unlink()
    start_session(alices_shop, "session-never-02")
    events = record(alices_shop, "session-stored-01", "routes")
    assert Session.objects.get(pk="session-never-01").acked_seq == -1

    # A session lasts 12 hours at most: a day old and still empty, it never records.
    assert run("purge") == "Deleted 0 sessions, 0 orphan objects and 0 packs nothing pointed into."
    a_day_ago = timezone.now() - timedelta(days=1, minutes=1)
    Session.objects.update(created_at=a_day_ago, updated_at=a_day_ago)
    assert run("purge") == "Deleted 2 sessions, 0 orphan objects and 0 packs nothing pointed into."
    assert list(Session.objects.values_list("pk", flat=True)) == ["session-stored-01"]
    stored = Session.objects.get(pk="session-stored-01")
    assert list(iter_events(stored, get_storage())) == events
