"""Scrubbing personal data out of recordings before anything is stored: email addresses,
payment card numbers (Luhn checked), phone numbers, national ids (US SSN, IBAN),
token-like strings (JWTs, API keys), sensitive URL query values, and whatever patterns a
project adds. Every string of every event is scrubbed, wherever rrweb put it: text nodes,
attributes, input values, custom event properties, URLs. Matches become `[email]`,
`[card]` and so on. Pure.

`Scrubber.needed` looks at a batch's packed bytes first (one regex pass over them, at C
speed), so that batches with nothing to scrub (most) are stored as they came."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_CARD = (  # as cards are written: one run of digits, or groups of four (Amex 4-6-5)
    r"(?<![\d.-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})"
    r"(?![\d-])"
)
_SSN = r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"
_IBAN = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"
_PHONE = (
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])"
    r"\d{2,4}[ .-]\d{2,4}(?:[ .-]\d{2,4}){0,3}(?!\w)"
)
_TOKEN = (
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"  # Stripe-like keys
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"  # GitHub tokens
)
_KINDS = [
    ("email", _EMAIL),
    ("token", _TOKEN),
    ("iban", _IBAN),
    ("ssn", _SSN),
    ("card", _CARD),
    ("phone", _PHONE),
]
# Query parameters whose values are secrets or personal, whatever they look like.
_SENSITIVE_PARAMS = re.compile(
    r"token|secret|password|passwd|pwd|auth|session|key|code|email|mail|phone|ssn|card",
    re.IGNORECASE,
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]*\?", re.IGNORECASE)


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class Scrubber:
    """The built-in kinds plus a project's own patterns (each replaced by `[redacted]`)."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        self.extra = [re.compile(p) for p in extra_patterns]
        parts = [f"(?P<{kind}>{pattern})" for kind, pattern in _KINDS]
        self.pattern = re.compile("|".join(parts))
        hints = [pattern for _, pattern in _KINDS] + [
            r"[?&][^=&#\s]*(?:" + _SENSITIVE_PARAMS.pattern + r")[^=&#\s]*="
        ]
        self.hint = re.compile("|".join(hints), re.IGNORECASE)

    def needed(self, packed: bytes) -> bool:
        """Whether a batch's bytes may hold something to scrub."""
        text = packed.decode("utf-8", "replace")
        return bool(self.hint.search(text)) or any(p.search(text) for p in self.extra)

    def text(self, value: str) -> str:
        if _URL.match(value):
            value = self._query(value)
        value = self.pattern.sub(self._replace, value)
        for extra in self.extra:
            value = extra.sub("[redacted]", value)
        return value

    def value(self, value: Any) -> Any:
        """Any decoded value, every string in it scrubbed (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {
                (self.text(k) if isinstance(k, str) else k): self.value(v) for k, v in value.items()
            }
        return value

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or "redacted"
        digits = re.sub(r"\D", "", match.group())
        if kind == "card" and not luhn(digits):
            return match.group()
        if kind == "phone" and not 9 <= len(digits) <= 15:  # not a date or a price
            return match.group()
        return f"[{kind}]"

    def _query(self, url: str) -> str:
        try:
            parts = urlsplit(url)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError:
            return url
        if not any(_SENSITIVE_PARAMS.search(name) for name, _ in pairs):
            return url
        cleaned = [
            (name, "[redacted]" if _SENSITIVE_PARAMS.search(name) else value)
            for name, value in pairs
        ]
        return urlunsplit(parts._replace(query=urlencode(cleaned, safe="[]")))
