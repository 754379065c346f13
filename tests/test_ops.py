"""Operations: /healthz for load balancers, Prometheus /metrics, and JSON logs."""

from __future__ import annotations

import json
import logging

import pytest

from replay.logs import JsonFormatter
from replay.storage import get_storage
from tests.support import batch, load_recording
from tests.test_consumer import connect, open_session, wait_for_ack

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_is_ok_when_database_and_storage_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_healthz_names_what_is_down(client, settings, tmp_path):
    (tmp_path / "a-file").write_text("storage cannot live under a file")
    settings.REPLAY_STORAGE_URL = f"file://{tmp_path / 'a-file' / 'segments'}"
    get_storage.cache_clear()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["storage"].startswith("unavailable")


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_ingest(async_client, alices_shop, settings):
    settings.REPLAY_FLUSH_SECONDS = 0.05
    before = (await async_client.get("/metrics")).content.decode()
    comm = connect()
    await open_session(comm, alices_shop.key, "session-metrics1")
    events = load_recording("routes")
    await comm.send_to(bytes_data=batch(0, events))
    await wait_for_ack(comm, 0)
    during = (await async_client.get("/metrics")).content.decode()
    await comm.disconnect()
    assert metric(during, "replay_sessions_open") == metric(before, "replay_sessions_open") + 1
    for name, grew_by in [
        ("replay_batches_received_total", 1),
        ("replay_events_received_total", len(events)),
        ("replay_acks_total", 1),
        ("replay_flushes_total", 1),
        ("replay_ack_latency_seconds_count", 1),
    ]:
        assert metric(during, name) - metric(before, name) == grew_by, name
    assert metric(during, "replay_bytes_received_total") > metric(
        before, "replay_bytes_received_total"
    )
    assert "process_resident_memory_bytes" in during


def test_metrics_can_require_a_token(client, settings):
    settings.REPLAY_METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def test_json_logs_carry_their_context():
    record = logging.makeLogRecord(
        {"name": "ingest", "levelname": "INFO", "msg": "closing %s", "args": ("now",)}
    )
    record.session = "session-log-0001"
    record.code = 4413
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "closing now"
    assert entry["level"] == "info"
    assert (entry["session"], entry["code"]) == ("session-log-0001", 4413)
    assert entry["time"].endswith("Z")
