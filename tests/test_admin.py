"""The Django admin lists projects, sessions and segments, and deleting a session there
removes its stored segments too."""

from __future__ import annotations

import pytest

from replay.models import Session
from replay.storage import get_storage
from tests.support import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(admin_client, alices_shop):
    record(alices_shop, "session-admin-01", "routes")
    return admin_client


@pytest.mark.parametrize("model", ["project", "session", "segment", "apitoken"])
def test_admin_lists_each_model(admin_client_with_data, model):
    response = admin_client_with_data.get(f"/admin/replay/{model}/")
    assert response.status_code == 200


def test_admin_session_page_shows_its_segments(admin_client_with_data):
    html = admin_client_with_data.get(
        "/admin/replay/session/session-admin-01/change/"
    ).content.decode()
    # Ingest stores segments in its rounds' packs: the page says which and where.
    assert "packs/round/" in html


def test_deleting_in_the_admin_removes_stored_segments(admin_client_with_data):
    response = admin_client_with_data.post(
        "/admin/replay/session/session-admin-01/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Session.objects.filter(pk="session-admin-01").exists()
    assert list(get_storage().list_keys("sessions/session-admin-01/")) == []


def test_staff_see_only_their_projects_in_the_admin(
    client, django_user_model, alices_shop, bobs_blog
):
    from django.contrib.auth.models import Permission

    record(alices_shop, "session-admin-alice", "routes")
    record(bobs_blog, "session-admin-bob", "routes")
    staff = django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_session", "view_project", "view_segment"])
    )
    alices_shop.members.add(staff)
    client.force_login(staff)
    sessions = client.get("/admin/replay/session/").content.decode()
    assert "session-admin-alice" in sessions
    assert "session-admin-bob" not in sessions
    projects = client.get("/admin/replay/project/").content.decode()
    assert "Alice&#x27;s shop" in projects
    assert "Bob&#x27;s blog" not in projects
    segments = client.get("/admin/replay/segment/").content.decode()
    assert "session-admin-alice" in segments
    assert "session-admin-bob" not in segments
    assert client.get("/admin/replay/session/session-admin-bob/change/").status_code == 302
