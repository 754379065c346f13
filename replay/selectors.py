"""CSS selectors matched against rrweb's serialized element nodes, for redacting stored
recordings by selector and for actions' click and input matchers. Pure.

The subset that names elements, which is what redaction needs: type selectors and `*`,
`#id`, `.class`, attribute selectors (`[name]`, `=`, `~=`, `|=`, `^=`, `$=`, `*=`, with
or without quotes, and the ` i` flag; values of the attributes HTML compares ignoring
case, such as `type`, ignoring case), the descendant (space) and child (`>`)
combinators, and lists (`,`). Anything else (pseudo-classes, sibling combinators) is
refused with `SelectorError`, which names the part that is not supported, rather than
matched wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from replay.rrweb import ELEMENT

Node = dict[str, Any]


class SelectorError(ValueError):
    """A selector this module cannot match exactly."""


_IDENT = r"-?[_a-zA-Z\u00a0-\uffff][-_a-zA-Z0-9\u00a0-\uffff]*"
_TOKEN = re.compile(
    rf"""
    (?P<space>\s*>\s*|\s+)
    | (?P<tag>{_IDENT}|\*)
    | \#(?P<id>{_IDENT})
    | \.(?P<cls>{_IDENT})
    | \[\s*(?P<attr>{_IDENT}(?::{_IDENT})?)\s*
        (?:(?P<op>[~|^$*]?=)\s*
           (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]\s"']+))
           \s*(?P<flag>[iI])?\s*)?
      \]
    """,
    re.VERBOSE,
)

# Attributes whose values HTML documents compare ignoring ASCII case in selectors (HTML,
# "Case-sensitivity of selectors"), as browsers do: `[type=BUTTON]` matches a button.
_HTML_CASE_INSENSITIVE = (
    "accept accept-charset align alink axis bgcolor charset checked clear codetype color"
    " compact declare defer dir direction disabled enctype face frame hreflang http-equiv"
    " lang language link media method multiple nohref noresize noshade nowrap readonly"
    " rel rev rules scope scrolling selected shape target text type valign valuetype vlink"
)
_CASE_INSENSITIVE = frozenset(_HTML_CASE_INSENSITIVE.split())


def folds_case(attribute: str) -> bool:
    """Whether selectors compare this attribute's values ignoring case."""
    return attribute in _CASE_INSENSITIVE


_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda have, want: have == want,
    "~=": lambda have, want: want in have.split(),
    "|=": lambda have, want: have == want or have.startswith(want + "-"),
    "^=": lambda have, want: bool(want) and have.startswith(want),
    "$=": lambda have, want: bool(want) and have.endswith(want),
    "*=": lambda have, want: bool(want) and want in have,
}


@dataclass
class Compound:
    tag: str | None = None
    ids: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    attributes: list[tuple[str, str | None, str, bool]] = field(default_factory=list)

    def matches(self, node: Node) -> bool:
        if node.get("type") != ELEMENT:
            return False
        if self.tag is not None and str(node.get("tagName", "")).lower() != self.tag:
            return False
        attributes = node.get("attributes") or {}
        if any(attributes.get("id") != wanted for wanted in self.ids):
            return False
        classes = str(attributes.get("class", "")).split()
        if any(wanted not in classes for wanted in self.classes):
            return False
        for name, op, wanted, fold in self.attributes:
            if name not in attributes or attributes[name] is None:
                return False
            if op is None:
                continue
            have = str(attributes[name])
            if fold or folds_case(name):
                have, wanted = have.lower(), wanted.lower()
            if not _OPS[op](have, wanted):
                return False
        return True


@dataclass
class Complex:
    """Compounds from the subject leftwards, each with the combinator to its left
    neighbour (">" child, " " descendant)."""

    parts: list[tuple[Compound, str]]

    def matches(self, node: Node, ancestors: Sequence[Node]) -> bool:
        """`ancestors`: the node's ancestor elements, nearest first."""
        first, combinator = self.parts[0]
        return first.matches(node) and self._rest(1, combinator, ancestors, 0)

    def _rest(self, part: int, combinator: str, ancestors: Sequence[Node], start: int) -> bool:
        if part == len(self.parts):
            return True
        compound, next_combinator = self.parts[part]
        for at in range(start, len(ancestors)):
            if compound.matches(ancestors[at]) and self._rest(
                part + 1, next_combinator, ancestors, at + 1
            ):
                return True
            if combinator == ">":
                return False
        return False


class Selector:
    """A selector list; `matches(node, ancestors)` is what `Element.matches` answers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.complexes = [_parse_complex(part) for part in _split_list(text)]

    def matches(self, node: Node, ancestors: Sequence[Node]) -> bool:
        return any(c.matches(node, ancestors) for c in self.complexes)


def _split_list(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote = None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    if any(not part.strip() for part in parts):
        raise SelectorError(f"{text!r}: an empty selector in the list")
    return parts


def _parse_complex(text: str) -> Complex:
    compounds: list[tuple[Compound, str]] = []
    current = Compound()
    empty = True
    pending = " "
    text = text.strip()
    at, end = 0, len(text)
    while at < end:
        match = _TOKEN.match(text, at)
        if match is None:
            raise SelectorError(f"{text!r}: {text[at : at + 20]!r} is not supported")
        at = match.end()
        kind = match.lastgroup
        if match.group("space") is not None:
            if empty:
                raise SelectorError(f"{text!r}: a combinator without an element before it")
            compounds.append((current, pending))
            pending = ">" if ">" in match.group("space") else " "
            current, empty = Compound(), True
            continue
        if match.group("tag") is not None:
            if not empty:
                raise SelectorError(f"{text!r}: the element name must come first")
            current.tag = None if match.group("tag") == "*" else match.group("tag").lower()
        elif match.group("id") is not None:
            current.ids.append(match.group("id"))
        elif match.group("cls") is not None:
            current.classes.append(match.group("cls"))
        elif match.group("attr") is not None:
            op = match.group("op")
            wanted = next((g for g in match.group("dq", "sq", "bare") if g is not None), "")
            name = match.group("attr").lower()
            current.attributes.append((name, op, wanted, bool(match.group("flag"))))
        else:  # pragma: no cover - every group is handled above
            raise SelectorError(f"{text!r}: {kind}")
        empty = False
    if empty:
        raise SelectorError(f"{text!r}: ends with a combinator")
    compounds.append((current, pending))
    # Right to left: the subject first, each with the combinator on its left (the
    # leftmost one's is never used).
    compounds.reverse()
    return Complex(compounds)
