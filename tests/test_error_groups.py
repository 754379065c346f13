"""Error groups (replay/fingerprints.py, replay/analytics/error_groups.py): the same error
from several sessions, with different numbers, ids and URLs in its message, is one group;
another error, or the same message from another function, another group; counts,
sessions, users, trend, browsers and the sessions behind a group with player links at
the error; resolved groups that happen again show as regressed; the /errors page; bad
input and outsiders."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from replay.analytics.error_api import GROUPS_PAGE, SESSIONS_PAGE
from replay.analytics.error_groups import refingerprint
from replay.fingerprints import fingerprint, frames, normalized_message
from replay.models import ErrorGroup, Session, TrackedEvent
from replay.records import track_session
from replay.storage import get_storage
from tests.support import load_recording, record

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
START = int(time.time() * 1000) - 3_600_000
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
PAY_STACK = (
    "TypeError: x\n    at pay (https://shop.alice.example/static/app.3f9a2c1b.js:{line}:9)\n"
    "    at HTMLButtonElement.<anonymous> (https://shop.alice.example/checkout:101:22)"
)


def test_what_varies_between_occurrences_is_normalized():
    assert normalized_message(
        "Order 1042 failed for https://shop.example/orders/1042?x=1 (id 3f9a2c1b7d)"
    ) == ("Order <n> failed for <url> (id <id>)")
    assert normalized_message("Cannot read 'price' of undefined") == (
        "Cannot read 'price' of undefined"
    )
    assert frames(PAY_STACK.format(line=3)) == [
        "pay static/app.js",
        "HTMLButtonElement.<anonymous> checkout",
    ]
    assert frames("pay@https://a.example/app.js:1:2\n@https://a.example/b.js?v=2:3:4") == [
        "pay app.js",
        "? b.js",
    ]
    # Frames in every browser's shape, and hostile ones (read in one pass, not one per
    # position: a line of a hundred thousand ":1" took a minute on patterns).
    assert frames(
        "    at https://a.example/app.js:1:2\n    at new Cart (https://a.example/cart.js:9:5)\n"
        "global code@https://a.example/main.js:5:10"
    ) == ["? app.js", "new Cart cart.js", "global code main.js"]
    assert frames("f@https://a.example/x.js" + ":1" * 100_000 + "x") == [
        "f x.js" + ":1" * 100_000 + "x"
    ]
    assert frames("    at f (x.js" + ":1" * 100_000) == ["f x.js"]
    same = fingerprint("Order 7 failed", PAY_STACK.format(line=3))
    assert same == fingerprint("Order 912 failed", PAY_STACK.format(line=40))
    assert same != fingerprint("Order 7 failed", PAY_STACK.replace("pay", "refund").format(line=3))
    assert same != fingerprint("Cart 7 failed", PAY_STACK.format(line=3))


def crash(project: Any, sid: str, agent: str, user: str, *errors: tuple[int, str, str]) -> None:
    """A real recording with our recorder's error events at seconds after its start,
    stored and tracked as ingest would."""
    events = load_recording("checkout")
    shift = START - events[0]["timestamp"]  # recorded an hour ago
    for event in events:
        event["timestamp"] += shift
    start = START
    for at, message, stack in errors:
        payload = {"kind": "error", "message": message, "stack": stack}
        events.append(
            {
                "type": 5,
                "timestamp": start + at * 1000,
                "data": {"tag": "replay/error", "payload": payload},
            }
        )
    events.sort(key=lambda e: e["timestamp"])
    record(project, sid, "checkout", events=events, user=user or None)
    Session.objects.filter(pk=sid).update(user_agent=agent)
    track_session(Session.objects.get(pk=sid), get_storage())


OPEN_GROUP = r'<td class="error-cell"><a href="([^"]+)"'


def follow(client: Client, page: str, link: str) -> tuple[str, str]:
    """The first link of `page` that the pattern `link` finds (its group), and the
    /errors page it opens."""
    found = re.search(link, page)
    assert found is not None, link
    href = found.group(1)
    return href, client.get("/errors" + html.unescape(href)).content.decode()


def api(user: Any, path: str, **params: Any) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(path, params)


def recorded_range() -> dict[str, str]:
    day = datetime.fromtimestamp(START / 1000, UTC).date().isoformat()
    return {"since": f"{day}T00:00:00Z", "until": f"{day}T23:59:59Z"}


@pytest.fixture
def crashes(alices_shop: Any) -> Any:
    stack = PAY_STACK.format(line=3)
    crash(alices_shop, "crash-1", CHROME, "ann", (5, "Order 17 failed", stack))
    crash(
        alices_shop,
        "crash-2",
        CHROME,
        "bo",
        (8, "Order 2048 failed", stack),
        (9, "Order 5 failed", stack),
    )
    crash(alices_shop, "crash-3", FIREFOX, "", (12, "Order 99 failed", PAY_STACK.format(line=77)))
    crash(alices_shop, "crash-4", CHROME, "ann", (15, "Cannot read 'price' of undefined", ""))
    return alices_shop


def test_the_same_error_from_three_sessions_is_one_group(alice, crashes):
    answer = api(alice, f"/api/projects/{crashes.pk}/errors", **recorded_range())
    assert answer.status_code == 200
    groups = answer.json()["groups"]
    assert len(groups) == 2
    price, order = groups  # the most recently seen first
    assert (order["count"], order["sessions"], order["users"]) == (4, 3, 3)
    assert order["message"] == "Order 99 failed"  # the latest occurrence's
    assert order["browsers"] == {"Chrome": 2, "Firefox": 1}
    assert order["status"] == "open"
    assert order["id"] == order["fingerprint"]
    assert sum(day["count"] for day in order["trend"]) == 4
    assert order["first_seen"] < order["last_seen"]
    assert (price["count"], price["sessions"], price["users"]) == (1, 1, 1)
    # The sessions behind it, the most recent first, each playing a second before it.
    listed = Client()
    listed.force_login(alice)
    behind = listed.get(order["sessions_url"]).json()
    assert behind["count"] == 3
    assert [s["session"] for s in behind["sessions"]] == ["crash-3", "crash-2", "crash-1"]
    first_at = {"crash-3": 12, "crash-2": 8, "crash-1": 5}
    for s in behind["sessions"]:
        start = Session.objects.get(pk=s["session"]).first_event_ms
        t = float(s["link"].split("?t=")[1])
        assert t == pytest.approx((s["ts"] - start) / 1000 - 1, abs=0.1)
        assert s["ts"] - START == first_at[s["session"]] * 1000
    # In pages, the next one where the last ended.
    first_page = listed.get(order["sessions_url"] + "&limit=2").json()
    assert [s["session"] for s in first_page["sessions"]] == ["crash-3", "crash-2"]
    rest = listed.get(first_page["next"]).json()
    assert ([s["session"] for s in rest["sessions"]], rest["next"]) == (["crash-1"], None)


def test_a_resolved_group_that_happens_again_has_regressed(alice, crashes):
    url = f"/api/projects/{crashes.pk}/errors"
    client = Client()
    client.force_login(alice)
    order = client.get(url, recorded_range()).json()["groups"][1]
    marked = client.post(
        f"{url}/{order['id']}", json.dumps({"status": "resolved"}), content_type="application/json"
    )
    assert marked.status_code == 200
    groups = client.get(url, {**recorded_range(), "status": "resolved"}).json()["groups"]
    assert [g["id"] for g in groups] == [order["id"]]
    # It happens again after it was resolved (here: the mark moved before its last time).
    ErrorGroup.objects.filter(fingerprint=order["id"]).update(resolved_at=START + 10_000)
    regressed = client.get(url, {**recorded_range(), "status": "regressed"}).json()["groups"]
    assert [g["id"] for g in regressed] == [order["id"]]
    client.post(
        f"{url}/{order['id']}", json.dumps({"status": "open"}), content_type="application/json"
    )
    assert client.get(url, recorded_range()).json()["groups"][1]["status"] == "open"


def test_the_errors_page_lists_opens_and_resolves_groups(alice, crashes):
    client = Client()
    client.force_login(alice)
    order = api(alice, f"/api/projects/{crashes.pk}/errors").json()["groups"][1]
    page = client.get("/errors", {"project": crashes.pk}).content.decode()
    row = re.search(rf'<tr data-group="{order["id"]}".*?</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num \w+">(\d+)</td>', row.group())
    assert cells == ["4", "3", "3"]  # count, sessions, users
    assert 'class="status status-open"' in row.group()
    assert row.group().count('class="hit"') == 1  # one day with errors in the trend
    detail = client.get("/errors", {"project": crashes.pk, "group": order["id"]}).content.decode()
    assert detail.count("Play at the error") == 3
    assert "at pay (https://shop.alice.example/static/app.3f9a2c1b.js" in detail
    assert "Chrome (2), Firefox (1)" in detail
    done = client.post(
        f"/errors?project={crashes.pk}", {"group": order["id"], "status": "resolved"}
    )
    assert done.status_code == 302
    resolved = client.get("/errors", {"project": crashes.pk, "status": "resolved"}).content.decode()
    assert order["id"] in resolved
    assert "Reopen" in resolved
    assert "Cannot read" not in resolved  # the other group is open


def test_groups_come_in_pages_in_the_api_and_on_the_page(alice, alices_shop):
    def word(n: int) -> str:  # letters only: numbers would be normalized away
        return "".join("ghijklmnop"[int(digit)] for digit in str(n))

    errors = [(20, f"Step {word(n)} failed", "") for n in range(GROUPS_PAGE + 5)]
    crash(alices_shop, "crash-many", CHROME, "ann", *errors)
    url = f"/api/projects/{alices_shop.pk}/errors"
    first = api(alice, url, **recorded_range()).json()
    assert (len(first["groups"]), first["total"]) == (GROUPS_PAGE, GROUPS_PAGE + 5)
    client = Client()
    client.force_login(alice)
    rest = client.get(first["next"]).json()
    assert (len(rest["groups"]), rest["total"], rest["next"]) == (5, GROUPS_PAGE + 5, None)
    ids = {g["id"] for g in first["groups"] + rest["groups"]}
    assert len(ids) == GROUPS_PAGE + 5
    assert api(alice, url, limit=0).status_code == 400
    # The page shows as many, and links to the rest.
    page = client.get("/errors", {"project": alices_shop.pk}).content.decode()
    assert page.count("<tr data-group=") == GROUPS_PAGE
    assert f"Groups 1-{GROUPS_PAGE} of {GROUPS_PAGE + 5}" in page
    more = follow(client, page, r'href="(\?[^"]*page=2[^"]*)"')[1]
    assert more.count("<tr data-group=") == 5
    assert f"Groups {GROUPS_PAGE + 1}-{GROUPS_PAGE + 5} of {GROUPS_PAGE + 5}" in more
    assert set(re.findall(r'<tr data-group="(\w+)"', page + more)) == ids
    # A group opened from the second page lists its sessions, and the list stays there.
    opened, detail = follow(client, more, OPEN_GROUP)
    assert "page=2" in opened
    assert detail.count("Play at the error") == 1
    assert detail.count("<tr data-group=") == 5


def test_a_group_on_the_page_lists_its_sessions_in_pages(alice, alices_shop):
    for n in range(SESSIONS_PAGE + 3):
        crash(alices_shop, f"crash-{n:03d}", CHROME, f"user-{n}", (20 + n, "Payment failed", ""))
    client = Client()
    client.force_login(alice)
    listed = client.get("/errors", {"project": alices_shop.pk}).content.decode()
    first = follow(client, listed, OPEN_GROUP)[1]
    assert first.count("Play at the error") == SESSIONS_PAGE
    assert f"Sessions 1-{SESSIONS_PAGE} of {SESSIONS_PAGE + 3}" in first
    rest = follow(client, first, rf'href="([^"]*offset={SESSIONS_PAGE}[^"]*)"')[1]
    assert rest.count("Play at the error") == 3
    assert f"Sessions {SESSIONS_PAGE + 1}-{SESSIONS_PAGE + 3} of {SESSIONS_PAGE + 3}" in rest
    shown = set(re.findall(r"crash-\d{3}", first + rest))
    assert shown == {f"crash-{n:03d}" for n in range(SESSIONS_PAGE + 3)}
    back, again = follow(client, rest, r'href="(\?[^"]*)">← Previous')
    assert "offset" not in back
    assert re.findall(r"crash-\d{3}", again) == re.findall(r"crash-\d{3}", first)


def test_bad_input_and_outsiders(alice, mallory, crashes):
    url = f"/api/projects/{crashes.pk}/errors"
    for params, named in [({"status": "gone"}, "status:"), ({"since": "soon"}, "since:")]:
        answer = api(alice, url, **params)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith(named)
    client = Client()
    client.force_login(alice)
    bad = client.post(
        f"{url}/abc", json.dumps({"status": "fixed"}), content_type="application/json"
    )
    assert bad.status_code == 400
    assert api(mallory, url).status_code == 404
    assert api(alice, f"{url}/0123456789abcdef/sessions").status_code == 404
    outsider = Client()
    outsider.force_login(mallory)
    refused = outsider.post(
        f"{url}/abc", json.dumps({"status": "resolved"}), content_type="application/json"
    )
    assert refused.status_code == 404
    assert "Order" not in outsider.get("/errors", {"project": crashes.pk}).content.decode()


def test_errors_tracked_before_fingerprints_were_stored_are_grouped_once_migrated(alice, crashes):
    """Migration 0021 gives the records tracked before it their fingerprint, as a change
    of the rules would compute them again (`refingerprint`)."""
    url = f"/api/projects/{crashes.pk}/errors"
    before = api(alice, url, **recorded_range()).json()["groups"]
    errors = TrackedEvent.objects.filter(project=crashes, kind="error")
    assert errors.count() == 5
    errors.update(fingerprint="")  # as stored before 0021
    assert refingerprint(TrackedEvent) == 5
    assert api(alice, url, **recorded_range()).json()["groups"] == before
    assert refingerprint(TrackedEvent) == 0  # nothing left to change


@pytest.mark.django_db(transaction=True)
def test_upgrading_fingerprints_the_errors_tracked_before():
    """Migration 0021 run for real on errors stored before it: each gets the fingerprint
    tracking would give it now, so old and new occurrences are one group."""
    before = [("replay", "0020_packs_blocks_and_checkpoints")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    project = old.get_model("replay", "Project").objects.create(name="Old shop", key="old-key")
    session = old.get_model("replay", "Session").objects.create(id="old-1", project=project)
    stack = PAY_STACK.format(line=3)
    for ts, message in [(START, "Order 17 failed"), (START + 1000, "Cannot read 'price'")]:
        old.get_model("replay", "TrackedEvent").objects.create(
            session=session,
            project=project,
            ts=ts,
            kind="error",
            name=message,
            data={"message": message, "stack": stack},
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    stored = TrackedEvent.objects.filter(session_id="old-1").order_by("ts")
    assert [row.fingerprint for row in stored] == [
        fingerprint("Order 912 failed", PAY_STACK.format(line=40)),  # as tracked today
        fingerprint("Cannot read 'price'", stack),
    ]
