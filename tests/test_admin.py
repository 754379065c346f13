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
    assert "sessions/session-admin-01/000000000000-" in html


def test_deleting_in_the_admin_removes_stored_segments(admin_client_with_data):
    response = admin_client_with_data.post(
        "/admin/replay/session/session-admin-01/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Session.objects.filter(pk="session-admin-01").exists()
    assert list(get_storage().list_keys("sessions/session-admin-01/")) == []
