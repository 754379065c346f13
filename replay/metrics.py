"""Prometheus metrics of this server process, served at /metrics.

Each Daphne process keeps its own counters; scrape every process (not the load
balancer). If REPLAY_METRICS_TOKEN is set, scrapers must send it as a bearer token.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

SESSIONS_OPEN = Gauge("replay_sessions_open", "Ingest connections that have said hello")
BATCHES_RECEIVED = Counter("replay_batches_received_total", "Batches received (WebSocket and HTTP)")
BYTES_RECEIVED = Counter("replay_bytes_received_total", "Bytes of batch frames received")
EVENTS_RECEIVED = Counter("replay_events_received_total", "Events in the batches received")
ACKS = Counter("replay_acks_total", "Acknowledgements sent")
ACK_LATENCY = Histogram(
    "replay_ack_latency_seconds",
    "From a batch's arrival to the acknowledgement that covers it",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30),
)
FLUSHES = Counter("replay_flushes_total", "Segments committed to storage and the index")
FLUSH_SECONDS = Histogram(
    "replay_flush_seconds",
    "Time to commit one segment (storage write and index)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STORAGE_ERRORS = Counter("replay_storage_errors_total", "Failed commits: storage or database")
REJECTIONS = Counter("replay_rejections_total", "Connections or requests refused", ["code"])
KEYFRAMES = Counter("replay_keyframes_written_total", "Keyframes stored by the keyframer")
COMPACTED_SEGMENTS = Counter(
    "replay_compacted_segments_total", "Segments rewritten into blocks by compaction"
)
PACKS_DROPPED = Counter(
    "replay_packs_dropped_total", "Packs removed once nothing pointed into them"
)
STORAGE_WRITES = Counter(
    "replay_storage_writes_total",
    "Objects written to storage (on S3, PUT requests), by kind: what their names end with",
    ["kind"],
)
SNAPSHOT_REQUESTS = Counter(
    "replay_snapshot_requests_total", "Recorders asked for a full snapshot the mirror cannot make"
)
MIRROR_SKIPPED = Counter(
    "replay_mirror_skipped_events_total", "Events the DOM mirror could not apply", ["reason"]
)
TAKEOVERS = Counter("replay_takeovers_total", "Connections closed because a newer one took over")


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.REPLAY_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponse(
                "metrics need the bearer token\n", status=401, content_type="text/plain"
            )
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
