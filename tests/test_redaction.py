"""Retroactive redaction (#6): a project admin masks what a selector matches, or replaces
a text pattern, in the stored events of a time range; segments and keyframes are
written again, the rest of each recording stays exactly as it was, and every redacted
session is in the audit log. On the local folder and on S3."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from replay.codec import read_header
from replay.keyframes import advance_keyframes, load_keyframe
from replay.mirror import Mirror
from replay.mirror.tree import MAX_NODES
from replay.models import AuditEntry, Keyframe, Segment, Session
from replay.redactor import Redactor
from replay.segments import iter_events
from replay.selectors import Selector, SelectorError
from replay.storage import get_storage
from tests.stored import store_at_pace
from tests.support import load_recording
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db

SESSION = "session-redact-01"
NOTES, STATUS = 115, 130  # the checkout recording's <textarea id=notes> and <p id=status>
T0 = load_recording("checkout")[0]["timestamp"]


def stored(session_id: str = SESSION) -> list[dict[str, Any]]:
    return list(iter_events(Session.objects.get(pk=session_id), get_storage()))


def keyframes_text(session_id: str = SESSION) -> str:
    frames = Keyframe.objects.filter(session_id=session_id)
    return json.dumps([load_keyframe(frame, get_storage()) for frame in frames])


def typed(events: list[dict[str, Any]], node: int) -> list[tuple[int, str]]:
    return [
        (e["timestamp"] - T0, e["data"]["text"])
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 5 and e["data"]["id"] == node
    ]


@pytest.fixture(params=["folder", "s3"])
def recorded(request: Any, alices_shop: Any) -> list[dict[str, Any]]:
    if request.param == "s3":
        request.getfixturevalue("s3_storage_url")
    events = store_at_pace(alices_shop, SESSION, load_recording("checkout"))
    session = Session.objects.get(pk=SESSION)
    assert advance_keyframes(session, get_storage(), interval_ms=10_000).written >= 2
    return events


def redact(project: Any, username: str, **body: Any) -> Any:
    headers: dict[str, Any] = bearer(token_for(username))
    return Client().post(
        f"/api/projects/{project.pk}/redact", data=body, content_type="application/json", **headers
    )


def test_a_selector_masks_what_it_matched_everywhere_and_nothing_else(
    recorded, alices_shop, settings
):
    settings.REPLAY_KEYFRAME_SECONDS = 10
    assert "Leave it at the door" in keyframes_text()
    before_frames = Keyframe.objects.count()

    response = redact(alices_shop, "alice", selectors=["#notes", "main p#status"])
    assert response.status_code == 200
    answer = response.json()
    assert answer["sessions"] == 1
    assert answer["events"] >= 31  # 29 keystrokes, the two status messages, the snapshot

    events = stored()
    text = json.dumps(events)
    assert "Leave it" not in text
    assert "Thank you! Order" not in text
    assert "Processing your order" not in text
    # A selector names what the page showed; the custom event with the order number is
    # not part of the page (a pattern would reach it).
    assert '"order": "HS-10427"' in text
    notes = typed(events, NOTES)
    assert [len(t) for _, t in notes] == [len(t) for _, t in typed(recorded, NOTES)]
    assert all(set(t) <= {"*", " "} for _, t in notes)
    # Everything else is stored exactly as before, in the same order.
    assert len(events) == len(recorded)
    changed = [i for i, (a, b) in enumerate(zip(events, recorded, strict=True)) if a != b]
    assert len(changed) == answer["events"]
    assert "Jane Q. Example" in text  # the name field is not matched
    assert "Ordered" in text  # the button's new text is outside #status

    # Keyframes: computed again from what is stored now.
    assert "Leave it" not in keyframes_text()
    assert "Thank you! Order" not in keyframes_text()
    assert Keyframe.objects.count() == before_frames
    # Sizes in the index match the objects.
    session = Session.objects.get(pk=SESSION)
    segments = list(Segment.objects.filter(session=session))
    for row in segments:
        data = get_storage().get(row.key)
        assert data is not None
        assert len(data) == row.size
        assert read_header(data).event_count == row.event_count
    assert session.stored_bytes == sum(row.size for row in segments)

    entry = AuditEntry.objects.get(action="redact")
    assert (entry.username, entry.session_id) == ("alice", SESSION)
    assert entry.detail["selectors"] == ["#notes", "main p#status"]
    assert entry.detail["via"] == "api"

    # Sent again, it finds nothing more to change.
    again = redact(alices_shop, "alice", selectors=["#notes", "main p#status"]).json()
    assert again["events"] == 0


def test_only_the_time_range_is_redacted(recorded, alices_shop):
    start, end = T0 + 16_000, T0 + 18_000
    response = redact(alices_shop, "alice", selectors=["textarea"], start=start, end=end)
    assert response.status_code == 200
    for (at, text), (_, original) in zip(
        typed(stored(), NOTES), typed(recorded, NOTES), strict=True
    ):
        if 16_000 <= at <= 18_000:
            assert set(text) <= {"*", " "}
        else:
            assert text == original
    # ISO 8601 times work the same way.
    iso = redact(alices_shop, "alice", selectors=["textarea"], start="2000-01-01T00:00:00Z")
    assert iso.status_code == 200
    assert "Leave it" not in json.dumps(stored())


def test_a_pattern_is_replaced_in_every_string(recorded, alices_shop):
    response = redact(alices_shop, "alice", patterns=[r"HS-\d+", "Jane"])
    assert response.status_code == 200
    text = json.dumps(stored())
    assert "HS-10427" not in text
    assert "Order #[redacted] is confirmed" in text
    assert "Jane" not in text
    assert "[redacted] Q. Example" in text


def test_bad_requests_are_refused_with_a_reason(recorded, alices_shop):
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "at least one selector or pattern"),
        ({"selectors": ["a:hover"]}, "':hover' is not supported"),
        ({"selectors": ["a + b"]}, "not supported"),
        ({"patterns": ["(unclosed"]}, "pattern '(unclosed'"),
        ({"selectors": ["p"], "start": 2, "end": 1}, "start is after end"),
        ({"selectors": ["p"], "start": "yesterday"}, "ISO 8601"),
        ({"selectors": ["p"], "start": "2026-11-01T00:00"}, "give a time zone"),
        ({"selectors": "p"}, "list of non-empty strings"),
        ({"selectors": ["p"], "where": "x"}, "unknown fields: where"),
    ]
    for body, reason in cases:
        response = redact(alices_shop, "alice", **body)
        assert response.status_code == 400, body
        assert reason in response.json()["error"], body
    assert stored() == recorded  # nothing was touched
    assert not AuditEntry.objects.filter(action="redact").exists()


def test_only_the_projects_admins_may_redact(recorded, alices_shop, mallory, django_user_model):
    viewer = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(viewer)
    assert redact(alices_shop, "mallory", selectors=["p"]).status_code == 404
    assert redact(alices_shop, "victor", selectors=["p"]).status_code == 403
    for user, status in ((mallory, 404), (viewer, 404)):
        client = Client()
        client.force_login(user)
        posted = client.post(f"/projects/{alices_shop.pk}/redact", {"selectors": "p"})
        assert posted.status_code == status
    assert stored() == recorded


def test_the_audit_page_form_redacts(recorded, alices_shop, alice):
    client = Client()
    client.force_login(alice)
    page = client.get(f"/projects/{alices_shop.pk}/audit").content.decode()
    assert f'action="/projects/{alices_shop.pk}/redact"' in page
    response = client.post(
        f"/projects/{alices_shop.pk}/redact", {"selectors": "#notes\n", "start": "", "end": ""}
    )
    assert response.status_code == 200
    assert "Redacted 29 events in 1 session (" in response.content.decode()  # the keystrokes
    assert "Leave it" not in json.dumps(stored())
    failed = client.post(f"/projects/{alices_shop.pk}/redact", {"selectors": "p::after"})
    assert "is not supported" in failed.content.decode()
    log = client.get(f"/projects/{alices_shop.pk}/audit").content.decode()
    assert "redacted" in log
    assert "<code>#notes</code>" in log


def test_the_command_redacts_with_no_limit(recorded, alices_shop):
    out = StringIO()
    call_command("redact", "--project", alices_shop.name, "--selector", "#status", stdout=out)
    assert "Redacted 2 events in 1 session (" in out.getvalue()
    assert "Thank you! Order" not in json.dumps(stored())
    assert AuditEntry.objects.get(action="redact").detail["via"] == "manage.py redact"


# -- the pure parts --


def element(tag: str, node_id: int, children: list[Any] | None = None, **attributes: str):
    return {
        "type": 2,
        "tagName": tag,
        "attributes": {
            ("class" if k == "cls" else k.replace("_", "-")): v for k, v in attributes.items()
        },
        "childNodes": children or [],
        "id": node_id,
    }


def text(value: str, node_id: int) -> dict[str, Any]:
    return {"type": 3, "textContent": value, "id": node_id}


def page() -> list[dict[str, Any]]:
    body = element(
        "body",
        3,
        [
            element("div", 4, [text("Balance 1,204.00", 5)], cls="account balance"),
            element("style", 6, [text(".balance { color: red }", 7)]),
            element("input", 8, value="secret", placeholder="Your PIN", cls="pin"),
            element("p", 9, [text("public", 10)]),
        ],
    )
    document = {"type": 0, "id": 1, "childNodes": [element("html", 2, [body])]}
    return [
        {"type": 4, "data": {"href": "https://x.example/", "width": 800, "height": 600}},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}},
    ]


def test_the_redactor_follows_the_page_through_mutations():
    redactor = Redactor([".balance", "input.pin"])
    mirror = Mirror()
    out = []
    added = element("div", 11, [element("b", 12, [text("+ 50.00", 13)])], cls="balance")
    later = [
        *page(),
        {
            "type": 3,
            "data": {
                "source": 0,
                "adds": [{"parentId": 3, "nextId": None, "node": added}],
                "removes": [],
                "texts": [],
                "attributes": [],
            },
        },
        {
            "type": 3,
            "data": {
                "source": 0,
                "adds": [],
                "removes": [],
                "texts": [{"id": 5, "value": "Balance 9.99"}, {"id": 10, "value": "ok"}],
                "attributes": [{"id": 8, "attributes": {"value": "1234"}}],
            },
        },
        {"type": 3, "data": {"source": 5, "id": 8, "text": "1234", "isChecked": False}},
        {"type": 3, "data": {"source": 5, "id": 99, "text": "unknown node", "isChecked": False}},
    ]
    for event in later:
        out.append(redactor.event(json.loads(json.dumps(event)), mirror))
        mirror.apply(event)
    snapshot = json.dumps(out[1])
    assert "Balance" not in snapshot
    assert "******* ********" in snapshot
    assert ".balance { color: red }" in snapshot  # style text is not shown text
    assert '"value": "******"' in snapshot
    assert '"placeholder": "**** ***"' in snapshot
    assert "public" in snapshot
    assert "50.00" not in json.dumps(out[2])
    texts = out[3]["data"]["texts"]
    assert texts == [{"id": 5, "value": "******* ****"}, {"id": 10, "value": "ok"}]
    assert out[3]["data"]["attributes"][0]["attributes"] == {"value": "****"}
    assert out[4]["data"]["text"] == "****"
    assert out[5]["data"]["text"] == "unknown node"


def test_past_the_mirrors_node_cap_what_the_mirror_does_not_hold_is_masked():
    """A page of more nodes than the mirror holds: an unknown node may be inside a
    matched element, so its text, input and attributes are masked, and what is added
    under it."""
    redactor = Redactor([".balance"])
    mirror = Mirror()
    for event in page():
        mirror.apply(event)
    held = len(mirror.nodes)
    flood = [
        {"parentId": 3, "nextId": None, "node": element("i", 100 + n)}
        for n in range(MAX_NODES - held + 1)
    ]
    mirror.apply({"type": 3, "data": {"source": 0, "adds": flood, "removes": [], "texts": []}})
    assert mirror.over_cap
    unknown = flood[-1]["node"]["id"]  # the last add, not held
    mutation = {
        "source": 0,
        "adds": [{"parentId": unknown, "nextId": None, "node": text("Balance 9.99", 7_000_000)}],
        "removes": [],
        "texts": [{"id": unknown, "value": "Balance 9.99"}, {"id": 10, "value": "ok"}],
        "attributes": [{"id": unknown, "attributes": {"title": "Balance"}}],
    }
    out = redactor.event({"type": 3, "data": mutation}, mirror)["data"]
    assert out["adds"][0]["node"]["textContent"] == "******* ****"
    assert out["texts"] == [{"id": unknown, "value": "******* ****"}, {"id": 10, "value": "ok"}]
    assert out["attributes"][0]["attributes"] == {"title": "*******"}
    typed = {"type": 3, "data": {"source": 5, "id": unknown, "text": "1234", "isChecked": False}}
    assert redactor.event(typed, mirror)["data"]["text"] == "****"


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("span", True),
        ("main span", True),
        ("div > span", True),
        ("main > span", False),
        ("#app .card > span", True),
        ("[data-x]", True),
        ("[data-x='1' i]", True),
        ("[data-x=2]", False),
        ("[class~=balance] span", True),
        ("[class^=car] *", True),
        ("DIV.card span, p", True),
        ("p", False),
    ],
)
def test_selectors_match_as_the_browser_would(selector, matches):
    body = element("body", 1)
    main = element("main", 2, id="app")
    div = element("div", 3, cls="card balance")
    span = element("span", 4, data_x="1")
    assert Selector(selector).matches(span, [div, main, body]) is matches


@pytest.mark.parametrize("selector", ["a:hover", "a + b", "a ~ b", "", "a,", "> a", "a >"])
def test_selectors_that_cannot_be_matched_exactly_are_refused(selector):
    with pytest.raises(SelectorError):
        Selector(selector)
