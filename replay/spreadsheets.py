"""CSV as the server writes it: safe to open in a spreadsheet. Pure: no Django, no IO.

Recorded text is whatever a page or a visitor put there, and a spreadsheet runs a cell
that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one)
as a formula: ``=HYPERLINK(...)`` leaks data when clicked, ``=cmd|...`` has run
programs. Such text cells get a leading ``'``, which spreadsheets show as text and do
not display. Numbers stay numbers; maps and lists are written as JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """One value as a CSV cell."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header line, then each row's values of `columns` (missing ones empty)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column, "")) for column in columns])
    return out.getvalue()
