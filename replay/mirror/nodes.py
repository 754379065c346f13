"""The mirror's DOM nodes are rrweb's own serialized nodes (rrweb-snapshot's
`serializedNodeWithId` dicts), kept as decoded and changed in place: building an object
per node would cost more than everything else the mirror does. A node's children, light
and shadow (`isShadow`), share its `childNodes` list, as in a full snapshot. What the
browser keeps beside the tree (form values, scroll, parsed sheets, iframe documents) lives
in the mirror's tables, keyed by node id. This module walks, finds and serializes such
nodes. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import compress, count, repeat
from operator import is_
from typing import Any

from replay.rrweb import DOCUMENT, DOCUMENT_TYPE, ELEMENT, TEXT

Node = dict[str, Any]


def index(
    node: Node, parent: Node | None, nodes: dict[int, Node], parents: dict[int, Node]
) -> None:
    """Enter a node and its subtree into the id and parent tables."""
    node_id = node["id"]
    nodes[node_id] = node
    if parent is not None:
        parents[node_id] = parent
    for child in node.get("childNodes") or ():
        if "childNodes" in child:
            index(child, node, nodes, parents)
        else:  # text and the like, half the nodes of a page: no call
            child_id = child["id"]
            nodes[child_id] = child
            parents[child_id] = node


def forget(node: Node, nodes: dict[int, Node], parents: dict[int, Node], gone: list[int]) -> None:
    """Take a subtree out of the id and parent tables, listing the ids it took out."""
    node_id = node["id"]
    if nodes.get(node_id) is node:
        del nodes[node_id]
        parents.pop(node_id, None)
        gone.append(node_id)
    for child in node.get("childNodes") or ():
        if "childNodes" in child:
            forget(child, nodes, parents, gone)
        else:
            child_id = child["id"]
            if nodes.get(child_id) is child:
                del nodes[child_id]
                parents.pop(child_id, None)
                gone.append(child_id)


def walk(node: Node) -> Iterator[Node]:
    """The node and its descendants, light and shadow (not into iframe documents)."""
    stack = [node]
    while stack:
        each = stack.pop()
        yield each
        children = each.get("childNodes")
        if children:
            stack.extend(reversed(children))


def position(siblings: list[Node], node: Node, guess: int = -1) -> int:
    """Where `node` itself (not an equal dict: comparing dicts would compare subtrees)
    sits in `siblings`, or -1. `guess`, the last, then the first place are tried first."""
    if 0 <= guess < len(siblings) and siblings[guess] is node:
        return guess
    if siblings and siblings[-1] is node:
        return len(siblings) - 1
    return next(compress(count(), map(is_, siblings, repeat(node))), -1)


def same_kind(node: Node, data: Node) -> bool:
    """The replayer's `isNodeMetaEqual`, enough to reuse a node an add names again."""
    if node.get("type") != data.get("type"):
        return False
    if node.get("type") == ELEMENT:
        return node.get("tagName") == data.get("tagName") and bool(node.get("isSVG")) == bool(
            data.get("isSVG")
        )
    return True


def document_texts(node: Node) -> str:
    """The text of a <style>'s text children, as its sheet is parsed from."""
    return "".join(
        str(child.get("textContent") or "")
        for child in node.get("childNodes") or ()
        if child.get("type") == TEXT
    )


def serialize(node: Node, overlay: Callable[[Node], dict[str, Any] | None]) -> Node:
    """A clean copy of the node and its subtree as a full snapshot carries them (only the
    fields rrweb-snapshot defines), each element's attributes updated with what
    `overlay` gives for it (state the browser keeps beside the tree: `rr_scroll*`,
    `rr_media*`; None takes an attribute away). Style sheets keep their text; changed
    rules follow as rule events."""
    kind = node.get("type")
    out: Node = {"type": kind, "id": node["id"]}
    if node.get("rootId") is not None:
        out["rootId"] = node["rootId"]
    if node.get("isShadow"):
        out["isShadow"] = True
    if kind == DOCUMENT:
        if node.get("compatMode"):
            out["compatMode"] = node["compatMode"]
    elif kind == DOCUMENT_TYPE:
        for key in ("name", "publicId", "systemId"):
            out[key] = node.get(key) or ""
    elif kind == ELEMENT:
        out["tagName"] = str(node.get("tagName", "div"))
        attrs = dict(node.get("attributes") or {})
        for name, value in (overlay(node) or {}).items():
            if value is None:
                attrs.pop(name, None)
            else:
                attrs[name] = value
        out["attributes"] = attrs
        for flag in ("isSVG", "isCustom"):
            if node.get(flag):
                out[flag] = True
    else:
        out["textContent"] = str(node.get("textContent") or "")
    if kind in (DOCUMENT, ELEMENT):
        children = node.get("childNodes") or []
        if any(child.get("isShadow") for child in children):
            out["isShadowHost"] = True
        if kind == ELEMENT and out["tagName"] == "textarea" and "value" in out["attributes"]:
            children = []  # a snapshot carries a textarea's text as its value
        light = [serialize(child, overlay) for child in children if not child.get("isShadow")]
        shadow = [serialize(child, overlay) for child in children if child.get("isShadow")]
        out["childNodes"] = light + shadow
    return out
