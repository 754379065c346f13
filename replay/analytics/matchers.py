"""Matchers: what an action (a named, retroactive event definition) matches among a
project's event-tracking records (`replay.tracking`, `replay.friction`). Pure.

A matcher is a JSON object with a `kind` and its fields:

- `{"kind": "pageview", "url": GLOB}`: the glob rules of a project's `excluded_urls` (`*`
  matches anything; a pattern with `://` is matched against the whole URL, any other
  against the path and query);
- `{"kind": "click", "selector": CSS, "text": TEXT}`: the selector matched against the
  clicked element and its stored ancestors (`replay.selectors`), the text equal to the
  element's text (whitespace runs as one space); at least one of the two;
- `{"kind": "input", "selector": CSS}`;
- `{"kind": "custom", "name": NAME, "props": {KEY: VALUE, ...}}`: props optional, all
  must equal;
- `{"kind": "error", "message": SUBSTRING}`: case-insensitive;
- `{"kind": "friction", "name": DETECTOR}`: `rage_click`, `dead_click`...

Anything else (an unknown kind or field, a missing field, a selector `replay.selectors`
cannot match exactly) is a `MatcherError` naming the field, never matched wrongly."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from replay.friction import DETECTORS
from replay.selectors import Selector, SelectorError

KINDS = ("pageview", "click", "input", "custom", "error", "friction")
FIELDS = {
    "pageview": {"url"},
    "click": {"selector", "text"},
    "input": {"selector"},
    "custom": {"name", "props"},
    "error": {"message"},
    "friction": {"name"},
}
MAX_MATCHERS = 20
MAX_TEXT = 2000
_SPACES = re.compile(r"\s+")


class MatcherError(ValueError):
    """A matcher that cannot be used; the message names the field."""


class Record(Protocol):
    """What a matcher reads of a record (a `TrackedEvent` row has it)."""

    kind: str
    name: str
    url: str
    text: str
    detector: str
    data: Any


@lru_cache(maxsize=8192)  # a site has few URLs, and a funnel asks of each many times
def glob_matches(pattern: str, url: str) -> bool:
    """`*` matches anything; a pattern with `://` is matched against the whole URL, any
    other against the URL's path and query."""
    if "://" not in pattern:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == url
    first, last = pieces[0], pieces[-1]
    if not url.startswith(first) or not url.endswith(last):
        return False
    at, end = len(first), len(url) - len(last)
    for piece in pieces[1:-1]:
        found = url.find(piece, at)
        if found < 0 or found + len(piece) > end:
            return False
        at = found + len(piece)
    return at <= end


def words(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Matcher:
    kind: str
    spec: dict[str, Any]
    selector: Selector | None = field(default=None, compare=False)

    def matches(self, record: Record) -> bool:
        if record.kind != self.kind:
            return False
        spec = self.spec
        data = record.data if isinstance(record.data, Mapping) else {}
        if self.kind == "pageview":
            return glob_matches(spec["url"], record.url)
        if self.kind in ("click", "input"):
            if "text" in spec and words(record.text or "") != words(spec["text"]):
                return False
            if self.selector is None:
                return True
            element, ancestors = data.get("element"), data.get("ancestors")
            if not isinstance(element, Mapping) or not isinstance(ancestors, list):
                return False
            return self.selector.matches(dict(element), ancestors)
        if self.kind == "custom":
            props = data.get("props")
            if data.get("name", record.name) != spec["name"]:
                return False
            wanted = spec.get("props") or {}
            if not wanted:
                return True
            return isinstance(props, Mapping) and all(
                key in props and props[key] == value for key, value in wanted.items()
            )
        if self.kind == "error":
            message = str(data.get("message", record.name))
            return str(spec["message"]).lower() in message.lower()
        # friction: the detector's name (the record's name is its type)
        return bool(record.name == spec["name"])


def parse(raw: Any, where: str = "matcher") -> Matcher:
    """A matcher from its JSON form, or a MatcherError naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise MatcherError(f"{where}: an object with a kind, e.g. {{'kind': 'pageview'}}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise MatcherError(f"{where}.kind: one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(raw) - {"kind"} - FIELDS[kind])
    if unknown:
        raise MatcherError(f"{where}.{unknown[0]}: not a field of a {kind} matcher")
    spec: dict[str, Any] = {"kind": kind}
    for name in sorted(FIELDS[kind] - {"props"}):
        if name in raw:
            value = raw[name]
            if not isinstance(value, str) or not value.strip():
                raise MatcherError(f"{where}.{name}: a non-empty string")
            if len(value) > MAX_TEXT:
                raise MatcherError(f"{where}.{name}: at most {MAX_TEXT} characters")
            spec[name] = value
    required = {"pageview": ["url"], "input": ["selector"], "custom": ["name"]}
    required |= {"error": ["message"], "friction": ["name"]}
    for name in required.get(kind, []):
        if name not in spec:
            raise MatcherError(f"{where}.{name}: required for a {kind} matcher")
    if kind == "click" and "selector" not in spec and "text" not in spec:
        raise MatcherError(f"{where}: a click matcher needs a selector, a text or both")
    if kind == "friction" and spec["name"] not in _detectors():
        known = ", ".join(_detectors())
        raise MatcherError(f"{where}.name: one of {known}, not {spec['name']!r}")
    if "props" in raw:
        if not isinstance(raw["props"], Mapping):
            raise MatcherError(f"{where}.props: an object of property names and values")
        spec["props"] = dict(raw["props"])
    selector = None
    if "selector" in spec:
        try:
            selector = Selector(spec["selector"])
        except SelectorError as exc:
            raise MatcherError(f"{where}.selector: {exc}") from None
        problem = _stored_otherwise(selector)
        if problem:
            raise MatcherError(f"{where}.selector: {spec['selector']!r}: {problem}")
    return Matcher(kind, spec, selector)


# Attributes rrweb stores otherwise than the page has them, so that a selector on them
# would match the record otherwise than the browser matched the element: URLs made
# absolute (and style's url()s), and the live state of fields (masked values, checked).
_REWRITTEN = frozenset(["src", "href", "xlink:href", "srcset", "style", "background", "data"])
_STATE = frozenset(["value", "checked", "selected", "autoplay"])


def _stored_otherwise(selector: Selector) -> str | None:
    for complex_ in selector.complexes:
        for compound, _ in complex_.parts:
            for name, op, _wanted, _fold in compound.attributes:
                if name in _STATE:
                    return f"[{name}] is not supported: rrweb records the field's state there"
                if name in _REWRITTEN and op is not None:
                    return (
                        f"[{name}{op}...] is not supported: rrweb stores {name} with its URLs"
                        f" made absolute; [{name}] alone is"
                    )
    return None


def parse_all(raw: Any, where: str = "matchers") -> list[Matcher]:
    """An action's matchers (any may match): 1 to MAX_MATCHERS."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise MatcherError(f"{where}: a list of 1 to {MAX_MATCHERS} matchers")
    if len(raw) > MAX_MATCHERS:
        raise MatcherError(f"{where}: at most {MAX_MATCHERS} matchers")
    return [parse(item, f"{where}[{index}]") for index, item in enumerate(raw)]


def any_matches(matchers: Sequence[Matcher], record: Record) -> bool:
    return any(matcher.matches(record) for matcher in matchers)


def _detectors() -> list[str]:
    return [detector.name for detector in DETECTORS]
