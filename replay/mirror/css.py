"""A model of a style sheet's rule list, enough to follow rrweb's CSSOM events.

rrweb records `insertRule`/`deleteRule` (with nested index paths for rules inside
`@media` and other group rules), `replace`/`replaceSync`, and `setProperty`/
`removeProperty` on a rule's declarations. The browser's own serialization cannot be
reproduced exactly, and need not be: a keyframe carries the rule texts, the replaying
browser parses them again, and the resulting CSSOM is what the sheet had. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

GROUP_AT_RULES = ("@media", "@supports", "@container", "@layer", "@document", "@scope")


def _skip_string(text: str, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def split_rules(text: str) -> list[str]:
    """Top-level rules of a style sheet's text, comments dropped."""
    rules: list[str] = []
    depth = 0
    start = 0
    i = 0
    pieces: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            end = _skip_string(text, i)
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            pieces.append(text[start:i])
            start = i = end
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                pieces.append(text[start : i + 1])
                rule = "".join(pieces).strip()
                if rule:
                    rules.append(rule)
                pieces = []
                start = i + 1
        elif ch == ";" and depth == 0:
            pieces.append(text[start : i + 1])
            rule = "".join(pieces).strip()
            if rule:
                rules.append(rule)  # @import, @charset, @namespace
            pieces = []
            start = i + 1
        i += 1
    return rules


def _body(rule: str) -> tuple[str, str] | None:
    """(prelude, inner text) of a rule with a block."""
    open_at = rule.find("{")
    if open_at < 0 or not rule.endswith("}"):
        return None
    return rule[:open_at].strip(), rule[open_at + 1 : -1]


def parse_declarations(text: str) -> list[tuple[str, str, str]]:
    """`prop: value [!important]; ...` as (property, value, priority) in order."""
    found: list[tuple[str, str, str]] = []
    for part in _split_top(text, ";"):
        name, colon, value = part.partition(":")
        if not colon or not name.strip():
            continue
        value = value.strip()
        priority = ""
        if value.lower().endswith("!important"):
            priority = "important"
            value = value[: -len("!important")].strip()
        found.append(
            (
                name.strip().lower() if not name.strip().startswith("--") else name.strip(),
                value,
                priority,
            )
        )
    return found


def _split_top(text: str, separator: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _skip_string(text, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def format_declarations(declarations: Sequence[tuple[str, str, str]]) -> str:
    return " ".join(
        f"{name}: {value}{' !important' if priority else ''};"
        for name, value, priority in declarations
    )


def set_declaration(text: str, name: str, value: str, priority: str = "") -> str:
    """`CSSStyleDeclaration.setProperty` on declaration text."""
    declarations = parse_declarations(text)
    for index, (existing, _, _) in enumerate(declarations):
        if existing == name:
            declarations[index] = (name, value, priority)
            break
    else:
        declarations.append((name, value, priority))
    return format_declarations(declarations)


def remove_declaration(text: str, name: str) -> str:
    return format_declarations([d for d in parse_declarations(text) if d[0] != name])


@dataclass
class Rule:
    """One rule: its text, or for a group rule its prelude and child rules."""

    text: str = ""
    prelude: str = ""
    children: RuleList | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        text = text.strip()
        if text.lower().startswith(GROUP_AT_RULES):
            parts = _body(text)
            if parts is not None:
                return cls(prelude=parts[0], children=RuleList.parse(parts[1]))
        return cls(text=text)

    def css_text(self) -> str:
        if self.children is not None:
            return f"{self.prelude} {{ {self.children.css_text()} }}"
        return self.text


@dataclass
class RuleList:
    rules: list[Rule] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> RuleList:
        return cls([Rule.parse(rule) for rule in split_rules(text)])

    def css_text(self) -> str:
        return "\n".join(rule.css_text() for rule in self.rules)

    def _list_at(self, path: Sequence[int]) -> RuleList | None:
        """The rule list addressed by all but the last index of a path."""
        target: RuleList = self
        for index in path[:-1]:
            if not 0 <= index < len(target.rules):
                return None
            children = target.rules[index].children
            if children is None:
                return None
            target = children
        return target

    def insert(self, path: Sequence[int], text: str) -> bool:
        target = self._list_at(path)
        if target is None:
            return False
        index = min(path[-1], len(target.rules)) if path else 0
        target.rules.insert(max(0, index), Rule.parse(text))
        return True

    def delete(self, path: Sequence[int]) -> bool:
        target = self._list_at(path)
        if target is None or not path or not 0 <= path[-1] < len(target.rules):
            return False
        del target.rules[path[-1]]
        return True

    def rule_at(self, path: Sequence[int]) -> Rule | None:
        target = self._list_at(path)
        if target is None or not path or not 0 <= path[-1] < len(target.rules):
            return None
        return target.rules[path[-1]]

    def set_property(self, path: Sequence[int], name: str, value: str, priority: str) -> bool:
        rule = self.rule_at(path)
        parts = _body(rule.text) if rule is not None else None
        if rule is None or parts is None:
            return False
        rule.text = f"{parts[0]} {{ {set_declaration(parts[1], name, value, priority)} }}"
        return True

    def remove_property(self, path: Sequence[int], name: str) -> bool:
        rule = self.rule_at(path)
        parts = _body(rule.text) if rule is not None else None
        if rule is None or parts is None:
            return False
        rule.text = f"{parts[0]} {{ {remove_declaration(parts[1], name)} }}"
        return True
