"""A funnel's candidate records, found by the database: each entity's records that may
match a step or an exclusion, in time order, one entity at a time.

The database narrows the records with a condition every matching record meets (a
superset: the kind, a friction's or custom event's name, the words of a glob, a click's
text, and the ids, classes and attribute values a selector's subject names, in the
clicked element's JSON), from the entity's first possible start on; each record it
returns is then matched exactly by its matchers in Python, once per distinct record
content. A strict funnel also needs to know when the
entity did something that matches nothing (which interrupts it): a window function gives
each candidate the latest such moment before it, so those records never leave the
database. Memory grows with one entity's candidates, never with the records."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from replay.analytics.funnels import INTERRUPTING, Candidate
from replay.analytics.matchers import Matcher, words
from replay.models import Session, TrackedEvent
from replay.selectors import folds_case

if TYPE_CHECKING:
    from replay.analytics.funnel_query import Query

# What can be looked for as a substring of a record's JSON text: characters that JSON
# (Python's, PostgreSQL's, SQLite's) never escapes.
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_CHUNK = 5000
_WORK_MEM = "128MB"  # for each sort of a funnel's query, on PostgreSQL
_CACHE_LIMIT = 100_000  # distinct record contents remembered while a funnel runs


def _like(piece: str) -> str:
    escaped = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: str, piece: str, params: list[Any]) -> str:
    params.append(_like(piece))
    return f"{column} LIKE %s ESCAPE '\\'"


def _selector_tokens(matcher: Matcher) -> list[list[str]]:
    """For each selector of the list, what the clicked element's JSON must contain for
    it to match: the ids, classes and attribute names and values (those compared
    exactly; those compared ignoring case are left out) of its subject, the compound
    the element itself must match."""
    assert matcher.selector is not None
    found = []
    for complex_ in matcher.selector.complexes:
        tokens = []
        for compound, _ in complex_.parts[:1]:
            tokens += compound.ids + compound.classes
            for name, op, wanted, fold in compound.attributes:
                tokens.append(name)
                # (a value True is stored as true, and compared as "True")
                exact = op is not None and not fold and not folds_case(name)
                if exact and wanted.lower() not in "true false":
                    tokens.append(wanted)
        found.append([token for token in tokens if _PLAIN.fullmatch(token)])
    return found


def superset(matcher: Matcher, params: list[Any]) -> str:
    """A condition on a record `r` that every record the matcher matches meets."""
    spec = matcher.spec
    params.append(matcher.kind)
    parts = ["r.kind = %s"]
    if matcher.kind == "pageview":
        parts += [_contains("r.url", piece, params) for piece in spec["url"].split("*") if piece]
    elif matcher.kind in ("click", "input"):
        if "text" in spec:
            parts += [_contains("r.text", word, params) for word in words(spec["text"]).split()]
        if matcher.selector is not None:
            element = "CAST(r.data -> 'element' AS TEXT)"  # only that part of the JSON
            if connection.vendor == "sqlite":
                element = "json_extract(r.data, '$.element')"
            alternatives = []
            for tokens in _selector_tokens(matcher):
                each = [_contains(element, token, params) for token in tokens]
                alternatives.append(" AND ".join(each) or "1 = 1")
            parts.append("(" + " OR ".join(alternatives) + ")")
    elif matcher.kind in ("custom", "friction"):
        params.append(spec["name"][:200])  # the column holds the name's first 200
        parts.append("r.name = %s")
    return "(" + " AND ".join(parts) + ")"


def _kinds(query: Query) -> list[str]:
    kinds = {m.kind for m in query.spec.matchers}
    if query.spec.order == "strict":
        kinds |= INTERRUPTING
    return sorted(kinds)


def _needs_data(query: Query) -> list[str]:
    """The kinds whose records' data a matcher or the breakdown reads: the rest are read
    without it."""
    matchers = query.spec.matchers
    kinds = {m.kind for m in matchers if m.kind in ("click", "input", "error")}
    kinds |= {m.kind for m in matchers if m.kind == "custom" and m.spec.get("props")}
    if query.breakdown is not None and query.breakdown.startswith("prop:"):
        kinds.add("custom")  # the breakdown reads step 1's props
    return sorted(kinds)


def _placeholders(values: list[Any], params: list[Any]) -> str:
    params += values
    return ", ".join(["%s"] * len(values)) or "NULL"


def _sql(project_id: int, query: Query) -> tuple[str, list[Any]]:
    """Each entity's first possible start (a record that may match step 1, or any step
    for `any`, inside the range), and its records from then on that may match; for a
    strict funnel also every record of an interrupting kind, whose latest moment before
    each candidate a window function gives, before only the candidates are kept."""
    spec = query.spec
    # Entities are grouped in any order: a session by its id (its records come in order
    # from the (session, ts) index); a user by a number, which sorts far faster than
    # an id, from `users`: each session's user (its identify id, or itself).
    entity, label, joined, prefix, named = "r.session_id", "r.session_id", "", "", []
    if query.count == "users":
        entity, label = "s.number", "s.name"
        joined = "JOIN users s ON s.id = r.session_id"
        user = "COALESCE(NULLIF(user_id, ''), id)"
        # (Computed where it is used: PostgreSQL then hashes the sessions, not the
        # records, to join them.)
        inlined = " NOT MATERIALIZED" if connection.vendor == "postgresql" else ""
        prefix = (
            f"WITH users AS{inlined} (SELECT id, {user} AS name, DENSE_RANK() OVER"
            f" (ORDER BY {user}) AS number FROM {Session._meta.db_table} WHERE project_id = %s) "
        )
        named = [project_id]
    records = TrackedEvent._meta.db_table
    matchers = spec.matchers
    starters = [m for step in spec.steps for m in step] if spec.order == "any" else spec.steps[0]
    strict = spec.order == "strict"

    # Each fragment's parameters, in the order its placeholders come in the text.
    selected: list[Any] = []
    data = f"CASE WHEN r.kind IN ({_placeholders(_needs_data(query), selected)}) THEN r.data END"
    url = "r.url" if query.breakdown == "url" else "CASE WHEN r.kind = 'pageview' THEN r.url END"
    first: list[Any] = [project_id, query.since_ms, query.until_ms]
    starts = (
        f"SELECT {entity} AS entity, MIN(r.ts) AS first_start FROM {records} r {joined}"
        " WHERE r.project_id = %s AND r.ts >= %s AND r.ts < %s"
        f" AND ({' OR '.join(superset(m, first) for m in starters)}) GROUP BY {entity}"
    )
    # Each session with its entity's first start: records are joined with it alone.
    bound = f"SELECT entity AS session_id, first_start FROM ({starts}) f"
    if query.count == "users":
        bound = (
            "SELECT s.id AS session_id, s.number AS entity, s.name AS label, f.first_start"
            f" FROM users s JOIN ({starts}) f ON f.entity = s.number"
        )
        entity, label = "b.entity", "b.label"
    from_starts = f"FROM {records} r JOIN ({bound}) b"
    from_starts += " ON b.session_id = r.session_id AND r.ts >= b.first_start"
    columns = f"{label} AS label, r.session_id, r.kind, r.name, {url} AS url, r.text"
    columns += f", {data} AS data"
    where: list[Any] = []
    bounds = f"r.kind IN ({_placeholders(_kinds(query), where)}) AND r.project_id = %s"
    where.append(project_id)
    if spec.window_ms is not None:
        bounds += " AND r.ts <= %s"
        where.append(query.until_ms + spec.window_ms)
    if not strict:
        candidate = " OR ".join(superset(m, where) for m in matchers)
        sql = f"{prefix}SELECT {label}, r.session_id, r.ts, r.kind, r.name, {url}, r.text,"
        sql += f" CAST({data} AS TEXT), NULL {from_starts}"
        sql += f" WHERE {bounds} AND ({candidate}) ORDER BY {entity}, r.ts, r.id"
        return sql, named + selected + first + where
    # Strict: every record of the entity's from its first start, narrow (only the
    # candidates keep their columns), gives each the latest moment before it at which
    # the entity did something that matches nothing; then the candidates are kept.
    # (For users, OFFSET 0 keeps PostgreSQL from sorting every column of every record
    # by user before computing these.)
    fence = " OFFSET 0" if connection.vendor == "postgresql" and query.count == "users" else ""
    narrow: list[Any] = []
    other = f"CASE WHEN r.kind IN ({_placeholders(sorted(INTERRUPTING), narrow)}) THEN r.ts END"
    candidate = " OR ".join(superset(m, narrow) for m in matchers)
    wide = ["label", "session_id", "kind", "name", "url", "text", "data"]
    rows = (
        f"SELECT {entity} AS entity, r.ts, r.id, {other} AS other, CASE WHEN {candidate}"
        f" THEN 1 ELSE 0 END AS candidate, {columns} {from_starts} WHERE {bounds}"
    )
    kept = ", ".join(f"CASE WHEN candidate = 1 THEN {name} END AS {name}" for name in wide)
    windowed = (
        # Among records at the same time the candidates come first, so the records
        # before a candidate that match nothing are those of earlier times: rows, not a
        # range of times, which PostgreSQL computes far faster.
        "SELECT n.*, MAX(CASE WHEN n.candidate = 0 THEN n.other END) OVER (PARTITION BY"
        " n.entity ORDER BY n.ts, n.candidate DESC ROWS UNBOUNDED PRECEDING)"
        f" AS other_before FROM (SELECT entity, ts, id, other, candidate, {kept}"
        f" FROM ({rows}{fence}) a{fence}) n"
    )
    sql = (
        f"{prefix}SELECT label, session_id, ts, kind, name, url, text, CAST(data AS TEXT),"
        " other_before"
        f" FROM ({windowed}) w"
        " WHERE candidate = 1 ORDER BY entity, ts, id"
    )
    return sql, named + narrow + selected + first + where


def candidates(project_id: int, query: Query) -> Iterator[tuple[str, list[Candidate]]]:
    """Each entity's candidates, in time order, one entity at a time."""
    sql, params = _sql(project_id, query)
    masks: dict[tuple[Any, ...], int] = {}
    spec = query.spec
    entity: str | None = None
    found: list[Candidate] = []
    for key, session_id, ts, kind, name, url, text, data, other in _rows(sql, params):
        content = (kind, name, url, text, data)
        mask = masks.get(content)
        if mask is None:
            if len(masks) >= _CACHE_LIMIT:
                masks.clear()
            record = _Record(kind, name, url or "", text, json.loads(data) if data else {})
            mask = masks[content] = spec.mask(record)
        if key != entity:
            if found:
                yield str(entity), found
            entity, found = key, []
        found.append(Candidate(session_id, ts, kind, mask, other, url or "", data))
    if found:
        yield str(entity), found


def _rows(sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows, streamed. PostgreSQL streams a plain query (a cursor would
    forgo parallel workers, and the database works while Python reads), without JIT
    compilation, which costs more than it saves on a query planned this roughly, and
    with room to sort in memory."""
    if connection.vendor != "postgresql":
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(_CHUNK):
                yield from rows
        return
    with transaction.atomic():  # what SET LOCAL sets lasts until its end
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        assert connection.connection is not None
        with connection.connection.cursor() as raw:
            yield from raw.stream(sql, params, size=_CHUNK)


class _Record:
    """What a matcher reads of a record."""

    __slots__ = ("data", "detector", "kind", "name", "text", "url")

    def __init__(self, kind: str, name: str, url: str, text: str, data: Any) -> None:
        self.kind, self.name, self.url, self.text, self.data = kind, name, url, text, data
        self.detector = ""
