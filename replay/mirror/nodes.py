"""The mirror's DOM nodes: built from rrweb's serialized nodes, and serialized back to
that format (rrweb-snapshot's `serializedNodeWithId`) for keyframes. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from replay.mirror.css import RuleList

DOCUMENT, DOCTYPE, ELEMENT, TEXT, CDATA, COMMENT = range(6)

Serialized = dict[str, Any]
_NO_ATTRIBUTES: dict[str, Any] = {}


class Node:
    """A node of the mirror. Fields that most nodes never set are class defaults, so
    building the thousands of nodes a snapshot holds stays cheap."""

    # Children of the shadow root this element hosts; None when it hosts none.
    shadow: list[Node] | None = None
    in_shadow = False
    root_id: int | None = None
    tag = ""
    attrs: dict[str, Any] = _NO_ATTRIBUTES  # elements get their own
    is_svg = False
    is_custom = False
    content_doc: Node | None = None  # an <iframe>'s document
    text = ""
    name = ""
    public_id = ""
    system_id = ""
    compat_mode: str | None = None
    # State the browser keeps beside the tree (properties, not attributes; a keyframe
    # restores these with input events, as the recording did).
    value: str | None = None
    checked: bool | None = None
    scroll: tuple[float, float] | None = None
    css: RuleList | None = None  # CSSOM of a <style>, once rule events touched it
    media: dict[str, Any] | None = None
    adopted: list[int] | None = None  # constructed sheets adopted by a document or host

    def __init__(self, id: int, type: int, parent: Node | None = None) -> None:
        self.id = id
        self.type = type
        self.parent = parent
        self.children: list[Node] = []

    def siblings(self) -> list[Node] | None:
        """The list this node sits in: its parent's children or shadow children."""
        if self.parent is None:
            return None
        if self.in_shadow and self.parent.shadow is not None:
            return self.parent.shadow
        return self.parent.children

    def walk(self) -> Iterator[Node]:
        """This node and its descendants (light and shadow), not into iframe documents."""
        yield self
        for child in self.children:
            yield from child.walk()
        for child in self.shadow or ():
            yield from child.walk()

    def document_texts(self) -> str:
        return "".join(child.text for child in self.children if child.type == TEXT)


def build(data: Serialized, parent: Node | None, *, skip_children: bool = False) -> Node:
    """One node (and, unless told not to, its subtree) from rrweb's serialized form."""
    kind = data.get("type")
    node = Node(
        id=int(data["id"]), type=int(kind) if isinstance(kind, int) else ELEMENT, parent=parent
    )
    node.root_id = data.get("rootId")
    node.in_shadow = bool(data.get("isShadow"))
    if node.type == DOCUMENT:
        node.compat_mode = data.get("compatMode")
    elif node.type == DOCTYPE:
        node.name = data.get("name", "")
        node.public_id = data.get("publicId", "")
        node.system_id = data.get("systemId", "")
    elif node.type == ELEMENT:
        node.tag = str(data.get("tagName", "div"))
        attrs = data.get("attributes")
        node.attrs = dict(attrs) if isinstance(attrs, dict) else {}
        if data.get("isSVG"):
            node.is_svg = True
        if data.get("isCustom"):
            node.is_custom = True
    else:
        node.text = data.get("textContent") or ""
    if not skip_children:
        for child_data in data.get("childNodes") or []:
            child = build(child_data, node)
            if child.in_shadow:
                if node.shadow is None:
                    node.shadow = []
                node.shadow.append(child)
            else:
                node.children.append(child)
    return node


def serialize(node: Node, form_state: bool = True) -> Serialized:
    """The node and its subtree as a full snapshot carries them, with element scroll
    folded in. Style sheets keep their text; changed rules follow as rule events."""
    out: Serialized = {"type": node.type, "id": node.id}
    if node.root_id is not None:
        out["rootId"] = node.root_id
    if node.in_shadow:
        out["isShadow"] = True
    if node.type == DOCUMENT:
        if node.compat_mode:
            out["compatMode"] = node.compat_mode
    elif node.type == DOCTYPE:
        out.update(name=node.name, publicId=node.public_id, systemId=node.system_id)
    elif node.type == ELEMENT:
        out["tagName"] = node.tag
        out["attributes"] = element_attributes(node) if form_state else dict(node.attrs)
        if node.is_svg:
            out["isSVG"] = True
        if node.is_custom:
            out["isCustom"] = True
        if node.shadow:
            out["isShadowHost"] = True
    else:
        out["textContent"] = node.text
    if node.type in (DOCUMENT, ELEMENT):
        children = (
            [] if node.tag == "textarea" and "value" in out.get("attributes", {}) else node.children
        )
        out["childNodes"] = [serialize(child, form_state) for child in children]
        if node.shadow:
            out["childNodes"] += [serialize(child, form_state) for child in node.shadow]
    return out


def element_attributes(node: Node) -> dict[str, Any]:
    attrs = dict(node.attrs)
    if node.scroll is not None and node.type == ELEMENT:
        left, top = node.scroll
        if left:
            attrs["rr_scrollLeft"] = left
        if top:
            attrs["rr_scrollTop"] = top
    return attrs
