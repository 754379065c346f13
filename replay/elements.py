"""Naming the elements behind rrweb node ids the way a person would search for them:
tag, id, classes, visible text (none where the recorder masked it), a stable CSS
selector, the chain of ancestors as mini nodes that `replay.selectors.Selector` matches,
and whether a click there is expected to do something. Pure."""

from __future__ import annotations

import re
from typing import Any

from replay.rrweb import ELEMENT, TEXT

Node = dict[str, Any]
Parents = dict[int, Node]  # a node's parent by id, as the DOM mirror keeps them

TEXT_CHARS = 100
ANCESTORS = 12
_MASKED = re.compile(r"^[*\s]*$")
_SPACES = re.compile(r"\s+")
_IDENT = re.compile(r"^-?[_a-zA-Z][-_a-zA-Z0-9]*$")
_UNSTABLE_CLASS = re.compile(r"\d{3,}|^css-|^sc-|^jsx-|[_-][a-zA-Z0-9]{5,}$")
_TEST_IDS = ("data-testid", "data-test", "data-cy", "data-qa")
_ACTIONABLE_TAGS = {"a", "button", "select", "summary", "label", "option"}
_ACTIONABLE_INPUTS = {"submit", "button", "reset", "checkbox", "radio", "image", "file"}
_ACTIONABLE_ROLES = {"button", "link", "checkbox", "menuitem", "tab", "option", "switch"}
_EDITABLE_INPUTS = {"", "text", "search", "email", "url", "tel", "password", "number"}


def element_text(node: Node) -> str | None:
    """The element's visible text, collapsed and cut to TEXT_CHARS; None when empty or
    masked by the recorder."""
    parts: list[str] = []
    stack = [node]
    size = 0
    while stack and size < TEXT_CHARS * 4:
        current = stack.pop()
        if current.get("type") == TEXT:
            text = str(current.get("textContent") or "")
            parts.append(text)
            size += len(text)
        elif current.get("type") == ELEMENT and str(current.get("tagName")) in {"style", "script"}:
            continue
        else:
            stack.extend(reversed(current.get("childNodes") or []))
    text = _SPACES.sub(" ", "".join(parts)).strip()
    if not text or _MASKED.match(text):
        return None
    return text[:TEXT_CHARS]


def classes(node: Node) -> list[str]:
    return str((node.get("attributes") or {}).get("class") or "").split()


# What a record keeps of an attribute's value, at most; a longer value is kept empty
# (its presence still matches `[name]`).
MAX_KEPT_VALUE = 1000
# Attributes of rrweb's own (`rr_width`...) and the live state of fields (values, which
# the recorder masks, and checkedness) are not the page's markup: not kept.
_NOT_MARKUP = frozenset(["value", "checked", "selected"])


def mini(node: Node) -> Node:
    """What a record keeps of an element: its tag and its attributes as the page has
    them, so that any selector given later (an action's) can match it."""
    attributes = node.get("attributes") or {}
    kept = {
        name: str(value) if len(str(value)) <= MAX_KEPT_VALUE else ""
        for name, value in attributes.items()
        if isinstance(name, str)
        and not name.startswith("rr_")
        and name not in _NOT_MARKUP
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    }
    return {"type": ELEMENT, "tagName": str(node.get("tagName", "")).lower(), "attributes": kept}


def _part(node: Node, parent: Node | None) -> tuple[str, bool]:
    """One step of a selector, and whether it is unique enough to stop at."""
    attributes = node.get("attributes") or {}
    tag = str(node.get("tagName", "")).lower()
    element_id = attributes.get("id")
    if (
        isinstance(element_id, str)
        and _IDENT.match(element_id)
        and not re.search(r"\d{4,}", element_id)
    ):
        return f"#{element_id}", True
    for name in _TEST_IDS:
        value = attributes.get(name)
        if isinstance(value, str) and value and '"' not in value:
            return f'{tag}[{name}="{value}"]', True
    part = tag + "".join(
        f".{c}" for c in classes(node)[:3] if _IDENT.match(c) and not _UNSTABLE_CLASS.search(c)
    )
    if parent is not None:
        same = [
            child
            for child in parent.get("childNodes") or []
            if child.get("type") == ELEMENT and str(child.get("tagName", "")).lower() == tag
        ]
        if len(same) > 1:
            at = next((i for i, child in enumerate(same) if child is node), 0)
            part += f":nth-of-type({at + 1})"
    return part, False


