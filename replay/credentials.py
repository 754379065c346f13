"""Credentials in the bodies of recorded requests and in the objects a page logs, redacted
whatever the project's other options say, as credential headers are never kept: the
values of fields named like a password, a secret, a token, an API key, a one-time code
or a card's security code, in JSON (a whole body or one cut at its size limit, a logged
object as the console plugin writes it) and in form-encoded bodies
(`user=jane&password=...`), JSON text held in a JSON string (an API echoing what it was
sent), and in bodies other rrweb clients send as objects. Each such
value becomes `"[redacted]"`; the rest is kept as it was written. Our recorder redacts
the same fields before they leave the page (`CREDENTIAL_FIELDS`); this is done again on
whatever comes. Pure."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"
# Field names, matched anywhere in the name and in any case (`newPassword`, `api_key`,
# `X-Auth-Token`), but for the short ones, which must be the whole name (`pin`, not
# `shipping`).
_NAMES = (
    "password|passwd|passphrase|passcode|secret|token|credential|api[_-]?key|private[_-]?key"
    "|authorization|signature"
)
_SHORT_NAMES = "pwd|pass|otp|cvv|cvc|pin"
CREDENTIAL_NAMES = re.compile(f"(?i:{_NAMES}|^(?:{_SHORT_NAMES})$)")
# The same names for recorders, which redact them before anything leaves the page
# (static/replay/credentials.js): sent with the recording options.
CREDENTIAL_FIELDS = {"names": _NAMES, "short": _SHORT_NAMES}
# A JSON member whose value is a string, a number or a literal: the name (escapes and
# all) and the value. A body cut at its size limit is no longer JSON, but its members
# before the cut still read so.
_MEMBER = re.compile(
    r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)'
)
# Bytes that may hold a credential field's name (the pre-check of a packed event; the
# short names are found as JSON writes them, quoted, escaped or not).
_MENTIONED = re.compile(f'(?i:{_NAMES}|\\\\?"(?:{_SHORT_NAMES})\\\\?")'.encode())
# A form-encoded body: name=value pairs and nothing else.
_FORM = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*")


def mentioned(packed: bytes) -> bool:
    """Whether packed bytes may hold a credential field (a cheap pre-check)."""
    return _MENTIONED.search(packed) is not None


def redact_body(body: Any) -> Any:
    """The body with the values of credential fields redacted (the very object when
    there are none)."""
    if isinstance(body, str):
        return _redact_text(body)
    if isinstance(body, dict | list):
        return _redact_value(body)
    return body


def _redact_text(text: str) -> str:
    if _FORM.fullmatch(text):
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(CREDENTIAL_NAMES.search(name) for name, _ in pairs):
            return text
        cleaned = [(n, REDACTED if CREDENTIAL_NAMES.search(n) else v) for n, v in pairs]
        return urlencode(cleaned, safe="[]")
    if '"' not in text:
        return text
    return _MEMBER.sub(_member, text)


def _member(match: re.Match[str]) -> str:
    name, colon, value = match.groups()
    if CREDENTIAL_NAMES.search(name):
        return f'"{name}"{colon}"{REDACTED}"'
    if value.startswith('"') and '\\"' in value:  # JSON text in a string (an echo)
        try:
            inner = json.loads(value)
        except ValueError:
            return match.group()
        cleaned = _redact_text(inner)
        if cleaned != inner:
            return f'"{name}"{colon}{json.dumps(cleaned, ensure_ascii=False)}'
    return match.group()


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and CREDENTIAL_NAMES.search(key)
            else _redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, str):
        return _redact_text(value)
    return value
