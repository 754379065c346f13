"""The DOM mirror of one tab's page: rrweb events applied as rrweb's Replayer applies
them (its `applyMutation` order and its fallbacks), plus the state the replayer keeps
beside the tree. Events it cannot apply are counted by reason, never raised. Pure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from replay.mirror.css import RuleList, parse_declarations, remove_declaration, set_declaration
from replay.mirror.nodes import DOCTYPE, DOCUMENT, ELEMENT, TEXT, Node, build

Event = dict[str, Any]

FULL_SNAPSHOT, INCREMENTAL, META = 2, 3, 4
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, VIEWPORT_RESIZE, INPUT = range(6)
TOUCH_MOVE, MEDIA, STYLE_RULE, CANVAS, FONT = 6, 7, 8, 9, 10
DRAG, STYLE_DECLARATION, SELECTION, ADOPTED_STYLE_SHEET = 12, 13, 14, 15


class Mirror:
    """One page load's DOM as the replayer would hold it at the last applied event."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}
        self.document: Node | None = None
        self.sheets: dict[int, RuleList] = {}
        self.href = ""
        self.viewport = (0, 0)
        self.mouse: tuple[float, float, int] | None = None
        self.selection: list[dict[str, Any]] | None = None
        self.fonts: list[Event] = []
        self.pending_documents: dict[int, Node] = {}
        self.skipped: Counter[str] = Counter()
        # Something the mirror cannot reproduce (canvas drawing): no exact keyframe.
        self.inexact: str | None = None

    # -- dispatch --------------------------------------------------------------

    def apply(self, event: Event) -> None:
        try:
            self._apply(event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.skipped[f"malformed event: {type(exc).__name__}"] += 1

    def _apply(self, event: Event) -> None:
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, dict):
            return
        if kind == META:
            self.href = str(data.get("href", ""))
            self.viewport = (int(data.get("width") or 0), int(data.get("height") or 0))
        elif kind == FULL_SNAPSHOT:
            self.full_snapshot(data)
        elif kind == INCREMENTAL:
            self.incremental(data)

    def incremental(self, data: dict[str, Any]) -> None:
        source = data.get("source")
        if self.document is None:
            self.skipped["before the first full snapshot"] += 1
        elif source == MUTATION:
            self.mutation(data)
        elif source in (MOUSE_MOVE, TOUCH_MOVE, DRAG):
            positions = data.get("positions") or []
            if positions:
                last = positions[-1]
                self.mouse = (last["x"], last["y"], last.get("id", -1))
        elif source == SCROLL:
            node = self.nodes.get(data.get("id", -1))
            if node is not None:
                node.scroll = (data.get("x", 0), data.get("y", 0))
        elif source == VIEWPORT_RESIZE:
            self.viewport = (int(data.get("width") or 0), int(data.get("height") or 0))
        elif source == INPUT:
            node = self.nodes.get(data.get("id", -1))
            if node is not None:
                if "text" in data:
                    node.value = data["text"]
                if "isChecked" in data:
                    node.checked = bool(data["isChecked"])
        elif source == MEDIA:
            self.media(data)
        elif source == STYLE_RULE:
            self.style_rule(data)
        elif source == STYLE_DECLARATION:
            self.style_declaration(data)
        elif source == ADOPTED_STYLE_SHEET:
            self.adopted_style_sheet(data)
        elif source == SELECTION:
            self.selection = data.get("ranges")
        elif source == FONT:
            self.fonts.append({"type": INCREMENTAL, "data": data})
        elif source == CANVAS:
            self.inexact = "canvas drawing"
        elif source == MOUSE_INTERACTION:
            # Clicks, presses and touches move the replayer's cursor too.
            if data.get("type") in (0, 1, 2, 7, 9) and data.get("id", -1) != -1:
                self.mouse = (data.get("x") or 0, data.get("y") or 0, data["id"])
        else:
            self.skipped[f"incremental source {source}"] += 1

    # -- full snapshot -----------------------------------------------------------

    def full_snapshot(self, data: dict[str, Any]) -> None:
        # A full snapshot wipes the document and the replayer's mirrors.
        self.nodes.clear()
        self.sheets.clear()
        self.pending_documents.clear()
        self.selection = None
        self.inexact = None
        self.document = build(data["node"], None)
        self._index(self.document)
        offset = data.get("initialOffset") or {}
        self.document.scroll = (offset.get("left", 0), offset.get("top", 0))

    def _index(self, node: Node) -> None:
        for each in node.walk():
            self.nodes[each.id] = each
            if each.content_doc is not None:
                self._index(each.content_doc)

    def _forget(self, node: Node) -> None:
        """Remove the ids of a subtree from the mirror (not those of iframe documents,
        as the replayer's `removeNodeFromMap` does)."""
        for each in node.walk():
            if self.nodes.get(each.id) is each:
                del self.nodes[each.id]

    # -- mutations ----------------------------------------------------------------

    def mutation(self, data: dict[str, Any]) -> None:
        removed: set[int] = set()
        for remove in data.get("removes") or []:
            target = self.nodes.get(remove.get("id"))
            parent = self.nodes.get(remove.get("parentId"))
            if target is None or parent is None:
                self.skipped["remove of an unknown node"] += 1
                continue
            removed.add(target.id)
            self._forget(target)
            siblings = target.siblings()
            if target.parent is parent and siblings is not None and target in siblings:
                siblings.remove(target)
                target.parent = None
        queue: list[dict[str, Any]] = []
        for add in data.get("adds") or []:
            if not self._add(add):
                queue.append(add)
        # The replayer retries parked adds until nothing more resolves.
        while queue:
            still = [add for add in queue if not self._add(add)]
            if len(still) == len(queue):
                self.skipped["add with an unknown parent or sibling"] += len(still)
                break
            queue = still
        texts: dict[int, Any] = {}
        for text in data.get("texts") or []:
            texts[text["id"]] = text.get("value")
        for node_id, value in texts.items():
            node = self.nodes.get(node_id)
            if node is None:
                if node_id not in removed:
                    self.skipped["text of an unknown node"] += 1
                continue
            node.text = value or ""
            if node.parent is not None and node.parent.tag == "style":
                node.parent.css = None  # the sheet is parsed again from its text
        for change in data.get("attributes") or []:
            node = self.nodes.get(change.get("id"))
            if node is None or node.type != ELEMENT:
                continue
            for name, value in (change.get("attributes") or {}).items():
                self._set_attribute(node, name, value)

    def _add(self, add: dict[str, Any]) -> bool:
        """Apply one add; False when it must wait (parent or next sibling unknown)."""
        data = add["node"]
        parent_id = int(add.get("parentId", -1))
        parent = self.nodes.get(parent_id)
        if parent is None:
            if data.get("type") == DOCUMENT:
                self.pending_documents[parent_id] = build(data, None)
                return True
            return False
        next_id = add.get("nextId")
        if next_id not in (None, -1) and next_id not in self.nodes:
            return False
        root_id = data.get("rootId")
        if root_id is not None and root_id not in self.nodes and parent.tag != "iframe":
            return True  # the replayer drops these silently
        if parent.type == ELEMENT and parent.tag == "iframe" and data.get("type") == DOCUMENT:
            self._attach_document(parent, build(data, None))
            return True
        existing = self.nodes.get(data["id"])
        if existing is not None and _same_kind(existing, data):
            node = existing
            siblings = node.siblings()
            if siblings is not None and node in siblings:
                siblings.remove(node)
        else:
            node = build(data, None, skip_children=True)
        node.parent = parent
        node.in_shadow = bool(data.get("isShadow"))
        if node.in_shadow and parent.shadow is None:
            parent.shadow = []
        target = parent.shadow if node.in_shadow and parent.shadow is not None else parent.children
        if parent.type == ELEMENT and parent.tag == "textarea" and node.type == TEXT:
            parent.children = [c for c in parent.children if c.type != TEXT]
            target = parent.children
        if parent.type == DOCUMENT and node.type in (DOCTYPE, ELEMENT):
            # A new doctype or <html> replaces the old one (not listed in removes).
            kind_tag = (node.type, node.tag if node.type == ELEMENT else "")
            parent.children = [
                c
                for c in parent.children
                if (c.type, c.tag if c.type == ELEMENT else "") != kind_tag
            ]
            target = parent.children
        following = self.nodes.get(next_id) if next_id not in (None, -1) else None
        if following is not None and following in target:
            target.insert(target.index(following), node)
        else:
            target.append(node)
        self.nodes[node.id] = node
        if node.type == TEXT and parent.tag == "style":
            parent.css = None
        if node.tag == "iframe" and node.id in self.pending_documents:
            self._attach_document(node, self.pending_documents.pop(node.id))
        return True

    def _attach_document(self, iframe: Node, document: Node) -> None:
        if iframe.content_doc is not None:
            self._forget(iframe.content_doc)
        iframe.content_doc = document
        self._index(document)

    def _set_attribute(self, node: Node, name: str, value: Any) -> None:
        if value is None:
            node.attrs.pop(name, None)
            return
        if name == "style" and isinstance(value, dict):
            text = str(node.attrs.get("style", ""))
            for prop, change in value.items():
                if change is False:
                    text = remove_declaration(text, prop)
                elif isinstance(change, list):
                    text = set_declaration(text, prop, str(change[0]), str(change[1] or ""))
                else:
                    text = set_declaration(text, prop, str(change))
            node.attrs["style"] = text if parse_declarations(text) else ""
            return
        if name == "_cssText" and node.tag in ("link", "style"):
            # The replayer rebuilds the element as an inline <style>.
            node.tag = "style"
            node.attrs.pop("rel", None)
            node.attrs.pop("href", None)
            node.css = None
        if name == "value" and node.tag == "textarea":
            # The replayer replaces the textarea's text; a snapshot carries it as `value`.
            node.children = [c for c in node.children if c.type != TEXT]
        node.attrs[name] = value

    # -- style sheets, media --------------------------------------------------------

    def _sheet(self, data: dict[str, Any]) -> RuleList | None:
        if data.get("styleId") is not None:
            return self.sheets.get(data["styleId"])
        node = self.nodes.get(data.get("id", -1))
        if node is None or node.tag not in ("style", "link"):
            return None
        if node.css is None:
            text = node.attrs.get("_cssText")
            node.css = RuleList.parse(text if isinstance(text, str) else node.document_texts())
        return node.css

    def style_rule(self, data: dict[str, Any]) -> None:
        sheet = self._sheet(data)
        if sheet is None:
            self.skipped["rule change of an unknown sheet"] += 1
            return
        for add in data.get("adds") or []:
            index = add.get("index", 0)
            sheet.insert(index if isinstance(index, list) else [index], str(add.get("rule", "")))
        for remove in data.get("removes") or []:
            index = remove.get("index", 0)
            sheet.delete(index if isinstance(index, list) else [index])
        for key in ("replace", "replaceSync"):
            if isinstance(data.get(key), str):
                sheet.rules = RuleList.parse(data[key]).rules

    def style_declaration(self, data: dict[str, Any]) -> None:
        sheet = self._sheet(data)
        index = data.get("index") or []
        if sheet is None:
            self.skipped["declaration change of an unknown sheet"] += 1
            return
        if isinstance(data.get("set"), dict):
            change = data["set"]
            sheet.set_property(
                index,
                change["property"],
                str(change.get("value", "")),
                change.get("priority") or "",
            )
        if isinstance(data.get("remove"), dict):
            sheet.remove_property(index, data["remove"]["property"])

    def adopted_style_sheet(self, data: dict[str, Any]) -> None:
        host = self.nodes.get(data.get("id", -1))
        for style in data.get("styles") or []:
            rules = sorted(style.get("rules") or [], key=lambda r: r.get("index", 0))
            self.sheets[style["styleId"]] = RuleList.parse("\n".join(r["rule"] for r in rules))
        if host is not None:
            host.adopted = list(data.get("styleIds") or [])

    def media(self, data: dict[str, Any]) -> None:
        node = self.nodes.get(data.get("id", -1))
        if node is None:
            return
        state = node.media or {}
        if data.get("type") == 0:
            state["playing"] = True
        elif data.get("type") == 1:
            state["playing"] = False
        for key in ("currentTime", "volume", "muted", "playbackRate", "loop"):
            if key in data:
                state[key] = data[key]
        node.media = state


def _same_kind(node: Node, data: dict[str, Any]) -> bool:
    """The replayer's `isNodeMetaEqual`, enough to reuse a node an add names again."""
    if node.type != data.get("type"):
        return False
    if node.type == ELEMENT:
        return node.tag == data.get("tagName") and node.is_svg == bool(data.get("isSVG"))
    return True
