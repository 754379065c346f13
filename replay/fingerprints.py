"""The fingerprint of an error, which groups the same error across sessions (README,
"Error groups"): its message with what varies between occurrences normalized (URLs,
ids, numbers, quoted values), plus the top frames of its stack (function and file,
without line, column, query or build hash). Pure: no Django, no IO.

`TypeError: cannot read 'price' of item 42` and `... of item 7` are one error; the same
message thrown from two different functions is two."""

from __future__ import annotations

import hashlib
import re

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
# Stack frames as Chrome writes them ("at f (url:1:2)", "at url:1:2") and as Firefox and
# Safari do ("f@url:1:2").
_CHROME_FRAME = re.compile(r"^\s*at\s+(?:(?P<fn>.+?)\s+\()?(?P<file>[^()]+?)(?::\d+)*\)?\s*$")
_GECKO_FRAME = re.compile(r"^\s*(?P<fn>[^@]*)@(?P<file>.+?)(?::\d+)*\s*$")
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
        match = _CHROME_FRAME.match(line) or _GECKO_FRAME.match(line)
        if match is None or not match.group("file"):
            continue
        where = match.group("file").strip()
        if "://" in where:
            where = where.split("://", 1)[1]
            where = where.split("/", 1)[1] if "/" in where else ""
        where = _BUILD_HASH.sub("", where.split("?")[0].split("#")[0])
        function = (match.group("fn") or "").strip() or "?"
        found.append(f"{function} {where}")
        if len(found) == TOP_FRAMES:
            break
    return found


def fingerprint(message: str, stack: str = "") -> str:
    """The error's group: 16 hex digits of its normalized message and top frames."""
    text = "\n".join([normalized_message(message), *frames(stack)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
