"""``GET /healthz``: 200 when the database and storage answer, 503 naming what does not.
For load balancers and orchestrators; no login."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from replay.storage import StorageError, get_storage

log = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"unavailable: {exc}"
    try:
        get_storage().check()
        checks["storage"] = "ok"
    except StorageError as exc:
        checks["storage"] = f"unavailable: {exc}"
    healthy = all(value == "ok" for value in checks.values())
    if not healthy:
        log.warning("health check failed", extra={"checks": checks})
    response = JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
    response["Cache-Control"] = "no-store"
    return response
