"""The management commands other tools rely on print what they promise, last line last."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from replay.models import ApiToken, Project, token_digest

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_createproject_prints_the_key_last():
    lines = run(
        "createproject",
        "Shop",
        "--origin",
        "https://Shop.Example:443",
        "--origin",
        "http://localhost:3000",
    )
    project = Project.objects.get(name="Shop")
    assert lines[-1] == project.key
    assert project.allowed_origins == ["https://shop.example", "http://localhost:3000"]
    assert project.allows_origin("https://shop.example")
    assert not project.allows_origin("https://evil.example")


def test_createproject_refuses_bad_origins_and_duplicates():
    with pytest.raises(CommandError, match="not an origin"):
        run("createproject", "Shop", "--origin", "shop.example")
    run("createproject", "Shop")
    with pytest.raises(CommandError, match="exists already"):
        run("createproject", "Shop")


def test_createtoken_creates_the_user_and_prints_a_working_token(django_user_model):
    Project.objects.create(name="Shop")
    token = run("createtoken", "carol", "--project", "Shop")[-1]
    carol = django_user_model.objects.get(username="carol")
    assert not carol.has_usable_password()
    assert ApiToken.objects.get(digest=token_digest(token)).user == carol
    assert list(Project.objects.filter(members=carol).values_list("name", flat=True)) == ["Shop"]
    assert not Project.objects.filter(admins=carol).exists()  # a viewer unless told
    run("createtoken", "dave", "--project", "Shop", "--role", "admin")
    dave = django_user_model.objects.get(username="dave")
    assert list(Project.objects.filter(admins=dave).values_list("name", flat=True)) == ["Shop"]


def test_bootstrap_is_idempotent_and_prints_the_login(django_user_model, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    first = run("bootstrap", "--url", "http://127.0.0.1:8000")
    second = run("bootstrap", "--url", "http://127.0.0.1:8000")
    assert django_user_model.objects.filter(is_superuser=True).count() == 1
    password = (tmp_path / "var" / "admin-password").read_text().strip()
    assert any(f"admin / {password}" in line for line in first)
    assert first == second
    demo = Project.objects.get(name="Demo shop")
    assert demo.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    run("bootstrap", "--url", "http://127.0.0.1:9000")
    demo.refresh_from_db()
    assert "http://127.0.0.1:9000" in demo.allowed_origins


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        ("https://*.example.com", "https://app.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "http://app.example.com", False),
        ("*", "https://anything.test", True),
        ("http://localhost:3000", "http://LOCALHOST:3000", True),
        ("http://localhost:3000", "http://localhost:3001", False),
        ("https://shop.example", None, False),
        ("https://shop.example", "null", False),
    ],
)
def test_origin_rules(allowed, origin, ok):
    assert Project(allowed_origins=[allowed]).allows_origin(origin) is ok
