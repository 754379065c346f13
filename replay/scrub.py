"""Scrubbing personal data out of recordings before anything is stored: email addresses,
payment card numbers (Luhn checked), phone numbers (also written compactly, `+14155550142`
or in a `tel:` link), national ids (US SSN, IBAN), token-like strings (JWTs, API keys),
the values of sensitive URL parameters (in the query or the fragment, in any URL within
a text: `replay.url_parameters`), and whatever patterns a project adds. Matches become
`[email]`, `[card]` and so on. Pure.

Every string and every map key of every event is scrubbed, wherever rrweb put it: text
nodes, attributes, input values, style rules, console traces, custom event properties,
URLs. Where a string is a URL or part of one (an attribute, a style `url()`, a `srcset`,
a stack trace), each of its pieces that is percent-encoded (once or twice over, with `+`
for a space or not) is decoded before matching, and what matches is replaced in the
piece, which is encoded again. In the payloads of custom and plugin events, integers are
personal data too when they are shaped like a card number (an issuer's first digit,
Luhn checked) or a phone number.

`Scrubber.needed` looks at a batch's packed bytes first (a few passes over them at C
speed), so that batches with nothing to scrub (most) are stored as they came."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from replay.rrweb import CUSTOM, PLUGIN
from replay.url_parameters import redact_urls

# An address's local part is looked for only from the start of its run of characters,
# and neither part gives back what it took (possessive): a hostile text of a million
# such characters, or of "a.a.a...", costs one pass, not one per position.
_EMAIL = (
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@"
    r"[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*\.[A-Za-z]{2,}+"
)
_CARD = (  # as cards are written: one run of digits, or groups of four (Amex 4-6-5)
    r"(?<![\d.-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})"
    r"(?![\d-])"
)
_SSN = r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"
_IBAN = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"
_PHONE = (
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])"
    r"\d{2,4}[ .-]\d{2,4}(?:[ .-]\d{2,4}){0,3}(?!\w)"
    r"|(?<![\w+])\+\d{9,15}(?!\d)"  # compactly, in international form (E.164)
)
# A phone link's number, however it is written.
_TEL = re.compile(r"(?i)\b(tel|sms|callto):\+?[\d ().-]*\d")
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
# Most strings (tag and class names, words) hold none of the characters any kind needs
# (a URL with a fragment, where sign-in flows put tokens, `#access_token=`, may hold no
# other: `_plain` looks for its "://" and "#" apart, in linear time whatever the text).
_QUICK = re.compile(r"[@?\d]|eyJ|_live_|_test_|AKIA|gh[pousr]_")
# A URL's pieces lie between its delimiters (and a text's words between spaces and
# quotes); a piece with a percent escape or a plus may hide personal data.
_PIECES = re.compile(r"([\s\"'()<>/?&=#;,\\]+)")
_ENCODED_SAFE = "[]:@!$*+~"  # kept as they are when a scrubbed piece is encoded again
# Integers: the first digits of payment cards' issuers (Visa, Mastercard, Amex, Diners,
# Discover, JCB, UnionPay), and the shapes of phone numbers written as digits alone: US
# numbers with or without the country code, and other countries' with theirs (a number
# of eleven digits or more starting 2-9; times in milliseconds start with 1).
_CARD_ISSUER = re.compile(r"2[2-7]|[3-6]")
_PHONE_DIGITS = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}|[2-9]\d{10,14}")
# rrweb's custom (5) and plugin (6) events: payloads that a page fills as it likes.
_PAYLOAD_EVENTS = (5, 6)


_SEPARATORS = b" ().-+"
_DIGITS_AS_HASH = bytes.maketrans(b"0123456789" + _SEPARATORS, b"#" * (10 + len(_SEPARATORS)))
_NINE = b"#" * 9
_SHAPES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", b"A" * 26 + b"#" * 10)
_IBAN_BYTES = re.compile(rb"[A-Z]{2}[0-9]{2}[ A-Z0-9]{12,}")
# Percent escapes of the characters numbers are written with ("%20", "%2B", "%252D"...):
# each counts as a separator when the bytes are looked at for numbers.
_ESCAPED_SEPARATOR = re.compile(rb"%(?:25)*2[0-9A-Fa-f]")
# Those escapes, and an email's "@" escaped ("%40jane", "%2540jane"): one pass finds both.
_ESCAPE = re.compile(rb"%(?:25)*(?:(40)[A-Za-z0-9]|2[0-9A-Fa-f])")
_DIGIT_OR_BRACKET = frozenset(bytes([c]) for c in b"0123456789)")
# msgpack's markers of integers and floats wide enough for a card or a phone number.
_WIDE_NUMBER = re.compile(rb"[\xce\xcf\xd3\xcb]")
# The key "type" and a custom or plugin event's type ("type": 5 or 6), as msgpack
# writes them.
_TYPE_KEY = b"\xa4type"
_PAYLOAD_TYPE = re.compile(rb"\xa4type[" + bytes((CUSTOM, PLUGIN)) + rb"]")
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
        # A URL with a query (its values are checked), or with parameters in its
        # fragment. Each scan stops at the next "://" and never backtracks (possessive),
        # so that a text made of "://" costs one pass, not one per occurrence.
        r"://(?:[^\s\"'<>?:]|:(?!//)){0,200}+\?",
        r"://(?:[^\s\"'<>#:]|:(?!//)){0,200}+#(?:[^\s\"'<>=:]|:(?!//)){0,200}+=",
    )
]


_KEYS_REMEMBERED = 4096


def _digit_run(packed: bytes) -> bool:
    """Whether the bytes hold a run of digits and separators with nine digits or more.
    Digits and separators all become "#" (one C pass), so runs are found without trying
    a pattern at every digit."""
    hashes = packed.translate(_DIGITS_AS_HASH)
    at = hashes.find(_NINE)
    while at >= 0:
        end = at + 9
        while end < len(hashes) and hashes[end] == 35:  # "#"
            end += 1
        if len(packed[at:end].translate(None, _SEPARATORS)) >= 9:
            return True
        at = hashes.find(_NINE, end)
    return False


def _escaped(packed: bytes) -> bool:
    """Whether the bytes hold an email's "@" percent-encoded, or a run of digits and
    separators with nine digits or more when percent escapes of separators count as
    separators. Runs are looked for around each escape that follows a digit or a
    bracket (a number's escapes are between its digits), with the escapes made spaces."""
    checked = 0
    for escape in _ESCAPE.finditer(packed):
        if escape.group(1):
            return True
        at = escape.start()
        if at < checked or packed[at - 1 : at] not in _DIGIT_OR_BRACKET:
            continue
        window = packed[max(0, at - 96) : at + 96]
        if _digit_run(_ESCAPED_SEPARATOR.sub(b" ", window)):
            return True
        checked = at + 32
    return False


def _payload_number(packed: bytes) -> bool:
    """Whether a custom or plugin event among the packed events (an array of them, or
    one) may hold a number shaped like a card or a phone number. Only those events are
    looked at, from their "type" key to the next event's (or, when "type" is not their
    first key, from the "type" key before): the others' numbers are rrweb's (ids, times,
    coordinates), and in binary msgpack a marker byte turns up by chance."""
    for event in _PAYLOAD_TYPE.finditer(packed):
        at = event.start()
        # "type" as the map's first key (rrweb writes it first): the payload follows
        first = at > 0 and 0x80 <= packed[at - 1] <= 0x8F
        before = at if first else max(packed.rfind(_TYPE_KEY, 0, at), 0)
        after = packed.find(_TYPE_KEY, event.end())
        if _wide_number(packed[before : after if after >= 0 else len(packed)]):
            return True
    return False


def _wide_number(packed: bytes) -> bool:
    """Whether the bytes hold a msgpack number shaped like a card or a phone number."""
    for match in _WIDE_NUMBER.finditer(packed):
        marker, at = packed[match.start()], match.end()
        number: int | float
        if marker == 0xCE:
            number = int.from_bytes(packed[at : at + 4], "big")
        elif marker == 0xCB:
            if at + 8 > len(packed):
                continue
            number = struct.unpack_from(">d", packed, at)[0]
        else:
            number = int.from_bytes(packed[at : at + 8], "big", signed=marker == 0xD3)
        if -2e9 < number < 2e9 or 1e12 <= number < 2e12:  # small, or a time in ms
            continue
        if number_mark(number) is not None:
            return True
    return False


def number_mark(number: int | float) -> str | None:
    """`[card]` or `[phone]` for a number shaped like one, else None."""
    if isinstance(number, float):
        if not number.is_integer():  # also NaN and infinities
            return None
        number = int(number)
    digits = str(abs(number))
    if len(digits) < 10:
        return None
    if 13 <= len(digits) <= 19 and _CARD_ISSUER.match(digits) and luhn(digits):
        return "[card]"
    if _PHONE_DIGITS.fullmatch(digits):
        return "[phone]"
    return None


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
        self._keys: dict[str, str] = {}

    def needed(self, packed: bytes) -> bool:
        """Whether a batch's bytes may hold something to scrub."""
        if _digit_run(packed):
            return True
        if _escaped(packed):
            return True
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
        if _payload_number(packed):
            return True
        if not self.extra:
            return False
        text = packed.decode("utf-8", "replace")
        return any(pattern.search(text) for pattern in self.extra)

    def event(self, event: Any) -> Any:
        """An rrweb event, every string and key in it scrubbed, and in the payload of a
        custom or plugin event, the numbers shaped like a card or a phone number."""
        if not isinstance(event, dict) or event.get("type") not in _PAYLOAD_EVENTS:
            return self.value(event)
        return {  # the event's own keys are rrweb's: "type", "data", "timestamp"
            key: self.value(item, numbers=key == "data") for key, item in event.items()
        }

    def value(self, value: Any, numbers: bool = False) -> Any:
        """Any decoded value, every string and every map key in it scrubbed (and, given
        `numbers`, every number shaped like a card or a phone number)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item, numbers) for item in value]
        if isinstance(value, dict):
            return self._map(value, numbers)
        if numbers and isinstance(value, int | float) and not isinstance(value, bool):
            return number_mark(value) or value
        return value

    def text(self, value: str) -> str:
        value = self._plain(value)
        if "%" in value or "+" in value:
            value = self._encoded(value)
        return value

    def _plain(self, value: str) -> str:
        if _QUICK.search(value) or ("#" in value and "://" in value):
            value = self._builtin(value)
        for extra in self.extra:
            value = extra.sub("[redacted]", value)
        return value

    def _builtin(self, value: str) -> str:
        if ("?" in value or "#" in value) and "://" in value:
            value = redact_urls(value)
        if "@" in value:
            value = _EMAILS.sub("[email]", value)
        if ":" in value:
            value = _TEL.sub(r"\1:[phone]", value)
        if any(hint in value for hint in _TOKEN_HINTS):
            value = _TOKENS.sub("[token]", value)
        if _IBAN_HINT.search(value):
            value = _IBANS.sub("[iban]", value)
        return _NUMBER_RUN.sub(self._numbers, value)

    def _encoded(self, value: str) -> str:
        """The text with each percent-encoded piece that hides something scrubbed."""
        parts = _PIECES.split(value)
        changed = False
        for index in range(0, len(parts), 2):  # pieces; the delimiters between them
            piece = parts[index]
            if "%" in piece or "+" in piece:
                scrubbed = self._piece(piece)
                if scrubbed is not None:
                    parts[index] = scrubbed
                    changed = True
        return "".join(parts) if changed else value

    def _piece(self, piece: str) -> str | None:
        """The piece scrubbed and encoded again, if decoding it (up to three times over,
        with a plus as a plus and then as a space) shows something to scrub."""
        for decode in (unquote, unquote_plus):
            decoded = piece
            for _ in range(3):
                once = decode(decoded)
                if once == decoded:
                    break
                decoded = once
            if decoded == piece:
                continue
            scrubbed = self._plain(decoded)
            if scrubbed != decoded:
                return quote(scrubbed, safe=_ENCODED_SAFE)
        return None

    def _map(self, value: dict[Any, Any], numbers: bool = False) -> dict[Any, Any]:
        scrubbed: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                key = self._key(key)
                if key in scrubbed:  # two keys scrubbed alike: both kept
                    key = next(
                        f"{key} ({n})" for n in range(2, 1 << 30) if f"{key} ({n})" not in scrubbed
                    )
            scrubbed[key] = self.value(item, numbers)
        return scrubbed

    def _key(self, key: str) -> str:
        """A map key scrubbed. Most keys are rrweb's field and attribute names, the same
        few in every event: remembered, so that each costs one lookup."""
        scrubbed = self._keys.get(key)
        if scrubbed is None:
            scrubbed = self.text(key)
            if len(self._keys) < _KEYS_REMEMBERED:
                self._keys[key] = scrubbed
        return scrubbed

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
