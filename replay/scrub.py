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
# Each kind is looked for only where a cheap test says it may be: long text (style sheets
# are hundreds of kilobytes) must not pay for a many-way pattern at every character.
_NUMBERS = re.compile(
    "|".join(f"(?P<{k}>{p})" for k, p in [("ssn", _SSN), ("card", _CARD), ("phone", _PHONE)])
)
# Where a number kind may sit: a run of digits and separators (one character class, so
# it is found in linear time) holding nine digits or more (an SSN has nine).
_NUMBER_RUN = re.compile(r"\+?\(?\d[\d ().-]{7,}\d")
_TOKENS = re.compile(_TOKEN)
_TOKEN_HINTS = ("eyJ", "_live_", "_test_", "AKIA", "gh")
_EMAILS = re.compile(_EMAIL)
_IBANS = re.compile(_IBAN)
_IBAN_HINT = re.compile(r"[A-Z]{2}\d{2}")
# Most strings (tag and class names, words) hold none of the characters any kind needs.
_QUICK = re.compile(r"[@?\d]|eyJ|_live_|_test_|AKIA|gh[pousr]_")
# Query parameters whose values are secrets or personal, whatever they look like.
_SENSITIVE_PARAMS = re.compile(
    r"(?i:token|secret|password|passwd|pwd|auth|session|key|code|email|mail|phone|ssn|card)"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]*\?", re.IGNORECASE)


_SEPARATORS = b" ().-+"
_DIGITS_AS_HASH = bytes.maketrans(b"0123456789" + _SEPARATORS, b"#" * (10 + len(_SEPARATORS)))
_NINE = b"#" * 9
_SHAPES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", b"A" * 26 + b"#" * 10)
_IBAN_BYTES = re.compile(rb"[A-Z]{2}[0-9]{2}[ A-Z0-9]{12,}")
# The other kinds in a batch's bytes: whole patterns, not single characters (the bytes
# are mostly binary msgpack, where "@" or "gh" turn up by chance), each searched on its
# own so that those starting with a literal are found at memchr speed.
_HINTS = [
    re.compile(pattern)
    for pattern in (
        r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",  # an email's domain
        r"eyJ[A-Za-z0-9_-]{8,}\.",
        r"_(?:live|test)_[A-Za-z0-9]{10,}",
        r"AKIA[0-9A-Z]{16}",
        r"_[A-Za-z0-9]{30,}",  # GitHub tokens (gh?_...)
        r"://[^\s\"'<>]{0,200}?\?",  # a URL with a query (its values are checked)
    )
]


def _enough_digits(run: str) -> bool:
    return sum(char.isdigit() for char in run) >= 9


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
        self.patterns = tuple(extra_patterns)
        self.extra = [re.compile(p) for p in self.patterns]

    def needed(self, packed: bytes) -> bool:
        """Whether a batch's bytes may hold something to scrub."""
        # Numbers: digits and separators all become "#" (one C pass), so runs of nine
        # or more are found without trying a pattern at every digit.
        hashes = packed.translate(_DIGITS_AS_HASH)
        at = hashes.find(_NINE)
        while at >= 0:
            end = at + 9
            while end < len(hashes) and hashes[end] == 35:  # "#"
                end += 1
            if len(packed[at:end].translate(None, _SEPARATORS)) >= 9:
                return True
            at = hashes.find(_NINE, end)
        # IBANs: two capitals and two digits, found as "AA##" after one more C pass.
        shapes = packed.translate(_SHAPES)
        at = shapes.find(b"AA##")
        while at >= 0:
            if _IBAN_BYTES.match(packed, at):
                return True
            at = shapes.find(b"AA##", at + 1)
        # Latin-1 maps each byte to one character, without the cost of decoding errors;
        # the hints are ASCII.
        text = packed.decode("latin-1")
        if any(hint.search(text) for hint in _HINTS):
            return True
        if not self.extra:
            return False
        text = packed.decode("utf-8", "replace")
        return any(pattern.search(text) for pattern in self.extra)

    def text(self, value: str) -> str:
        if _QUICK.search(value):
            value = self._builtin(value)
        for extra in self.extra:
            value = extra.sub("[redacted]", value)
        return value

    def _builtin(self, value: str) -> str:
        if "?" in value and _URL.match(value):
            value = self._query(value)
        if "@" in value:
            value = _EMAILS.sub("[email]", value)
        if any(hint in value for hint in _TOKEN_HINTS):
            value = _TOKENS.sub("[token]", value)
        if _IBAN_HINT.search(value):
            value = _IBANS.sub("[iban]", value)
        return _NUMBER_RUN.sub(self._numbers, value)

    def value(self, value: Any) -> Any:
        """Any decoded value, every string in it scrubbed (not the keys of maps: they
        are rrweb's field and attribute names)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value

    def _numbers(self, run: re.Match[str]) -> str:
        if not _enough_digits(run.group()):
            return run.group()
        return _NUMBERS.sub(self._number, run.group())

    def _number(self, match: re.Match[str]) -> str:
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