def ancestors(node: Node, parents: Parents) -> list[Node]:
    """The element's ancestor elements, nearest first (at most ANCESTORS)."""
    chain: list[Node] = []
    current = parents.get(node.get("id", -1))
    while current is not None and current.get("type") == ELEMENT and len(chain) < ANCESTORS:
        chain.append(current)
        current = parents.get(current.get("id", -1))
    return chain


def selector(node: Node, parents: Parents) -> str:
    """A CSS selector for the element that a person can read and that survives small
    changes to the page: from the nearest ancestor with a stable id or test id down."""
    parts: list[str] = []
    current: Node | None = node
    while current is not None and current.get("type") == ELEMENT:
        parent = parents.get(current.get("id", -1))
        part, unique = _part(current, parent)
        parts.append(part)
        if unique or str(current.get("tagName", "")).lower() in {"body", "html"}:
            break
        current = parent
    return " > ".join(reversed(parts))


def describe(node: Node, parents: Parents) -> dict[str, Any]:
    """What a click record says about its element."""
    attributes = node.get("attributes") or {}
    chain = ancestors(node, parents)
    return {
        "tag": str(node.get("tagName", "")).lower(),
        "id": str(attributes.get("id") or ""),
        "classes": classes(node),
        "text": element_text(node),
        "selector": selector(node, parents),
        "element": mini(node),
        "ancestors": [mini(a) for a in chain],
        "actionable": actionable(node, chain),
        "editable": editable(node),
    }


def actionable(node: Node, ancestors: list[Node]) -> bool:
    """Whether a click on it is expected to do something: a link, a button, a form
    control, an element with a button-like role, or inside one of those. (Elements the
    page's script listens to are reported by the recorder, `replay/clickable`, and the
    extractor marks their clicks.)"""
    for element in [node, *ancestors[:4]]:
        attributes = element.get("attributes") or {}
        tag = str(element.get("tagName", "")).lower()
        if tag in _ACTIONABLE_TAGS and (tag != "a" or "href" in attributes):
            return True
        if tag == "input" and str(attributes.get("type") or "").lower() in _ACTIONABLE_INPUTS:
            return True
        if str(attributes.get("role") or "").lower() in _ACTIONABLE_ROLES:
            return True
    return False


def editable(node: Node | dict[str, Any]) -> bool:
    """A text-editing surface, where repeated clicks select text."""
    attributes = node.get("attributes") or {}
    tag = str(node.get("tagName", "")).lower()
    if tag == "textarea" or attributes.get("contenteditable") in ("", "true"):
        return True
    return tag == "input" and str(attributes.get("type") or "").lower() in _EDITABLE_INPUTS


def find(node: Node, tag: str) -> Node | None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.get("type") == ELEMENT and str(current.get("tagName", "")).lower() == tag:
            return current
        stack.extend(current.get("childNodes") or [])
    return None


def label(node: Node, parents: Parents) -> str | None:
    """What a form field is called: its aria-label, placeholder or title, or the text
    of the <label> around it."""
    attributes = node.get("attributes") or {}
    for name in ("aria-label", "placeholder", "title"):
        value = attributes.get(name)
        if isinstance(value, str) and value.strip() and not _MASKED.match(value):
            return value.strip()[:TEXT_CHARS]
    for ancestor in ancestors(node, parents)[:2]:
        if str(ancestor.get("tagName", "")).lower() == "label":
            return element_text(ancestor)
    return None
