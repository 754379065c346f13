"""Redacting recorded events after the fact, by CSS selector or by text pattern. Pure.

- A **selector** masks what the elements it matches show, as rrweb's own masking
  would have (each non-space character becomes `*`): text inside them (not style or
  script text), what is typed into them, and their text-bearing attributes (`value`,
  `placeholder`, `title`, `alt`, `aria-label`). Whether an element matches is judged
  at each event against the DOM as it stood then, which the caller keeps in a `Mirror`
  fed with every event of the page from its start.
- A **pattern** (a regular expression) is replaced by `[redacted]` in every string of
  the event, as a project's scrub patterns are (`replay.scrub`).

`Redactor.event` is given a copy it may change, and the mirror as it stood before the
event (the caller applies the original event to the mirror afterwards).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from replay.mirror import Mirror
from replay.rrweb import ELEMENT, FULL_SNAPSHOT, INCREMENTAL, INPUT, MUTATION, TEXT
from replay.selectors import Selector

Node = dict[str, Any]
TEXT_ATTRIBUTES = ("value", "placeholder", "title", "alt", "aria-label")
_NOT_SHOWN = {"style", "script"}
_VISIBLE = re.compile(r"\S")
REPLACEMENT = "[redacted]"


def mask(text: str) -> str:
    return _VISIBLE.sub("*", text)


class Redactor:
    def __init__(self, selectors: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        """Raises `replay.selectors.SelectorError` or `re.error` for what it cannot use."""
        self.selectors = [Selector(text) for text in selectors]
        self.patterns = [re.compile(text) for text in patterns]

    def event(self, event: dict[str, Any], mirror: Mirror | None = None) -> dict[str, Any]:
        """The event redacted (changed in place, and returned). Selectors need the
        mirror."""
        if self.selectors:
            if mirror is None:
                raise ValueError("redacting by selector needs the page's mirror")
            self._by_selector(event, mirror)
        if self.patterns:
            data = event.get("data")
            if data is not None:
                event["data"] = self._strings(data)
        return event

    # -- by text pattern --

    def _strings(self, value: Any) -> Any:
        if isinstance(value, str):
            for pattern in self.patterns:
                value = pattern.sub(REPLACEMENT, value)
            return value
        if isinstance(value, list):
            return [self._strings(item) for item in value]
        if isinstance(value, dict):
            return {key: self._strings(item) for key, item in value.items()}
        return value

    # -- by selector --

    def _matches(self, node: Node, ancestors: Sequence[Node]) -> bool:
        return any(selector.matches(node, ancestors) for selector in self.selectors)

    def _ancestors(self, node_id: Any, mirror: Mirror) -> list[Node]:
        """The node's ancestor elements in the mirror, nearest first."""
        chain: list[Node] = []
        node = mirror.nodes.get(node_id) if isinstance(node_id, int) else None
        while node is not None:
            parent = mirror.parents.get(node["id"])
            if parent is None:
                break
            if parent.get("type") == ELEMENT:
                chain.append(parent)
            node = parent
        return chain

    def _inside(self, node_id: Any, mirror: Mirror) -> bool:
        """Whether the node (in the mirror) is a matched element or inside one."""
        node = mirror.nodes.get(node_id) if isinstance(node_id, int) else None
        if node is None:
            # A page past the mirror's node cap has nodes the mirror does not hold, which
            # may be inside a matched element: masked, to be safe.
            return mirror.over_cap
        chain = [node, *self._ancestors(node_id, mirror)]
        return any(
            item.get("type") == ELEMENT and self._matches(item, chain[at + 1 :])
            for at, item in enumerate(chain)
        )

    def _by_selector(self, event: dict[str, Any], mirror: Mirror) -> None:
        data = event.get("data")
        if not isinstance(data, dict):
            return
        kind, source = event.get("type"), data.get("source")
        if kind == FULL_SNAPSHOT and isinstance(data.get("node"), dict):
            self._subtree(data["node"], [], inside=False, parent_tag="")
        elif kind == INCREMENTAL and source == MUTATION:
            self._mutation(data, mirror)
        elif (
            kind == INCREMENTAL
            and source == INPUT
            and isinstance(data.get("text"), str)
            and self._inside(data.get("id"), mirror)
        ):
            data["text"] = mask(data["text"])

    def _subtree(self, node: Node, ancestors: list[Node], *, inside: bool, parent_tag: str) -> None:
        """Mask what a serialized subtree shows where it is matched; `ancestors` are
        the elements above it, nearest first."""
        if node.get("type") == ELEMENT:
            inside = inside or self._matches(node, ancestors)
            if inside:
                _mask_attributes(node.get("attributes"))
            tag = str(node.get("tagName", "")).lower()
            below = [node, *ancestors]
            for child in node.get("childNodes") or []:
                if isinstance(child, dict):
                    self._subtree(child, below, inside=inside, parent_tag=tag)
        elif node.get("type") == TEXT:
            if inside and parent_tag not in _NOT_SHOWN and isinstance(node.get("textContent"), str):
                node["textContent"] = mask(node["textContent"])
        else:  # a document (of an iframe) or a fragment: its children start afresh
            for child in node.get("childNodes") or []:
                if isinstance(child, dict):
                    self._subtree(child, ancestors, inside=inside, parent_tag=parent_tag)

    def _mutation(self, data: dict[str, Any], mirror: Mirror) -> None:
        # Nodes added earlier in this same event, which the mirror has not seen yet.
        added: dict[int, tuple[Node, list[Node], bool]] = {}
        for add in data.get("adds") or []:
            if not isinstance(add, dict) or not isinstance(add.get("node"), dict):
                continue
            parent_id = add.get("parentId")
            parent: Node | None
            if parent_id in added:
                parent, above, parent_inside = added[parent_id]
                ancestors = [parent, *above] if parent.get("type") == ELEMENT else above
            else:
                parent = mirror.nodes.get(parent_id) if isinstance(parent_id, int) else None
                ancestors = self._ancestors(parent_id, mirror)
                if parent is not None and parent.get("type") == ELEMENT:
                    ancestors = [parent, *ancestors]
                parent_inside = self._inside(parent_id, mirror)
            tag = str(parent.get("tagName", "")).lower() if parent else ""
            self._subtree(add["node"], ancestors, inside=parent_inside, parent_tag=tag)
            self._remember(add["node"], ancestors, parent_inside, added)
        for change in data.get("texts") or []:
            if isinstance(change, dict) and isinstance(change.get("value"), str):
                node_id = change.get("id")
                known = added.get(node_id) if isinstance(node_id, int) else None
                if (known[2] if known else self._inside(node_id, mirror)) and not _style_text(
                    node_id, mirror
                ):
                    change["value"] = mask(change["value"])
        for change in data.get("attributes") or []:
            if isinstance(change, dict) and isinstance(change.get("attributes"), dict):
                node_id = change.get("id")
                known = added.get(node_id) if isinstance(node_id, int) else None
                if known[2] if known else self._inside(node_id, mirror):
                    _mask_attributes(change["attributes"])

    def _remember(
        self,
        node: Node,
        ancestors: list[Node],
        inside: bool,
        added: dict[int, tuple[Node, list[Node], bool]],
    ) -> None:
        """Index an added subtree by id: each node with its ancestors and whether it is
        matched or inside a match."""
        if node.get("type") == ELEMENT:
            inside = inside or self._matches(node, ancestors)
        if isinstance(node.get("id"), int):
            added[node["id"]] = (node, ancestors, inside)
        below = [node, *ancestors] if node.get("type") == ELEMENT else ancestors
        for child in node.get("childNodes") or []:
            if isinstance(child, dict):
                self._remember(child, below, inside, added)


def _mask_attributes(attributes: Any) -> None:
    if not isinstance(attributes, dict):
        return
    for name in TEXT_ATTRIBUTES:
        if isinstance(attributes.get(name), str):
            attributes[name] = mask(attributes[name])


def _style_text(node_id: Any, mirror: Mirror) -> bool:
    parent = mirror.parents.get(node_id) if isinstance(node_id, int) else None
    return parent is not None and str(parent.get("tagName", "")).lower() in _NOT_SHOWN
