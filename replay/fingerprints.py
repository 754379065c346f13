"""The fingerprint of an error, which groups the same error across sessions (README,
"Error groups"): its message with what varies between occurrences normalized (URLs,
ids, numbers, quoted values), plus the top frames of its stack (function and file,
without line, column, query or build hash). Pure: no Django, no IO.

`TypeError: cannot read 'price' of item 42` and `... of item 7` are one error; the same
message thrown from two different functions is two.

Each error record keeps its fingerprint from when it was tracked (`TrackedEvent.fingerprint`,
which error groups are counted by). A change of these rules therefore comes with a
migration that computes the stored ones again (`replay.analytics.error_groups.refingerprint`,
as migration 0021 does), or old occurrences and new ones fall in different groups."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

TOP_FRAMES = 3
MAX_MESSAGE = 500

_URL = re.compile(r"\b(?:https?|wss?|file|blob|data):[^\s'\"()<>]+")
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b")  # hashes, hex ids
_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}\b")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:[.,]\d+)*")
_QUOTED_NUMBER = re.compile(r"(['\"`])<n>\1")
_SPACES = re.compile(r"\s+")
_BUILD_HASH = re.compile(r"[.-][0-9a-f]{6,}(?=\.)")


def normalized_message(message: str) -> str:
    """The message with what varies between occurrences replaced: `<url>`, `<id>`,
    `<n>`."""
    text = _URL.sub("<url>", message[:MAX_MESSAGE])
    text = _UUID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    text = _TOKEN.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    text = _QUOTED_NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).strip()


def frames(stack: str) -> list[str]:
    """The stack's top frames as `function file`, the file without its origin, query,
    line and column, or build hash."""
    found = []
    for line in stack.splitlines():
        frame = _chrome_frame(line) or _gecko_frame(line)
        if frame is None:
            continue
        function, where = frame
        if "://" in where:
            where = where.split("://", 1)[1]
            where = where.split("/", 1)[1] if "/" in where else ""
        where = _BUILD_HASH.sub("", where.split("?")[0].split("#")[0])
        found.append(f"{function.strip() or '?'} {where}")
        if len(found) == TOP_FRAMES:
            break
    return found


# Stack frames are read with string operations, not patterns: a hostile stack line of a
# hundred thousand ":1" took a minute to match against the patterns this replaced.


def _chrome_frame(line: str) -> tuple[str, str] | None:
    """(function, file) of a frame as Chrome writes it: `at f (url:1:2)`, `at url:1:2`."""
    text = line.strip()
    if not (text.startswith("at") and text[2:3].isspace()):
        return None
    rest = text[2:].lstrip()
    function = ""
    head, paren, where = rest.rpartition("(")
    if paren:
        if not head.strip() or not head[-1].isspace():
            return None
        function = head
    if where.endswith(")"):
        where = where[:-1].rstrip()
    if "(" in where or ")" in where:
        return None
    where = _without_position(where)
    return (function, where) if where else None


def _gecko_frame(line: str) -> tuple[str, str] | None:
    """(function, file) of a frame as Firefox and Safari write it: `f@url:1:2`."""
    function, at, where = line.strip().partition("@")
    where = _without_position(where)
    return (function, where) if at and where else None


def _without_position(where: str) -> str:
    """A frame's file without the `:line:column` after it (keeping at least one
    character)."""
    while True:
        head, colon, digits = where.rpartition(":")
        if not (colon and head and digits.isdigit() and digits.isascii()):
            return where.strip()
        where = head


def fingerprint(message: str, stack: str = "") -> str:
    """The error's group: 16 hex digits of its normalized message and top frames."""
    text = "\n".join([normalized_message(message), *frames(stack)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_fingerprint(data: Mapping[str, Any]) -> str:
    """The fingerprint of an error record's data (`replay.tracking`: message, stack)."""
    return fingerprint(str(data.get("message") or ""), str(data.get("stack") or ""))
