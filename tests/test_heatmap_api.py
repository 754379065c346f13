"""Heatmaps from the API (replay/analytics/heatmaps.py): clicks per element with their
places, never mixed across screen classes or pages, friction maps, scroll maps equal to
a computation from the records, the sessions behind an element, the page views a map is
drawn over, and every malformed parameter refused by name."""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from replay.models import Project, Session, TrackedEvent
from tests.test_funnels import T0, auth

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
SINCE, UNTIL = "2026-11-10T00:00:00Z", "2026-11-30T00:00:00Z"
PAGE = "https://shop.example/product/fern"


def click(
    project: Any,
    sid: str,
    at: float,
    selector: str,
    place: tuple[float, float] | None,
    vw: int = 1280,
    url: str = PAGE,
    friction: str = "",
) -> None:
    data: dict[str, Any] = {"selector": selector, "vw": vw, "x": 10, "y": 10}
    if place is not None:
        data.update(fx=place[0], fy=place[1])
    kind, name = ("friction", friction) if friction else ("click", "")
    if friction:
        data["type"] = friction
    TrackedEvent.objects.create(
        project=project,
        session_id=sid,
        ts=T0 + round(at * 1000),
        kind=kind,
        name=name,
        url=url,
        selector=selector,
        data=data,
    )


def heatmap(project: Any, username: str = "alice", **params: Any) -> Any:
    query = {"url": "/product/*", "since": SINCE, "until": UNTIL, **params}
    return Client().get(f"/api/projects/{project.pk}/heatmap?{urlencode(query)}", **auth(username))


@pytest.fixture
def shop(alice: Any) -> Project:
    project = Project.objects.create(name="Shop", allowed_origins=["https://shop.example"])
    project.members.add(alice)  # a viewer
    for sid, user in [("s1", "ann"), ("s2", ""), ("s3", "cy")]:
        Session.objects.create(id=sid, project=project, first_event_ms=T0, user_id=user)
    return project


def test_clicks_per_element_with_their_places_at_one_width(shop):
    click(shop, "s1", 1, "#buy", (0.25, 0.5))
    click(shop, "s1", 2, "#buy", (0.75, 0.5))
    click(shop, "s2", 3, "#buy", None)  # with the keyboard: counted, not drawn
    click(shop, "s2", 4, "main > p", (0.1, 0.9))
    click(shop, "s3", 5, "", (0.5, 0.5))  # an element with no name
    click(shop, "s3", 6, "#buy", (0.5, 0.5), vw=390)  # a phone: not on the desktop map
    click(shop, "s3", 7, "#buy", (0.5, 0.5), vw=1000)  # a tablet
    click(shop, "s3", 8, "#buy", (0.5, 0.5), url="https://shop.example/cart")  # another page
    click(shop, "s3", 9, "#buy", (0.5, 0.5), url="https://shop.example/a/product/x")  # nor
    answer = heatmap(shop)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["total"], body["unnamed"], body["unlisted"]) == (5, 1, 0)
    elements = [(e["selector"], e["count"], e["share"], e["points"]) for e in body["elements"]]
    assert elements == [
        ("#buy", 3, 0.6, [[0.25, 0.5], [0.75, 0.5]]),
        ("main > p", 1, 0.2, [[0.1, 0.9]]),
    ]
    phone = heatmap(shop, width="mobile").json()
    assert (phone["total"], phone["elements"][0]["points"]) == (1, [[0.5, 0.5]])
    assert heatmap(shop, width="tablet").json()["total"] == 1
    # A glob with :// is matched against the whole URL.
    assert heatmap(shop, url="https://shop.example/cart").json()["total"] == 1


def test_an_element_keeps_at_most_2000_places_sampled_evenly(shop):
    rows = [
        TrackedEvent(
            project=shop,
            session_id="s1",
            ts=T0 + i,
            kind="click",
            url=PAGE,
            selector="#buy",
            data={"selector": "#buy", "vw": 1400, "fx": i / 5000, "fy": 0.5},
        )
        for i in range(5000)
    ]
    TrackedEvent.objects.bulk_create(rows)
    body = heatmap(shop).json()
    points = body["elements"][0]["points"]
    assert (body["total"], len(points)) == (5000, 2000)
    xs = [x for x, _ in points]
    assert xs == sorted(xs)
    assert (xs[0], xs[-1] >= 0.99) == (0, True)  # from the first to the last
    assert max(b - a for a, b in pairwise(xs)) <= 0.0007


def test_friction_maps_use_the_friction_moments(shop):
    click(shop, "s1", 1, "#buy", (0.5, 0.5))
    click(shop, "s1", 2, "#buy", (0.4, 0.6), friction="rage_click")
    click(shop, "s2", 3, "#menu", (0.1, 0.1), friction="dead_click")
    rage = heatmap(shop, kind="rage").json()
    assert [(e["selector"], e["points"]) for e in rage["elements"]] == [("#buy", [[0.4, 0.6]])]
    dead = heatmap(shop, kind="dead").json()
    assert [e["selector"] for e in dead["elements"]] == ["#menu"]
    assert heatmap(shop, kind="error").json()["total"] == 0


def scroll(project: Any, sid: str, at: float, depth: int, height: int, viewport: int) -> None:
    data = {"depth_px": depth, "viewport": viewport, "vw": 1280, "page_height": height}
    TrackedEvent.objects.create(
        project=project,
        session_id=sid,
        ts=T0 + round(at * 1000),
        kind="scroll",
        url=PAGE,
        data=data,
    )


