"""Public share links for a time window of a session: they open the player without
logging in, serve only what the window needs, and stop working once they expire or are
revoked."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from replay.keyframes import advance_keyframes
from replay.models import AuditEntry, Segment, Session, ShareLink
from replay.storage import get_storage
from tests.recording import log_in
from tests.stored import store_at_pace
from tests.support import load_recording
from tests.test_api import bearer, token_for

SESSION = "session-shared-01"
OTHER = "session-shared-02"
START, END = 20.0, 25.0  # seconds into the checkout recording


def as_user(username: str) -> dict[str, Any]:
    return dict(bearer(token_for(username)))


def share(username: str = "alice", session: str = SESSION, **body: Any) -> Any:
    return Client().post(
        f"/api/sessions/{session}/share",
        data=json.dumps({"start": START, "end": END, **body}),
        content_type="application/json",
        **as_user(username),
    )


@pytest.fixture
def recorded(alices_shop: Any) -> list[dict[str, Any]]:
    events = store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    store_at_pace(alices_shop, OTHER, load_recording("spa"))
    for session in Session.objects.all():
        advance_keyframes(session, get_storage(), interval_ms=10_000)
    return events


def served(token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The share's manifest, and every event it serves (keyframe and segments)."""
    client = Client()  # nobody logged in
    manifest = client.get(f"/s/{token}/manifest").json()
    events: list[dict[str, Any]] = []
    answers = [client.get(frame["url"]) for frame in manifest["keyframes"]]
    answers += [client.get(segment["url"]) for segment in manifest["segments"]]
    for response in answers:
        assert response.status_code == 200
        # Not kept by browsers: a revoked link stops serving at once.
        assert response["Cache-Control"] == "no-store"
        events += response.json()
    return manifest, events


@pytest.mark.django_db
def test_a_share_serves_its_window_and_nothing_else(recorded, alices_shop):
    response = share()
    assert response.status_code == 201
    link = response.json()
    assert link["url"].endswith(f"/s/{link['token']}")
    assert (link["start"], link["end"]) == (START, END)

    page = Client().get(f"/s/{link['token']}")
    assert page.status_code == 200
    assert b"Shared replay" in page.content
    assert b"Copy link" not in page.content
    assert b"Jane" not in page.content  # no user, no browser, no pages list

    manifest, events = served(link["token"])
    first = recorded[0]["timestamp"]
    window_start, window_end = first + START * 1000, first + END * 1000
    assert (manifest["start"], manifest["end"]) == (window_start, window_end)
    opening = manifest["keyframes"][0]["timestamp"]
    assert opening <= window_start
    stamps = [e["timestamp"] for e in events]
    assert min(stamps) >= opening
    assert max(stamps) <= window_end
    # Not the order confirmed at 29 s (the page at the opening shows what was typed
    # before it, as it should; the typing itself is not served).
    assert "Thank you! Order" not in json.dumps(events)

    # Segments before the opening or after the window, and other sessions' segments,
    # are not reachable through the link; nor are other keyframes.
    token = link["token"]
    inside = {s["seq_start"] for s in manifest["segments"]}
    mine = set(Segment.objects.filter(session_id=SESSION).values_list("seq_start", flat=True))
    others = set(Segment.objects.filter(session_id=OTHER).values_list("seq_start", flat=True))
    assert others - mine  # the spa recording has segments the checkout has not
    for seq in (mine - inside) | (others - mine):
        assert Client().get(f"/s/{token}/segments/{seq}").status_code == 404
    assert Client().get(f"/s/{token}/keyframes/0").status_code == 404
    # The API stays closed to the link's holder.
    assert Client().get(f"/api/sessions/{SESSION}/events").status_code == 401

    shared = AuditEntry.objects.get(action="share")
    assert shared.detail == {"public": True, "start": START, "end": END}
    assert AuditEntry.objects.filter(action="view", detail__via="share link").count() == 1


