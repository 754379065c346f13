"""The ASGI application Daphne serves: ingest's WebSocket and batch endpoints, and
Django for everything else. The one place where `replay` refers to `ingest`."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "replay.settings")
django_application = get_asgi_application()

# Ingest decodes megabytes of small containers a second. What is loaded by now lives as
# long as the process, so keep the collector from walking it again and again, and let
# the young generation grow before it is scanned (the default, 700 objects, is reached
# by every other batch).
gc.freeze()
gc.set_threshold(50_000, 20, 20)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from ingest.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402

# No AllowedHostsOriginValidator on the WebSocket: recording pages live on customers'
# origins, and each project's allowed origins are checked by the consumer instead.
application = ProtocolTypeRouter(
    {
        # URLRouter routes to ASGI applications; Django's stubs only know views.
        "http": URLRouter([*http_urlpatterns, re_path(r"", django_application)]),  # type: ignore[arg-type]
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
