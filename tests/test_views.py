"""The web UI pages as a logged-in user, an outsider and a visitor see them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from replay import csp
from replay.models import Project, Session
from tests.support import record

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client, alices_shop):
    record(alices_shop, "session-view-001", "routes")
    for path in ["/sessions", "/sessions/session-view-001", "/projects"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_login_form_logs_alice_in(client, alice):
    page = client.get("/accounts/login/")
    assert b'name="username"' in page.content
    assert b'name="password"' in page.content
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "alice-password-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/sessions"


def test_session_list_shows_duration_pages_user_and_events(client, alice, alices_shop):
    events = record(alices_shop, "session-view-002", "checkout", user="user-99")
    client.force_login(alice)
    html = client.get("/sessions").content.decode()
    assert "/sessions/session-view-002" in html
    assert "0:30" in html  # checkout lasts 30 s
    assert "user-99" in html
    assert f">{len(events)}<" in html
    assert "/cart" in html
    assert "+1" in html


def test_pages_are_listed_with_their_hash_routes(client, alice, alices_shop):
    """A hash router's pages differ only in their fragments: each is listed as itself."""
    record(alices_shop, "session-view-005", "routes")
    app = "http://127.0.0.1:41731/app/"
    urls = [app + "#/cart", app + "#/checkout?step=2", "http://127.0.0.1:41731/article.html"]
    Session.objects.filter(pk="session-view-005").update(urls=urls)
    client.force_login(alice)
    player = client.get("/sessions/session-view-005").content.decode()
    for shown in ["/app/#/cart", "/app/#/checkout?step=2", "/article.html"]:
        assert f">{shown}</li>" in player
    assert ">/app/#/cart <span" in client.get("/sessions").content.decode()


def test_outsiders_do_not_see_the_session(client, mallory, alices_shop):
    record(alices_shop, "session-view-003", "routes")
    client.force_login(mallory)
    assert "session-view-003" not in client.get("/sessions").content.decode()
    assert client.get("/sessions/session-view-003").status_code == 404


def test_player_page_carries_its_configuration(client, alice, alices_shop):
    record(alices_shop, "session-view-004", "routes")
    client.force_login(alice)
    response = client.get("/sessions/session-view-004?t=7.5")
    html = response.content.decode()
    assert response.status_code == 200
    assert '"manifestUrl": "/api/sessions/session-view-004/manifest"' in html
    assert '"start": 7.5' in html
    assert re.search(r"/static/replay/vendor/rrweb/rrweb\.min\.[0-9a-f]{12}\.js", html)
    assert re.search(r"/static/replay/player\.[0-9a-f]{12}\.js", html)


def test_projects_page_shows_the_embed_snippet(client, alice, alices_shop):
    client.force_login(alice)
    html = client.get("/projects").content.decode()
    assert f'data-key="{alices_shop.key}"' in html
    assert "http://testserver/static/replay/recorder.js" in html


def test_demo_page_records_into_the_demo_project(client):
    assert client.get("/demo/").status_code == 404  # not bootstrapped yet
    project = Project.objects.create(name="Demo shop", allowed_origins=["http://testserver"])
    html = client.get("/demo/").content.decode()
    assert f'data-key="{project.key}"' in html
    assert "Buy now" in html
    assert "checkout" in html


def directive(policy: str, name: str) -> list[str]:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in {policy}")


def test_every_page_has_a_strict_content_security_policy(client, alice, alices_shop):
    client.force_login(alice)
    for path in ["/sessions", "/projects", "/accounts/login/", "/demo/"]:
        policy = client.get(path)["Content-Security-Policy"]
        assert directive(policy, "script-src") == ["'self'"]
        assert directive(policy, "object-src") == ["'none'"]
        assert directive(policy, "base-uri") == ["'none'"]
        assert directive(policy, "img-src") == ["'self'", "data:", "blob:"]


def test_the_replayed_page_loads_assets_only_from_where_it_was_recorded(client, alice, alices_shop):
    record(alices_shop, "session-view-005", "routes")
    urls = ["https://shop.alice.example/cart", "https://evil.example/x", "javascript:alert(1)"]
    alices_shop.sessions.filter(pk="session-view-005").update(urls=urls)
    client.force_login(alice)
    policy = client.get("/sessions/session-view-005")["Content-Security-Policy"]
    for name in ("img-src", "style-src", "font-src", "media-src"):
        sources = directive(policy, name)
        assert "https://shop.alice.example" in sources  # an origin the project allows
        assert not any("evil" in source or "javascript" in source for source in sources)
    assert directive(policy, "script-src") == ["'self'"]
    assert directive(policy, "connect-src") == ["'self'"]


def test_only_origins_enter_a_policy():
    policy = csp.policy(
        ["https://a.example", "https://b.example; script-src *", "'unsafe-eval'", "data:x"]
    )
    assert directive(policy, "img-src") == ["'self'", "data:", "blob:", "https://a.example"]
    assert directive(policy, "script-src") == ["'self'"]


def test_static_files_go_gzipped_and_pages_do_not(client, alice):
    import gzip

    script = client.get("/static/replay/vendor/rrweb/rrweb.min.js", HTTP_ACCEPT_ENCODING="gzip")
    assert script.status_code == 200
    assert script["Content-Encoding"] == "gzip"
    body = b"".join(script.streaming_content)
    plain = b"".join(client.get("/static/replay/vendor/rrweb/rrweb.min.js").streaming_content)
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain) / 3
    client.force_login(alice)
    page = client.get("/sessions", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200
    assert not page.has_header("Content-Encoding")  # a page with a CSRF token: never


def test_static_files_of_pages_are_kept_by_browsers_until_they_change(
    client, alice, alices_shop, settings
):
    import hashlib

    from django.contrib.staticfiles import finders

    alices_shop.sessions.create(id="session-view-010")
    client.force_login(alice)
    html = client.get("/sessions/session-view-010").content.decode()
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(urls) >= 5  # rrweb, its style sheet, the player's scripts, app.css, icon
    for url in urls:
        # The name carries a digest of the file's content: a changed file, a new URL.
        named = re.fullmatch(r"/static/(.+)\.([0-9a-f]{12})(\.\w+)", url)
        assert named, url
        name, digest, extension = named.groups()
        source = finders.find(name + extension)
        assert isinstance(source, str)
        assert hashlib.md5(Path(source).read_bytes()).hexdigest()[:12] == digest, url
        answer = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert answer.status_code == 200
        assert "immutable" in answer["Cache-Control"]
        assert "max-age=315360000" in answer["Cache-Control"]
    # Under its plain name (the recorder's, on customers' sites): kept briefly, asked again.
    for plain in ("/static/replay/recorder.js", "/static/replay/player.js"):
        answer = client.get(plain)
        assert answer.status_code == 200
        assert answer["Cache-Control"] == "max-age=60, public"


def test_a_server_without_its_static_files_says_so(settings, tmp_path):
    from replay.checks import check_static_files

    assert check_static_files(None) == []  # make built and collected them
    settings.STATIC_ROOT = tmp_path
    [warning] = check_static_files(None)
    assert (warning.id, warning.hint) == (
        "replay.W002",
        "Run `make assets` (`make run` and `make test` do).",
    )
    settings.BUILT_STATIC = tmp_path
    [warning] = check_static_files(None)
    assert warning.id == "replay.W001"
