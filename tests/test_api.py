"""The JSON API: tokens, visibility, filters, the events export and deletion."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from django.core.management import call_command

from replay.models import Segment, Session
from replay.segments import iter_events
from replay.storage import get_storage
from tests.stored import objects_holding
from tests.support import load_recording, record

pytestmark = pytest.mark.django_db


def token_for(username: str) -> str:
    out: list[str] = []

    class Capture:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    call_command("createtoken", username, stdout=Capture())
    return "".join(out).strip().splitlines()[-1]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def export(client: Any, session_id: str, **headers: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions/{session_id}/events", **headers)
    assert response.status_code == 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sync test client drains an async stream
        return list(json.loads(b"".join(response)))


def test_the_export_returns_every_event_once_in_order(client, alice, alices_shop):
    events = record(alices_shop, "session-export-1", "checkout")
    assert export(client, "session-export-1", **bearer(token_for("alice"))) == events


def test_requests_without_credentials_get_401(client, alices_shop):
    record(alices_shop, "session-private1", "routes")
    for path in [
        "/api/sessions",
        "/api/sessions/session-private1",
        "/api/sessions/session-private1/events",
    ]:
        response = client.get(path)
        assert response.status_code == 401
        assert "error" in response.json()
    assert client.get("/api/sessions", **bearer("rt_forged")).status_code == 401


def test_outsiders_see_nothing_of_alices_sessions(client, alices_shop, mallory):
    record(alices_shop, "session-private2", "routes")
    token = token_for("mallory")
    assert client.get("/api/sessions", **bearer(token)).json()["sessions"] == []
    for path in ["/api/sessions/session-private2", "/api/sessions/session-private2/events"]:
        assert client.get(path, **bearer(token)).status_code == 404
    assert client.delete("/api/sessions/session-private2", **bearer(token)).status_code == 404
    assert Session.objects.filter(pk="session-private2").exists()


def test_list_is_newest_first_with_a_summary(client, alice, alices_shop):
    record(alices_shop, "session-older-01", "routes")
    events = record(alices_shop, "session-newer-01", "checkout", user="user-42")
    body = client.get("/api/sessions", **bearer(token_for("alice"))).json()
    assert [s["id"] for s in body["sessions"]] == ["session-newer-01", "session-older-01"]
    newest = body["sessions"][0]
    assert newest["user_id"] == "user-42"
    assert newest["event_count"] == len(events)
    assert newest["duration_ms"] == events[-1]["timestamp"] - events[0]["timestamp"]
    assert newest["page_count"] == len(newest["urls"]) == 2
    assert newest["replay_url"].endswith("/sessions/session-newer-01")
    assert body["next"] is None


def test_filters_and_pagination(client, alice, alices_shop):
    record(alices_shop, "session-filter-1", "routes", url="https://shop.alice.example/cart")
    record(
        alices_shop,
        "session-filter-2",
        "checkout",
        user="user-7",
        url="https://shop.alice.example/help",
    )
    record(alices_shop, "session-filter-3", "article", url="https://shop.alice.example/blog")
    auth = bearer(token_for("alice"))

    def ids(query: str) -> list[str]:
        return [s["id"] for s in client.get(f"/api/sessions?{query}", **auth).json()["sessions"]]

    assert ids("user=user-7") == ["session-filter-2"]
    assert ids("url=/blog") == ["session-filter-3"]
    assert ids("min_duration=20") == ["session-filter-3", "session-filter-2"]
    assert ids("max_duration=20") == ["session-filter-1"]
    assert ids("project=Nope") == []
    first = client.get("/api/sessions?limit=2", **auth).json()
    assert len(first["sessions"]) == 2
    assert first["next"]
    second = client.get(first["next"], **auth).json()
    assert [s["id"] for s in second["sessions"]] == ["session-filter-1"]
    assert client.get("/api/sessions?limit=0", **auth).status_code == 400
    assert client.get("/api/sessions?since=yesterday", **auth).status_code == 400


def test_detail_lists_segments_and_gaps(client, alice, alices_shop):
    record(alices_shop, "session-detail-1", "routes")
    body = client.get("/api/sessions/session-detail-1", **bearer(token_for("alice"))).json()
    assert body["id"] == "session-detail-1"
    assert body["segments"][0]["seq_start"] == 0
    assert body["segments"][-1]["seq_end"] == body["acked_seq"]
    assert body["gaps"] == []


def test_delete_removes_rows_and_stored_objects(client, alice, alices_shop, segment_folder):
    record(alices_shop, "session-delete-1", "routes")
    record(alices_shop, "session-keep-001", "routes")
    auth = bearer(token_for("alice"))
    assert client.delete("/api/sessions/session-delete-1", **auth).status_code == 204
    assert not Session.objects.filter(pk="session-delete-1").exists()
    assert not Segment.objects.filter(session_id="session-delete-1").exists()
    assert not (segment_folder / "sessions" / "session-delete-1").exists()
    assert objects_holding(get_storage(), "session-delete-1") == []
    keep = Session.objects.get(pk="session-keep-001")
    assert list(iter_events(keep, get_storage())) == load_recording("routes")
    assert client.get("/api/sessions/session-delete-1", **auth).status_code == 404


def test_browser_sessions_need_csrf_for_delete(alice, alices_shop):
    from django.test import Client

    record(alices_shop, "session-csrf-001", "routes")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/api/sessions/session-csrf-001").status_code == 200
    assert browser.delete("/api/sessions/session-csrf-001").status_code == 403
    assert Session.objects.filter(pk="session-csrf-001").exists()


def test_superusers_see_every_project(client, django_user_model, alices_shop, bobs_blog):
    django_user_model.objects.create_superuser("root", "", "root-password-1")
    record(alices_shop, "session-alice-01", "routes")
    record(bobs_blog, "session-bob-0001", "routes", url="https://bob.example/")
    ids = {
        s["id"] for s in client.get("/api/sessions", **bearer(token_for("root"))).json()["sessions"]
    }
    assert ids == {"session-alice-01", "session-bob-0001"}


def test_wrong_method_is_405(client, alice, alices_shop):
    response = client.post("/api/sessions", **bearer(token_for("alice")))
    assert response.status_code == 405
    assert response["Allow"] == "GET"


@pytest.mark.django_db(transaction=True)
def test_the_players_data_and_the_export_are_compressed_on_the_wire(daphne, alice, alices_shop):
    """JSON answers go gzipped to a browser that takes gzip, streamed exports too."""
    import urllib.request
    import zlib

    from replay.keyframes import advance_keyframes
    from replay.models import ApiToken, Keyframe
    from replay.storage import get_storage
    from tests.test_keyframes import record_at_pace

    events = record_at_pace(alices_shop, "session-gzip-0001", "spa")
    advance_keyframes(Session.objects.get(pk="session-gzip-0001"), get_storage(), 10_000)
    frame = Keyframe.objects.filter(session_id="session-gzip-0001").first()
    assert frame is not None
    _, token = ApiToken.issue(alice)

    def fetch(path: str) -> tuple[str | None, bytes, bytes]:
        request = urllib.request.Request(
            daphne.url + path,
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            wire = response.read()
            encoding = response.headers["Content-Encoding"]
        if encoding != "gzip":
            return encoding, wire, wire
        # One gzip stream, as browsers read it: they stop after the first member.
        reader = zlib.decompressobj(wbits=31)
        body = reader.decompress(wire)
        assert reader.eof
        assert reader.unused_data == b"", "more than one gzip member"
        return encoding, wire, body

    base = "/api/sessions/session-gzip-0001"
    for path in ("/manifest", f"/keyframes/{frame.after_seq}", "/segments/0", "/events"):
        encoding, wire, body = fetch(base + path)
        assert encoding == "gzip", path
        json.loads(body)
        if path != "/manifest":
            assert len(wire) < len(body) / 3, path  # recordings are repetitive
    assert json.loads(fetch(base + "/events")[2]) == events
