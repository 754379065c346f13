"""`GET /api/projects/ID/dataset?since=ISO&until=ISO&format=csv|jsonl|parquet`: the
project's sessions that began in the range (default: the last 30 days), one row each
(`replay.analytics.datasets`), streamed as a download. The project's viewers and admins
may read it; anyone else gets 404; a bad format or date gets a 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from replay.analytics.api import project_of
from replay.analytics.datasets import FORMATS, csv_lines, jsonl_lines, parquet_chunks, rows, shape
from replay.api import api, error
from replay.search import BadRequest, moment

DEFAULT_RANGE = timedelta(days=30)
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def stream(project: Any, since_ms: int, until_ms: int, kind: str) -> Any:
    """The dataset's bytes or lines, in the format asked for."""
    of = shape(project, since_ms, until_ms)
    found = rows(project, since_ms, until_ms, of)
    if kind == "parquet":
        return parquet_chunks(of.columns, found)
    return (csv_lines if kind == "csv" else jsonl_lines)(of.columns, found)


@api("GET")
def dataset(request: HttpRequest, user: Any, project_id: int) -> HttpResponseBase:
    project = project_of(user, project_id)
    if project is None:
        return error(404, "no such project")
    kind = request.GET.get("format", "csv")
    if kind not in FORMATS:
        raise BadRequest(f"format: one of {', '.join(FORMATS)}, not {kind!r}")
    until = _aware(moment(request, "until")) or timezone.now()
    since = _aware(moment(request, "since")) or until - DEFAULT_RANGE
    if since >= until:
        raise BadRequest("since: must come before until")
    since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    response = StreamingHttpResponse(
        stream(project, since_ms, until_ms, kind), content_type=TYPES[kind]
    )
    name = f"sessions-{project.pk}-{since:%Y%m%d}-{until:%Y%m%d}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
