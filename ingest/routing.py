"""The ingest endpoints, mounted by the ASGI router in `replay.asgi`."""

from __future__ import annotations

from django.urls import path

from ingest.consumer import IngestConsumer
from ingest.http import BatchConsumer, ConfigConsumer

websocket_urlpatterns = [path("ingest/ws", IngestConsumer.as_asgi())]
http_urlpatterns = [
    path("ingest/batch", BatchConsumer.as_asgi()),
    path("ingest/config", ConfigConsumer.as_asgi()),
]