def test_a_scroll_map_is_the_share_of_page_views_past_each_band(shop):
    scroll(shop, "s1", 1, 1000, 4000, 800)  # read 25 %
    scroll(shop, "s2", 2, 2200, 4000, 800)  # 55 %
    scroll(shop, "s3", 3, 4000, 4000, 800)  # all of it
    scroll(shop, "s3", 4, 600, 1000, 600)  # 60 % of a shorter page: the fold
    TrackedEvent.objects.create(  # the recorder did not measure the page: not counted
        project=shop, session_id="s1", ts=T0, kind="scroll", url=PAGE, data={"depth_px": 5}
    )
    body = heatmap(shop, kind="scroll").json()
    reads = [25.0, 55.0, 100.0, 60.0]
    assert body["pageviews"] == 4
    assert [b["from"] for b in body["bands"]] == list(range(0, 100, 5))
    for band in body["bands"]:
        expected = sum(1 for r in reads if r > band["from"]) / 4
        assert band["reached"] == pytest.approx(expected), band
    assert body["bands"][5]["reached"] == 0.75  # past 25 %: three of four
    assert body["reach"] == {"25": 1.0, "50": 0.75, "75": 0.25}
    assert body["fold"] == pytest.approx((0.2 + 0.2 + 0.2 + 0.6) / 4)


def test_the_sessions_behind_an_element_open_at_their_first_click(shop):
    click(shop, "s1", 10, "#buy", (0.5, 0.5))
    click(shop, "s1", 12, "#buy", (0.5, 0.5))
    click(shop, "s2", 30, "#buy", (0.5, 0.5))
    click(shop, "s3", 40, "#other", (0.5, 0.5))
    body = heatmap(shop).json()
    url = next(e["sessions"] for e in body["elements"] if e["selector"] == "#buy")
    listed = Client().get(url, **auth("alice")).json()
    assert listed["count"] == 2
    assert [(s["session"], s["user"], s["clicks"]) for s in listed["sessions"]] == [
        ("s2", "", 1),
        ("s1", "ann", 2),
    ]
    first = listed["sessions"][1]
    assert first["ts"] == T0 + 10_000
    assert first["link"].endswith("/sessions/s1?t=9.0")  # just before the click


def test_the_page_views_a_map_is_drawn_over_are_of_its_page_and_width(shop):
    for sid, at, url, vw in [
        ("s1", 5, PAGE, 1280),
        ("s2", 9, PAGE, 390),
        ("s3", 7, "https://shop.example/cart", 1280),
        ("s3", 8, PAGE + "?color=green", 1440),
    ]:
        TrackedEvent.objects.create(
            project=shop,
            session_id=sid,
            ts=T0 + at * 1000,
            kind="pageview",
            url=url,
            data={"how": "load", "vw": vw},
        )
    query = urlencode({"url": "/product/*", "width": "desktop", "since": SINCE, "until": UNTIL})
    answer = Client().get(f"/api/projects/{shop.pk}/heatmap/pages?{query}", **auth("alice"))
    pages = answer.json()["pages"]
    assert [(p["session"], p["vw"], p["t"]) for p in pages] == [
        ("s3", 1440, 8.0),
        ("s1", 1280, 5.0),
    ]
    assert pages[0]["manifest"].endswith("/api/sessions/s3/manifest")


BAD = [
    ({"url": ""}, "url:"),
    ({"url": "/pro duct/*"}, "url:"),
    ({"url": "/x" * 1001}, "url:"),
    ({"width": "watch"}, "width:"),
    ({"kind": "hover"}, "kind:"),
    ({"since": "yesterday"}, "since:"),
    ({"until": "2026-13-01"}, "until:"),
    ({"since": UNTIL, "until": SINCE}, "since:"),
]


@pytest.mark.parametrize(("params", "named"), BAD)
def test_a_malformed_parameter_is_refused_by_name(shop, params, named):
    answer = heatmap(shop, **params)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(named)


def test_the_lists_refuse_what_they_cannot_answer(shop):
    base = f"/api/projects/{shop.pk}/heatmap/sessions"
    query = {"url": "/product/*", "since": SINCE, "until": UNTIL}
    for params, named in [
        ({}, "selector:"),
        ({"kind": "scroll", "selector": "#buy"}, "kind:"),
        ({"selector": "#buy", "limit": "0"}, "limit"),
        ({"selector": "#buy", "width": "huge"}, "width:"),
    ]:
        answer = Client().get(f"{base}?{urlencode({**query, **params})}", **auth("alice"))
        assert answer.status_code == 400
        assert answer.json()["error"].startswith(named)


def test_outsiders_find_no_project(shop, mallory, bob):
    click(shop, "s1", 1, "#buy", (0.5, 0.5))
    for username in ("mallory", "bob"):
        for path in ("heatmap", "heatmap/sessions", "heatmap/pages"):
            query = urlencode({"url": "/product/*", "selector": "#buy"})
            answer = Client().get(f"/api/projects/{shop.pk}/{path}?{query}", **auth(username))
            assert answer.status_code == 404, (username, path)
    assert Client().get(f"/api/projects/{shop.pk}/heatmap?url=/x").status_code == 401


def test_the_page_loads_recorded_assets_only_from_the_projects_origins(shop, alice):
    client = Client()
    client.force_login(alice)
    answer = client.get(f"/heatmaps?project={shop.pk}&url=/product/*")
    assert answer.status_code == 200
    policy = answer["Content-Security-Policy"]
    img = next(part for part in policy.split("; ") if part.startswith("img-src"))
    assert img.split() == ["img-src", "'self'", "data:", "blob:", "https://shop.example"]
    assert "script-src 'self';" in policy  # and no recorded script runs
