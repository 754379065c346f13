"""Experiment exposures (`replay.experiment(name, variant)`, a custom event `$exposure`):
the session list and API filter by experiment and by variant, and a session that saw
several variants of an experiment is in none of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from replay.models import Session, TrackedEvent
from tests.test_funnels import T0, auth

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]


def exposed(project: Any, sid: str, *seen: tuple[str, Any]) -> None:
    Session.objects.create(id=sid, project=project, first_event_ms=T0)
    for at, (experiment, variant) in enumerate(seen):
        props = {"experiment": experiment, "variant": variant}
        TrackedEvent.objects.create(
            project=project,
            session_id=sid,
            ts=T0 + at,
            kind="custom",
            name="$exposure",
            url="https://shop.example/",
            data={"name": "$exposure", "props": props},
        )


def listed(query: str) -> list[str]:
    answer = Client().get(f"/api/sessions?{query}", **auth("alice"))
    assert answer.status_code == 200, answer.content
    return sorted(s["id"] for s in answer.json()["sessions"])


def test_sessions_filter_by_experiment_and_variant(alice, alices_shop):
    exposed(alices_shop, "green-1", ("button", "green"), ("button", "green"))
    exposed(alices_shop, "green-2", ("button", "green"), ("pricing", "b"))
    exposed(alices_shop, "blue-1", ("button", "blue"))
    exposed(alices_shop, "both-1", ("button", "green"), ("button", "blue"))  # saw both
    exposed(alices_shop, "other-1", ("pricing", "a"))
    Session.objects.create(id="none-1", project=alices_shop, first_event_ms=T0)
    assert listed("experiment=button") == ["blue-1", "both-1", "green-1", "green-2"]
    assert listed("experiment=button&variant=green") == ["green-1", "green-2"]
    assert listed("experiment=button&variant=blue") == ["blue-1"]
    assert listed("experiment=pricing&variant=b") == ["green-2"]
    assert listed("experiment=checkout") == []
    answer = Client().get("/api/sessions?variant=green", **auth("alice"))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("variant:")


def test_the_session_list_page_filters_the_same_way(alice, alices_shop):
    exposed(alices_shop, "green-1", ("button", "green"))
    exposed(alices_shop, "blue-1", ("button", "blue"))
    client = Client()
    client.force_login(alice)
    page = client.get("/sessions?experiment=button&variant=blue").content.decode()
    assert "blue-1" in page
    assert "green-1" not in page
