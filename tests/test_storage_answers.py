"""Every reader of stored events goes through one segment reader (replay/segments.py
`read_segment`), and every HTTP answer turns storage failing, or an object the database
indexes gone from storage, into a 503 the player retries: never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from replay.models import Segment, Session
from replay.storage import get_storage
from tests.support import record
from tests.test_sharing import share

pytestmark = pytest.mark.django_db
SESSION = "session-shared-01"  # (the id test_sharing's share() names)


@pytest.fixture
def shared(alice: Any, alices_shop: Any) -> tuple[Client, str]:
    record(alices_shop, SESSION, "checkout")
    client = Client()
    client.force_login(alice)
    answer = share()
    assert answer.status_code == 201, answer.content
    return client, answer.json()["token"]


def readers(token: str) -> list[str]:
    return [
        f"/api/sessions/{SESSION}/segments/0",
        f"/api/sessions/{SESSION}/devtools",
        f"/s/{token}/segments/0",
    ]


def test_storage_failing_is_503(shared, settings, tmp_path):
    client, token = shared
    for path in readers(token):
        assert client.get(path).status_code == 200, path
    (tmp_path / "not-a-folder").write_text("storage cannot live under a file")
    settings.REPLAY_STORAGE_URL = f"file://{tmp_path / 'not-a-folder' / 'segments'}"
    get_storage.cache_clear()
    for path in readers(token):
        answer = client.get(path)
        assert answer.status_code == 503, path
        assert "storage is unavailable" in answer.json()["error"]
    assert client.get(f"/api/sessions/{SESSION}/manifest").status_code == 200  # the index


def test_a_lost_segment_is_503_not_500(shared, segment_folder: Path):
    client, token = shared
    row = Segment.objects.filter(session_id=SESSION, seq_start=0).get()
    (segment_folder / row.key).unlink()
    for path in readers(token):
        assert client.get(path).status_code == 503, path
    assert Session.objects.filter(pk=SESSION).exists()  # nothing else was touched
