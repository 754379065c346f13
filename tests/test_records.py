"""Event-tracking records stored per session (replay/records.py): computed by the
keyframer's pass once a session goes quiet, replaced whole when computed again
(`manage.py reprocess`), read through the API, and gone with their session."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from ingest.keyframer import advance, due
from replay.models import Session, TrackedEvent, TrackingCheckpoint
from replay.records import track_session
from replay.segments import delete_session, session_prefix
from replay.storage import get_storage
from tests.stored import objects_holding, store_at_pace
from tests.support import load_recording
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db

SESSION = "session-records-01"


@pytest.fixture
def checkout(alices_shop):
    store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    return Session.objects.select_related("project").get(pk=SESSION)


def as_user(username: str) -> dict[str, Any]:
    return dict(bearer(token_for(username)))


def friction(session_id: str = SESSION) -> list[tuple[str, str]]:
    rows = TrackedEvent.objects.filter(session_id=session_id, kind="friction").order_by("ts")
    return [(row.name, row.selector) for row in rows]


def test_records_are_stored_once_however_often_they_are_computed(checkout):
    first = track_session(checkout, get_storage())
    assert first.friction == 3
    assert first.score == 2 + 3 + 2  # dead, rage, dead
    again = track_session(checkout, get_storage())
    assert again == first
    assert TrackedEvent.objects.filter(session=checkout).count() == first.records
    assert friction() == [
        ("dead_click", "#buy"),
        ("rage_click", "#buy"),
        ("dead_click", "#buy"),
    ]
    session = Session.objects.get(pk=SESSION)
    assert (session.friction_count, session.friction_score) == (3, 7.0)
    assert session.tracked_seq == session.acked_seq
    custom = TrackedEvent.objects.get(session=checkout, kind="custom")
    assert (custom.name, custom.data["props"]["order"]) == ("purchase", "HS-10427")
    clicks = TrackedEvent.objects.filter(session=checkout, kind="click", selector="#buy")
    assert clicks.count() == 7
    assert {c.text for c in clicks} == {"Buy now"}


def test_the_keyframers_pass_computes_them_soon_and_again_once_the_session_goes_quiet(
    checkout,
):
    assert SESSION in due([], interval_ms=10**9)  # never tracked: at the next pass
    advance(SESSION, get_storage(), interval_ms=10**9)
    assert len(friction()) == 3
    assert SESSION not in due([], interval_ms=10**9)  # nothing new since
    # More batches arrive while it records: not before it goes quiet (or two minutes).
    more = {"acked_seq": checkout.acked_seq + 1, "updated_at": timezone.now()}
    Session.objects.filter(pk=SESSION).update(**more)
    assert SESSION not in due([], interval_ms=10**9)
    Session.objects.filter(pk=SESSION).update(updated_at=timezone.now() - timedelta(seconds=30))
    assert SESSION in due([], interval_ms=10**9)
    Session.objects.filter(pk=SESSION).update(
        updated_at=timezone.now(), tracked_at=timezone.now() - timedelta(minutes=3)
    )
    assert SESSION in due([], interval_ms=10**9)


def test_the_api_lists_records_with_links_just_before_them(checkout, django_user_model):
    track_session(checkout, get_storage())
    response = Client().get(f"/api/sessions/{SESSION}/tracked", **as_user("alice"))
    assert response.status_code == 200
    body = response.json()
    assert body["complete"] is True
    rage = next(r for r in body["records"] if r["name"] == "rage_click")
    assert rage["kind"] == "friction"
    assert rage["detector"] == "rage_click@1"
    assert rage["t"] == pytest.approx(22.653)
    assert rage["link"].endswith(f"/sessions/{SESSION}?t=21.7")
    assert rage["data"]["clicks"] == 5
    kinds = {r["kind"] for r in body["records"]}
    assert kinds == {"pageview", "click", "input", "custom", "scroll", "friction", "console"}
    # The page's console.warn, recorded by rrweb's console plugin, is a console record.
    warning = next(r for r in body["records"] if r["kind"] == "console")
    assert warning["data"]["level"] == "warn"
    assert warning["data"]["message"] == "checkout: invalid email 13"
    assert all("Jane" not in str(r) for r in body["records"] if r["kind"] == "input")
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    outsider = Client().get(f"/api/sessions/{SESSION}/tracked", **as_user("mallory"))
    assert outsider.status_code == 404


def test_a_long_sessions_records_come_in_pages_of_the_kinds_asked_for(checkout):
    session = checkout
    track_session(session, get_storage())
    start = session.first_event_ms or 0
    TrackedEvent.objects.bulk_create(
        TrackedEvent(
            project=session.project,
            session=session,
            ts=start + 10 * i,
            kind="scroll" if i % 3 else "click",
            url="https://shop.alice.example/",
        )
        for i in range(2400)
    )
    everything = list(
        TrackedEvent.objects.filter(session=session).order_by("ts", "id").values_list("kind", "ts")
    )
    client = Client()
    url: str | None = f"/api/sessions/{SESSION}/tracked?limit=1000"
    got: list[dict[str, Any]] = []
    pages = 0
    while url:
        body = client.get(url, **as_user("alice")).json()
        assert len(body["records"]) <= 1000
        got += body["records"]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert [(r["kind"], r["ts"]) for r in got] == everything
    clicks = client.get(
        f"/api/sessions/{SESSION}/tracked?kind=click,friction&limit=5000", **as_user("alice")
    ).json()
    assert {r["kind"] for r in clicks["records"]} == {"click", "friction"}
    assert len(clicks["records"]) == sum(kind in ("click", "friction") for kind, _ in everything)
    assert clicks["next"] is None
    default = client.get(f"/api/sessions/{SESSION}/tracked", **as_user("alice")).json()
    assert len(default["records"]) == 1000
    assert default["next"]
    for bad in ("kind=clicks", "limit=0", "limit=5001", "offset=-1"):
        answer = client.get(f"/api/sessions/{SESSION}/tracked?{bad}", **as_user("alice"))
        assert answer.status_code == 400, bad
        assert answer.json()["error"]


def test_reprocess_applies_a_projects_new_thresholds(checkout, alices_shop):
    track_session(checkout, get_storage())
    alices_shop.friction_thresholds = {"rage_click": {"clicks": 6}}
    alices_shop.full_clean()
    alices_shop.save()
    out = StringIO()
    call_command("reprocess", "--project", alices_shop.name, stdout=out)
    assert "Reprocessed 1 sessions" in out.getvalue()
    assert friction() == [("dead_click", "#buy"), ("dead_click", "#buy")]
    call_command("reprocess", "--since", "2000-01-01T00:00Z", stdout=StringIO())
    assert len(friction()) == 2  # the same again
    with pytest.raises(CommandError, match="with a zone"):
        call_command("reprocess", "--since", "2026-01-01")
    with pytest.raises(CommandError, match="no project"):
        call_command("reprocess", "--project", "nobody's")


@pytest.mark.parametrize(
    "thresholds",
    [
        {"rage": {"clicks": 3}},
        {"rage_click": {"taps": 3}},
        {"rage_click": {"clicks": 0}},
        {"rage_click": 3},
        [],
    ],
)
def test_thresholds_a_detector_cannot_use_are_refused(alices_shop, thresholds):
    from django.core.exceptions import ValidationError

    alices_shop.friction_thresholds = thresholds
    with pytest.raises(ValidationError) as refused:
        alices_shop.full_clean()
    assert "friction_thresholds" in refused.value.message_dict


def test_records_go_with_their_session(checkout):
    track_session(checkout, get_storage())
    assert TrackedEvent.objects.exists()
    delete_session(checkout, get_storage())
    assert not TrackedEvent.objects.exists()


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [s["id"] for s in response.json()["sessions"]]


def test_sessions_are_found_by_what_happened_in_them(checkout, alices_shop):
    from tests.test_tracking import custom, meta, snapshot

    store_at_pace(alices_shop, "session-records-calm", load_recording("article"))
    broken = [
        meta(1_700_000_000_000, "https://shop.example/"),
        snapshot(1_700_000_000_000, "Shop", []),
        custom(1_700_000_001_000, "replay/error", {"kind": "error", "message": "TypeError: x"}),
    ]
    store_at_pace(alices_shop, "session-records-error", broken)
    for session in Session.objects.select_related("project"):
        track_session(session, get_storage())

    def find(query: str) -> list[str]:
        return ids(Client().get(f"/api/sessions?{query}", **as_user("alice")))

    assert find("friction=rage_click") == [SESSION]
    assert find("friction=any") == [SESSION]
    assert find("friction=quick_back") == []
    assert find("clicked=%23buy") == [SESSION]
    assert find("clicked=buy%20now") == [SESSION]
    assert find("clicked=%23nothing") == []
    # A CSS selector, matched against each click's element and its ancestors.
    assert find("clicked=form%20button.primary") == [SESSION]
    assert find("clicked=%23checkout-form%20%3E%20div%20%3E%20button") == [SESSION]
    assert find("clicked=aside%20button") == []
    assert find("event=purchase") == [SESSION]
    assert find("event=refund") == []
    assert find("error=typeerror") == ["session-records-error"]
    # The most friction first, whatever the order of recording.
    assert find("sort=friction")[0] == SESSION
    assert find("sort=newest")[0] != SESSION
    bad = Client().get("/api/sessions?friction=grumpy", **as_user("alice"))
    assert bad.status_code == 400
    assert "rage_click" in bad.json()["error"]
    assert Client().get("/api/sessions?sort=loudest", **as_user("alice")).status_code == 400
    summary = Client().get(f"/api/sessions/{SESSION}", **as_user("alice")).json()
    assert (summary["friction_count"], summary["friction_score"]) == (3, 7.0)


def test_the_session_list_shows_and_filters_friction(checkout, alice):
    track_session(checkout, get_storage())
    client = Client()
    client.force_login(alice)
    page = client.get("/sessions?friction=rage_click&sort=friction").content.decode()
    assert f"/sessions/{SESSION}" in page
    assert 'class="num friction some"' in page
    assert '<option value="rage_click" selected>Rage click</option>' in page
    empty = client.get("/sessions?friction=quick_back").content.decode()
    assert f"/sessions/{SESSION}" not in empty


def test_records_across_sessions_as_json_pages_or_csv(checkout, django_user_model):
    import csv
    import io

    track_session(checkout, get_storage())

    def get(query: str, user: str = "alice") -> Any:
        return Client().get(f"/api/events?{query}", **as_user(user))

    friction = get("kind=friction").json()
    assert [e["name"] for e in friction["events"]] == ["dead_click", "rage_click", "dead_click"]
    assert friction["next"] is None
    first = friction["events"][0]
    assert first["session"] == SESSION
    assert first["project"] == "Alice's shop"
    assert first["link"].endswith(f"/sessions/{SESSION}?t=19.8")
    assert len(get("kind=click&selector=%23buy").json()["events"]) == 7
    assert len(get("kind=custom,identify&name=purchase").json()["events"]) == 1
    assert get("url=nowhere.example").json()["events"] == []
    assert get("since=2100-01-01T00:00Z").json()["events"] == []
    paged = get("kind=click&limit=5").json()
    assert len(paged["events"]) == 5
    assert "offset=5" in paged["next"]

    exported = get("kind=friction&format=csv")
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [row["name"] for row in rows] == ["dead_click", "rage_click", "dead_click"]
    assert rows[1]["selector"] == "#buy"
    assert 'rel="next"' in get("kind=click&limit=5&format=csv")["Link"]

    assert get("kind=mood").status_code == 400
    assert get("limit=5000").status_code == 400
    assert get("format=xml").status_code == 400
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    assert get("kind=friction", user="mallory").json()["events"] == []


def test_a_large_session_is_computed_less_often_while_it_records(checkout):
    from replay.records import LARGE_BYTES

    track_session(checkout, get_storage())
    busy = {"acked_seq": checkout.acked_seq + 1, "updated_at": timezone.now()}
    three_minutes = timezone.now() - timedelta(minutes=3)
    Session.objects.filter(pk=SESSION).update(**busy, tracked_at=three_minutes)
    assert SESSION in due([], interval_ms=10**9)
    Session.objects.filter(pk=SESSION).update(stored_bytes=LARGE_BYTES)
    assert SESSION not in due([], interval_ms=10**9)  # 20 minutes for this one
    Session.objects.filter(pk=SESSION).update(tracked_at=timezone.now() - timedelta(minutes=21))
    assert SESSION in due([], interval_ms=10**9)


def test_a_checkpoint_is_kept_in_the_database_and_goes_with_its_session(checkout):
    track_session(checkout, get_storage())
    assert TrackingCheckpoint.objects.filter(session=checkout).exists()
    assert objects_holding(get_storage(), SESSION) != []  # its segments, not a checkpoint
    assert not any(key.startswith(session_prefix(SESSION)) for key in get_storage().list_keys(""))
    delete_session(checkout, get_storage())
    assert not TrackingCheckpoint.objects.exists()