@pytest.mark.django_db
def test_expired_and_revoked_links_open_nothing(recorded, alices_shop, django_user_model):
    token = share().json()["token"]
    link = ShareLink.objects.get(token=token)
    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save()
    for path in ("", "/manifest", "/segments/0"):
        assert Client().get(f"/s/{token}{path}").status_code == 410
    assert b"expired or was revoked" in Client().get(f"/s/{token}").content

    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(viewer)
    refused = share("victor")  # a viewer, in a project that keeps public links to admins
    assert refused.status_code == 403
    assert "admins" in refused.json()["error"]
    alices_shop.viewers_share_publicly = True
    alices_shop.save()
    token = share("victor").json()["token"]  # viewers may share where the project says so
    assert Client().get(f"/s/{token}/manifest").status_code == 200
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    revoke = f"/api/shares/{token}"
    assert Client().delete(revoke, **as_user("mallory")).status_code == 404
    assert Client().delete(revoke, **as_user("alice")).status_code == 204  # her project
    for path in ("", "/manifest"):
        assert Client().get(f"/s/{token}{path}").status_code == 410
    assert Client().get("/s/no-such-token/manifest").status_code == 404
    assert AuditEntry.objects.filter(action="share", detail__revoked=True).count() == 1


@pytest.mark.django_db
def test_bad_share_requests_are_refused(recorded, django_user_model):
    cases: list[tuple[dict[str, Any], str]] = [
        ({"start": 5, "end": 5}, "before end"),
        ({"start": -1, "end": 5}, "at least 0"),
        ({"start": "soon", "end": 5}, "seconds"),
        ({"start": 5, "end": "inf"}, "seconds"),
        ({"start": 5, "end": float("nan")}, "seconds"),
        ({"start": 1e308, "end": 1e309}, "seconds"),
        ({"start": 1e308, "end": 1.5e308}, "after the session's end"),
        ({"expires_in": -5}, "in the past"),
        ({"expires_in": 200 * 86400}, "at most 90 days"),
        ({"expires": "2030-01-01T00:00"}, "with a zone"),
    ]
    for body, reason in cases:
        response = share(**body)
        assert response.status_code == 400, body
        assert reason in response.json()["error"], body
    django_user_model.objects.create_user("mallory", password="mallory-password-1")
    assert share("mallory").status_code == 404
    assert not ShareLink.objects.exists()
    # A window past the session's end ends with the session.
    to_the_end = share(end=1e308)
    assert to_the_end.status_code == 201
    first, last = Session.objects.values_list("first_event_ms", "last_event_ms").get(pk=SESSION)
    assert first is not None
    assert last is not None
    assert to_the_end.json()["end"] == (last - first) / 1000


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_a_share_link_plays_in_a_browser_without_logging_in(daphne, alices_shop, alice, browser):
    store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    advance_keyframes(Session.objects.get(pk=SESSION), get_storage(), interval_ms=10_000)
    owner = browser.new_page()
    log_in(owner, daphne, "alice", "alice-password-1")
    owner.goto(f"{daphne.url}/sessions/{SESSION}?t=22")
    owner.wait_for_selector("#stage[data-ready=true]")
    owner.context.grant_permissions(["clipboard-read", "clipboard-write"])
    owner.click("#share-moment")
    owner.wait_for_function("() => document.getElementById('share-moment').dataset.url")
    url = owner.evaluate("document.getElementById('share-moment').dataset.url")
    owner.close()
    assert "/s/" in url

    stranger = browser.new_context()
    page = stranger.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    replayed = page.frame_locator("#stage iframe")
    replayed.locator("#buy").wait_for(state="attached", timeout=10000)
    # The half minute around 22 s: from 7 s to the recording's end at 30 s.
    assert page.locator("#time-total").inner_text() == "0:23"
    assert not [r for r in requests if "/api/" in r]
    stranger.close()
