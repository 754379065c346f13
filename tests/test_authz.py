"""Who may do what, for every page and API endpoint: an outsider (no role in the
project), a viewer (sees its sessions) and an admin (may also delete them and read the
audit log). Views, shared links, exports and deletes land in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from replay.keyframes import advance_keyframes
from replay.models import AuditEntry, Keyframe, Session
from replay.storage import get_storage
from tests.support import record
from tests.test_api import bearer, token_for

pytestmark = pytest.mark.django_db

SESSION = "session-authz-01"


@pytest.fixture
def people(django_user_model: Any, alice: Any, mallory: Any, alices_shop: Any) -> dict[str, Any]:
    victor = django_user_model.objects.create_user("victor", password="victor-password-1")
    alices_shop.members.add(victor)
    record(alices_shop, SESSION, "spa", user="user-5")
    advance_keyframes(Session.objects.get(pk=SESSION), get_storage(), interval_ms=10_000)
    return {"outsider": mallory, "viewer": victor, "admin": alice}


def browser_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: Any) -> Any:
    return bearer(token_for(user.username))


READS = {  # path: status for outsider, viewer, admin
    f"/sessions/{SESSION}": (404, 200, 200),
    f"/api/sessions/{SESSION}": (404, 200, 200),
    f"/api/sessions/{SESSION}/events": (404, 200, 200),
    f"/api/sessions/{SESSION}/manifest": (404, 200, 200),
    f"/api/sessions/{SESSION}/segments/0": (404, 200, 200),
    f"/api/sessions/{SESSION}/tracked": (404, 200, 200),
    f"/api/sessions/{SESSION}/devtools": (404, 200, 200),
    "/sessions": (200, 200, 200),
    "/projects": (200, 200, 200),
    "/actions": (200, 200, 200),  # each sees the actions of their projects only
    "/funnels": (200, 200, 200),
    "/experiments": (200, 200, 200),  # each sees their projects only
    "/adoption": (200, 200, 200),
    "/errors": (200, 200, 200),
    "/api/sessions": (200, 200, 200),
    "/api/events": (200, 200, 200),  # each sees the records of their projects only
}
ROLES = ("outsider", "viewer", "admin")


def test_every_page_and_endpoint_answers_each_role_as_it_should(people, alices_shop):
    keyframe = Keyframe.objects.filter(session_id=SESSION).first()
    assert keyframe is not None
    reads = {
        **READS,
        f"/api/sessions/{SESSION}/keyframes/{keyframe.after_seq}": (404, 200, 200),
        f"/projects/{alices_shop.pk}/audit": (404, 404, 200),
        f"/api/projects/{alices_shop.pk}/actions": (404, 200, 200),
        f"/api/projects/{alices_shop.pk}/funnels": (404, 200, 200),
        f"/api/projects/{alices_shop.pk}/heatmap?url=/*": (404, 200, 200),
        f"/api/projects/{alices_shop.pk}/heatmap/pages?url=/*": (404, 200, 200),
        f"/api/projects/{alices_shop.pk}/heatmap/sessions?url=/*&selector=a": (404, 200, 200),
    }
    reads[f"/api/projects/{alices_shop.pk}/dataset"] = (404, 200, 200)
    reads[f"/api/projects/{alices_shop.pk}/errors"] = (404, 200, 200)
    reads[f"/api/projects/{alices_shop.pk}/errors/0123456789abcdef/sessions"] = (404, 404, 404)
    # (An experiment's sessions: a list its report links to; outsiders find no project.)
    reads[f"/api/projects/{alices_shop.pk}/experiments/sessions?q=e30&part=converted"] = (
        404,
        400,
        400,
    )
    for path, statuses in reads.items():
        for role, status in zip(ROLES, statuses, strict=True):
            user = people[role]
            if path.startswith("/api/"):
                response = Client().get(path, **api_as(user))
            else:
                response = browser_as(user).get(path)
            assert response.status_code == status, (path, role)
    # Lists show the session to those who may see it, and to no one else.
    for role in ROLES:
        listed = SESSION in browser_as(people[role]).get("/sessions").content.decode()
        in_api = SESSION in Client().get("/api/sessions", **api_as(people[role])).content.decode()
        assert listed == in_api == (role != "outsider"), role
    audit_link = f"/projects/{alices_shop.pk}/audit"
    for role in ROLES:
        shown = audit_link in browser_as(people[role]).get("/projects").content.decode()
        assert shown == (role == "admin"), role
    # Sharing a link.
    for role, status in zip(ROLES, (404, 200, 200), strict=True):
        response = Client().post(
            f"/api/sessions/{SESSION}/share",
            data={"t": 12.5},
            content_type="application/json",
            **api_as(people[role]),
        )
        assert response.status_code == status, role
    assert response.json()["url"].endswith(f"/sessions/{SESSION}?t=12.5")
    # Public share links: admins make them, viewers only where the project lets them;
    # revoking is for who made it and the project's admins.
    for role, status in zip(ROLES, (404, 403, 201), strict=True):
        response = Client().post(
            f"/api/sessions/{SESSION}/share",
            data={"start": 1, "end": 5},
            content_type="application/json",
            **api_as(people[role]),
        )
        assert response.status_code == status, role
    token = response.json()["token"]
    revoke = f"/api/shares/{token}"
    assert Client().delete(revoke, **api_as(people["outsider"])).status_code == 404
    assert Client().delete(revoke, **api_as(people["viewer"])).status_code == 403
    assert Client().delete(revoke, **api_as(people["admin"])).status_code == 204
    # Redacting: admins only (viewers may not; outsiders do not see the project).
    for role, status in zip(ROLES, (404, 403, 200), strict=True):
        response = Client().post(
            f"/api/projects/{alices_shop.pk}/redact",
            data={"patterns": ["no such text"]},
            content_type="application/json",
            **api_as(people[role]),
        )
        assert response.status_code == status, role
    for role, status in zip(ROLES, (404, 404, 200), strict=True):
        posted = browser_as(people[role]).post(
            f"/projects/{alices_shop.pk}/redact", {"patterns": "no such text"}
        )
        assert posted.status_code == status, role
    # Marking an error group: the project's viewers and admins.
    for role, status in zip(ROLES, (404, 200, 200), strict=True):
        response = Client().post(
            f"/api/projects/{alices_shop.pk}/errors/0123456789abcdef",
            data={"status": "resolved"},
            content_type="application/json",
            **api_as(people[role]),
        )
        assert response.status_code == status, role
    # The Django admin is for staff only.
    for role in ROLES:
        assert browser_as(people[role]).get("/admin/").status_code == 302, role


def test_only_admins_delete_and_the_audit_log_says_who_did_what(people, alices_shop):
    outsider, viewer, admin = (people[role] for role in ROLES)
    path = f"/api/sessions/{SESSION}"
    assert Client().delete(path, **api_as(outsider)).status_code == 404
    assert Client().delete(path, **api_as(viewer)).status_code == 403
    forgot = Client().delete("/api/users/user-5/sessions", **api_as(viewer))
    assert forgot.json() == {"user_id": "user-5", "deleted": 0}
    assert Session.objects.filter(pk=SESSION).exists()

    browser_as(viewer).get(f"/sessions/{SESSION}")
    Client().get(f"/api/sessions/{SESSION}/events", **api_as(viewer))
    Client().post(
        f"/api/sessions/{SESSION}/share",
        data={"t": 3},
        content_type="application/json",
        **api_as(admin),
    )
    assert Client().delete(path, **api_as(admin)).status_code == 204
    assert not Session.objects.filter(pk=SESSION).exists()

    log = browser_as(admin).get(f"/projects/{alices_shop.pk}/audit").content.decode()
    entries = [
        (e.username, e.action, e.session_id, e.detail)
        for e in AuditEntry.objects.filter(project=alices_shop).order_by("id")
    ]
    assert entries == [
        ("victor", "view", SESSION, {}),
        ("victor", "export", SESSION, {}),
        ("alice", "share", SESSION, {"t": 3.0}),
        ("alice", "delete", SESSION, {}),
    ]
    rows = log.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 4
    assert rows.index("deleted") < rows.index("shared a link to") < rows.index("exported")
    assert f'href="/sessions/{SESSION}?t=3.0"' in rows  # the shared moment, one click away
