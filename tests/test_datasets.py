"""Datasets for modelling (replay/analytics/datasets.py): one row per session with its
counts, scroll reach, friction, experiment variants and actions, the same in CSV, JSON
Lines and Parquet, streamed in chunks; formula-like text escaped in CSV; the command;
README's column table in step with the code."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.test import Client

from replay.analytics.datasets import COLUMNS
from replay.friction import DETECTORS
from replay.models import Action, Session, TrackedEvent
from tests.test_funnels import T0, auth

pytestmark = [pytest.mark.django_db, pytest.mark.scaleout]
RANGE = {"since": "2026-11-10T00:00:00Z", "until": "2026-11-30T00:00:00Z"}


def record(project: Any, sid: str, at: int, kind: str, label: str = "", **data: Any) -> None:
    TrackedEvent.objects.create(
        project=project,
        session_id=sid,
        ts=T0 + at,
        kind=kind,
        name=label,
        url="https://shop.example/cart",
        selector=data.get("selector", ""),
        data=data,
    )


@pytest.fixture
def shop(alices_shop: Any) -> Any:
    Session.objects.create(
        id="s1",
        project=alices_shop,
        user_id="=HYPERLINK(1)",
        first_event_ms=T0,
        last_event_ms=T0 + 90_500,
        friction_score=2.5,
    )
    Session.objects.create(id="s2", project=alices_shop, first_event_ms=T0 + 1000)
    Session.objects.create(id="s-old", project=alices_shop, first_event_ms=T0 - 30 * 86400_000)
    record(alices_shop, "s1", 1, "pageview", how="load")
    record(
        alices_shop,
        "s1",
        2,
        "click",
        selector="#buy",
        element={"type": 2, "tagName": "button", "attributes": {"id": "buy"}},
        ancestors=[],
    )
    record(alices_shop, "s1", 3, "click", selector="#menu")
    record(alices_shop, "s1", 4, "input", selector="#email")
    record(alices_shop, "s1", 5, "scroll", percent=40)
    record(alices_shop, "s1", 6, "pageview", how="pushState")
    record(alices_shop, "s1", 7, "scroll", percent=90)
    record(alices_shop, "s1", 8, "error", "TypeError: x", message="TypeError: x")
    record(alices_shop, "s1", 9, "friction", "rage_click", type="rage_click")
    record(
        alices_shop,
        "s1",
        10,
        "custom",
        "$exposure",
        name="$exposure",
        props={"experiment": "cta", "variant": "green"},
    )
    record(
        alices_shop,
        "s2",
        1,
        "custom",
        "$exposure",
        name="$exposure",
        props={"experiment": "cta", "variant": "green"},
    )
    record(
        alices_shop,
        "s2",
        2,
        "custom",
        "$exposure",
        name="$exposure",
        props={"experiment": "cta", "variant": "blue"},
    )
    Action.objects.create(
        project=alices_shop, name="Bought", matchers=[{"kind": "click", "selector": "#buy"}]
    )
    Action.objects.create(
        project=alices_shop, name="Paid", matchers=[{"kind": "custom", "name": "paid"}]
    )
    return alices_shop


def download(project: Any, kind: str) -> bytes:
    query = f"since={RANGE['since']}&until={RANGE['until']}&format={kind}"
    answer = Client().get(f"/api/projects/{project.pk}/dataset?{query}", **auth("alice"))
    assert answer.status_code == 200, answer
    assert kind in answer["Content-Disposition"]
    return bytes(answer.getvalue())


def test_one_row_per_session_with_what_a_model_needs(alice, shop):
    rows = [json.loads(line) for line in download(shop, "jsonl").decode().splitlines()]
    assert [r["session"] for r in rows] == ["s1", "s2"]  # not the session before the range
    first = rows[0]
    assert {k: first[k] for k in COLUMNS} == {
        "project": "Alice's shop",
        "session": "s1",
        "user": "=HYPERLINK(1)",
        "start": "2026-11-18T11:06:40+00:00",
        "duration": 90.5,
        "pages": 2,
        "clicks": 2,
        "inputs": 1,
        "scroll_max": 90.0,
        "scroll_mean": 65.0,
        "errors": 1,
    }
    assert first["friction_rage_click"] == 1
    assert first["friction_dead_click"] == 0
    assert first["friction_score"] == 2.5
    assert (first["experiment:cta"], rows[1]["experiment:cta"]) == ("green", "(several)")
    assert (first["action:Bought"], first["action:Paid"], rows[1]["action:Bought"]) == (1, 0, 0)
    assert rows[1]["scroll_max"] is None
    columns = list(first)
    assert columns == [
        *COLUMNS,
        *(f"friction_{d.name}" for d in DETECTORS),
        "friction_score",
        "experiment:cta",
        "action:Bought",
        "action:Paid",
    ]

    table = list(csv.DictReader(io.StringIO(download(shop, "csv").decode())))
    assert table[0]["user"] == "'=HYPERLINK(1)"  # never run by a spreadsheet
    assert table[0]["scroll_mean"] == "65.0"
    assert table[1]["scroll_max"] == ""
    assert [r["session"] for r in table] == ["s1", "s2"]

    parquet = pq.read_table(io.BytesIO(download(shop, "parquet"))).to_pylist()
    assert parquet == rows


def test_sessions_come_in_chunks_each_once(alice, alices_shop):
    Session.objects.bulk_create(
        [
            Session(id=f"s{n:05d}", project=alices_shop, first_event_ms=T0 + n // 3)
            for n in range(1234)
        ]
    )
    lines = download(alices_shop, "jsonl").decode().splitlines()
    assert [json.loads(line)["session"] for line in lines] == [f"s{n:05d}" for n in range(1234)]
    parquet = pq.read_table(io.BytesIO(download(alices_shop, "parquet")))
    assert parquet.num_rows == 1234


def test_the_command_writes_the_same_dataset(alice, shop, tmp_path):
    out = tmp_path / "sessions.jsonl"
    call_command(
        "export_dataset",
        "--project",
        shop.name,
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--since",
        RANGE["since"],
        "--until",
        RANGE["until"],
        stdout=io.StringIO(),
    )
    assert out.read_bytes() == download(shop, "jsonl")


def test_bad_input_and_outsiders(alice, shop, mallory):
    answer = Client().get(f"/api/projects/{shop.pk}/dataset?format=xlsx", **auth("alice"))
    assert (answer.status_code, answer.json()["error"][:7]) == (400, "format:")
    answer = Client().get(f"/api/projects/{shop.pk}/dataset?since=soon", **auth("alice"))
    assert answer.status_code == 400
    assert Client().get(f"/api/projects/{shop.pk}/dataset", **auth("mallory")).status_code == 404


def test_readme_documents_every_fixed_column():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Datasets", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert documented == [
        *COLUMNS,
        "friction_DETECTOR",
        "friction_score",
        "experiment:NAME",
        "action:NAME",
    ]
