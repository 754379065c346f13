"""Datasets for modelling (README, "Datasets"): one row per session of a project, from
its event-tracking records, as CSV, JSON Lines or Parquet, streamed.

Sessions are read in chunks (by start, then id) with their records, so memory stays
flat however many there are. The columns are the fixed ones of COLUMNS, then one
`friction_DETECTOR` per detector, `friction_score`, one `experiment:NAME` per experiment
the range's sessions were exposed to (the variant of the session's first exposure,
`(several)` when it saw more than one, empty when none), and one `action:NAME` per action
of the project (1 when any of the session's records matches it, else 0)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from replay.analytics.matchers import Matcher, any_matches, parse_all
from replay.friction import DETECTORS
from replay.models import Action, Project, Session, TrackedEvent
from replay.search import EXPOSURE
from replay.spreadsheets import cell

FORMATS = ("csv", "jsonl", "parquet")
CHUNK = 500  # sessions read at once
SEVERAL = "(several)"
# The fixed columns, and what each holds (README's table is checked against this).
COLUMNS = {
    "project": "the project's name",
    "session": "the session's id",
    "user": "the identify id, or empty",
    "start": "when it began (ISO 8601, UTC)",
    "duration": "seconds from its first event to its last",
    "pages": "page views",
    "clicks": "clicks",
    "inputs": "fields changed",
    "scroll_max": "the deepest scroll of its page views, % of the page (empty: never measured)",
    "scroll_mean": "the mean of its page views' deepest scrolls, %",
    "errors": "errors",
}
_INTEGERS = {"pages", "clicks", "inputs", "errors"}
_FLOATS = {"duration", "scroll_max", "scroll_mean", "friction_score"}


@dataclass
class Shape:
    """A dataset's columns, and what fills the variable ones."""

    columns: list[str]
    experiments: list[str]
    actions: list[tuple[str, list[Matcher]]]


def shape(project: Project, since_ms: int, until_ms: int) -> Shape:
    exposures = TrackedEvent.objects.filter(
        project=project, kind="custom", name=EXPOSURE, ts__gte=since_ms, ts__lt=until_ms
    ).order_by()
    names = {str(n) for n in exposures.values_list("data__props__experiment", flat=True)}
    experiments = sorted(names)
    actions = [
        (action.name, parse_all(action.matchers))
        for action in Action.objects.filter(project=project).order_by("name")
    ]
    columns = [*COLUMNS, *(f"friction_{d.name}" for d in DETECTORS), "friction_score"]
    columns += [f"experiment:{name}" for name in experiments]
    columns += [f"action:{name}" for name, _ in actions]
    return Shape(columns, experiments, actions)


class _Record:
    """What a matcher reads of a record."""

    __slots__ = ("data", "detector", "kind", "name", "text", "url")

    def __init__(self, kind: str, name: str, url: str, text: str, detector: str, data: Any):
        self.kind, self.name, self.url, self.text = kind, name, url, text
        self.detector, self.data = detector, data


def sessions(project: Project, since_ms: int, until_ms: int) -> Any:
    return Session.objects.filter(
        project=project, first_event_ms__gte=since_ms, first_event_ms__lt=until_ms
    )


def rows(project: Project, since_ms: int, until_ms: int, of: Shape) -> Iterator[dict[str, Any]]:
    """Each session's row, in order of start."""
    chosen = sessions(project, since_ms, until_ms).order_by("first_event_ms", "id")
    fields = ("pk", "user_id", "first_event_ms", "last_event_ms", "friction_score")
    after: tuple[int, str] | None = None
    while True:
        page = chosen
        if after is not None:
            at, pk = after
            page = page.filter(first_event_ms__gt=at) | page.filter(first_event_ms=at, pk__gt=pk)
        batch = list(page.order_by("first_event_ms", "id").values_list(*fields)[:CHUNK])
        if not batch:
            return
        after = (batch[-1][2], batch[-1][0])
        yield from _chunk(project, batch, of)


def _chunk(project: Project, batch: list[tuple[Any, ...]], of: Shape) -> Iterator[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    scrolls: dict[str, list[float]] = {}
    variants: dict[str, dict[str, str]] = {}
    for pk, user, first, last, score in batch:
        row: dict[str, Any] = {
            "project": project.name,
            "session": pk,
            "user": user,
            "start": datetime.fromtimestamp(first / 1000, UTC).isoformat(),
            "duration": ((last or first) - first) / 1000,
            "pages": 0,
            "clicks": 0,
            "inputs": 0,
            "scroll_max": None,
            "scroll_mean": None,
            "errors": 0,
            **{f"friction_{d.name}": 0 for d in DETECTORS},
            "friction_score": score,
            **{f"experiment:{name}": "" for name in of.experiments},
            **{f"action:{name}": 0 for name, _ in of.actions},
        }
        found[pk] = row
    counted = {"pageview": "pages", "click": "clicks", "input": "inputs", "error": "errors"}
    records = TrackedEvent.objects.filter(session_id__in=list(found)).order_by("ts", "id")
    fields = ("session_id", "kind", "name", "url", "text", "detector", "data")
    for session_id, kind, name, url, text, detector, data in records.values_list(*fields):
        row = found[session_id]
        if kind in counted:
            row[counted[kind]] += 1
        elif kind == "friction" and f"friction_{name}" in row:
            row[f"friction_{name}"] += 1
        elif kind == "scroll" and isinstance(data, dict):
            percent = data.get("percent")
            if isinstance(percent, int | float):
                scrolls.setdefault(session_id, []).append(float(percent))
        elif kind == "custom" and name == EXPOSURE and isinstance(data, dict):
            props = data.get("props")
            props = props if isinstance(props, dict) else {}
            experiment, variant = str(props.get("experiment")), str(props.get("variant"))
            seen = variants.setdefault(session_id, {})
            if experiment in seen and seen[experiment] != variant:
                seen[experiment] = SEVERAL
            else:
                seen.setdefault(experiment, variant)
        if of.actions:
            record = _Record(kind, name, url, text, detector, data)
            for action, matchers in of.actions:
                if not row[f"action:{action}"] and any_matches(matchers, record):
                    row[f"action:{action}"] = 1
    for session_id, row in found.items():
        reads = scrolls.get(session_id)
        if reads:
            row["scroll_max"] = max(reads)
            row["scroll_mean"] = sum(reads) / len(reads)
        for experiment, variant in variants.get(session_id, {}).items():
            if f"experiment:{experiment}" in row:
                row[f"experiment:{experiment}"] = variant
        yield row


def csv_lines(columns: list[str], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV, a line at a time; text that a spreadsheet would run is escaped (`cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else cell(row[c]) for c in columns])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def jsonl_lines(columns: list[str], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n"


def parquet_chunks(columns: list[str], rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Parquet, a row group of CHUNK sessions at a time, written as it goes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(column: str) -> Any:
        if column in _INTEGERS or column.startswith(("friction_", "action:")):
            return pa.float64() if column == "friction_score" else pa.int64()
        return pa.float64() if column in _FLOATS else pa.string()

    schema = pa.schema([(c, kind(c)) for c in columns])
    sink = _Sink()
    with pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
                yield sink.take()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    yield sink.take()


class _Sink(io.RawIOBase):
    """A file Parquet is written to, whose bytes are taken as they come."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.size

    def take(self) -> bytes:
        taken = b"".join(self.parts)
        self.parts = []
        return taken
