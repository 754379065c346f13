"""The DOM mirror of one tab's page: rrweb events applied as rrweb's Replayer applies
them (its `applyMutation` order and its fallbacks), plus the state the replayer keeps
beside the tree. Events it cannot apply are counted by reason (a fixed set of strings,
so they can label a metric), never raised.

The mirror takes ownership of the events it is given: their serialized nodes become its
nodes and are changed in place by later events (see `nodes`). Give it a copy of events
that are used again afterwards. Pure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from replay.mirror.css import RuleList, parse_declarations, remove_declaration, set_declaration
from replay.mirror.nodes import (
    DOCTYPE,
    DOCUMENT,
    ELEMENT,
    TEXT,
    Node,
    document_texts,
    forget,
    index,
    position,
    same_kind,
)

Event = dict[str, Any]

FULL_SNAPSHOT, INCREMENTAL, META = 2, 3, 4
OTHER_EVENTS = (0, 1, 5, 6)  # DOMContentLoaded, load, custom, plugin: nothing to mirror
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, VIEWPORT_RESIZE, INPUT = range(6)
TOUCH_MOVE, MEDIA, STYLE_RULE, CANVAS, FONT = 6, 7, 8, 9, 10
DRAG, STYLE_DECLARATION, SELECTION, ADOPTED_STYLE_SHEET = 12, 13, 14, 15


# Attributes whose change means more than setting the attribute.
_SPECIAL = frozenset(("style", "_cssText", "value"))


class Mirror:
    """One page load's DOM as the replayer would hold it at the last applied event."""

    def __init__(self) -> None:
        self.document: Node | None = None
        self.nodes: dict[int, Node] = {}
        self.parents: dict[int, Node] = {}  # a node's parent (its host, for shadow children)
        # What the browser keeps beside the tree, by node id: properties (not attributes;
        # a keyframe restores these with input events, as the recording did), scroll
        # offsets, a <style>'s CSSOM once rule events touched it, media state, sheets a
        # document or shadow host adopted, and an <iframe>'s document.
        self.values: dict[int, str] = {}
        self.checked: dict[int, bool] = {}
        self.scrolls: dict[int, tuple[float, float]] = {}
        self.css: dict[int, RuleList] = {}
        self.media_state: dict[int, dict[str, Any]] = {}
        self.adopted: dict[int, list[int]] = {}
        self.frames: dict[int, Node] = {}
        self._tables: tuple[dict[int, Any], ...] = (
            self.values,
            self.checked,
            self.scrolls,
            self.css,
            self.media_state,
            self.adopted,
            self.frames,
        )
        self.sheets: dict[int, RuleList] = {}  # constructed sheets, by styleId
        self.href = ""
        self.snapshot_at: Any = None  # when the last full snapshot was taken
        self.viewport = (0, 0)
        self.mouse: tuple[float, float, int] | None = None
        self.selection: list[dict[str, Any]] | None = None
        self.fonts: list[Event] = []
        self.pending_documents: dict[int, Node] = {}
        # Where the last add went: rrweb lists a run of new siblings last to first, each
        # going before the one added just before it.
        self._hint_list: list[Node] | None = None
        self._hint_at = -1
        self.skipped: Counter[str] = Counter()
        # Something the mirror cannot reproduce (canvas drawing): no exact keyframe.
        self.inexact: str | None = None

    # -- dispatch --------------------------------------------------------------

    def apply(self, event: Event) -> None:
        try:
            self._apply(event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            self.skipped[f"malformed event: {type(exc).__name__}"] += 1

    def _apply(self, event: Event) -> None:
        kind = event.get("type")
        data = event.get("data")
        if not isinstance(data, dict):
            self.skipped["event without data"] += 1
        elif kind == META:
            self.href = str(data.get("href", ""))
            self.viewport = (int(data.get("width") or 0), int(data.get("height") or 0))
        elif kind == FULL_SNAPSHOT:
            self.full_snapshot(data, event.get("timestamp"))
        elif kind == INCREMENTAL:
            self.incremental(data, event.get("timestamp"))
        elif kind not in OTHER_EVENTS:
            self.skipped["unknown event type"] += 1

    def incremental(self, data: dict[str, Any], timestamp: Any = None) -> None:
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
            node_id = data.get("id", -1)
            if node_id in self.nodes:
                self.scrolls[node_id] = (data.get("x", 0), data.get("y", 0))
        elif source == VIEWPORT_RESIZE:
            self.viewport = (int(data.get("width") or 0), int(data.get("height") or 0))
        elif source == INPUT:
            node_id = data.get("id", -1)
            if node_id in self.nodes:
                if "text" in data:
                    self.values[node_id] = data["text"]
                if "isChecked" in data:
                    self.checked[node_id] = bool(data["isChecked"])
        elif source == MEDIA:
            self.media(data, timestamp)
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
            self.skipped["unknown incremental source"] += 1

    # -- full snapshot -----------------------------------------------------------

    def full_snapshot(self, data: dict[str, Any], timestamp: Any = None) -> None:
        # A full snapshot wipes the document and the replayer's mirrors. Should the
        # snapshot be malformed, the mirror holds no document (and writes no keyframe).
        self.document = None
        self.nodes = {}
        self.parents = {}
        for table in self._tables:
            table.clear()
        self.sheets.clear()
        self.pending_documents.clear()
        self.selection = None
        self.inexact = None
        self.snapshot_at = timestamp
        document = data["node"]
        if not isinstance(document, dict):
            raise TypeError("snapshot node")
        nodes: dict[int, Node] = {}
        parents: dict[int, Node] = {}
        index(document, None, nodes, parents)
        self.document, self.nodes, self.parents = document, nodes, parents
        offset = data.get("initialOffset") or {}
        self.scrolls[document["id"]] = (offset.get("left", 0), offset.get("top", 0))

    def _forget(self, node: Node) -> None:
        """Remove a subtree from the mirror's tables (not the nodes of iframe documents,
        as the replayer's `removeNodeFromMap` does)."""
        gone: list[int] = []
        forget(node, self.nodes, self.parents, gone)
        self._drop_state(gone)

    def _drop_state(self, gone: list[int]) -> None:
        nodes = self.nodes
        for table in self._tables:
            if not table:
                continue
            if len(table) <= len(gone):
                for node_id in [node_id for node_id in table if node_id not in nodes]:
                    del table[node_id]
            else:
                for node_id in gone:
                    table.pop(node_id, None)

    # -- mutations ----------------------------------------------------------------

    def mutation(self, data: dict[str, Any]) -> None:
        nodes = self.nodes
        removes = data.get("removes")
        removed = self._remove(removes) if removes else set()
        queue: list[dict[str, Any]] = []
        add_one = self._add
        for add in data.get("adds") or []:
            if not add_one(add):
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
            node = nodes.get(node_id)
            if node is None:
                if node_id not in removed:
                    self.skipped["text of an unknown node"] += 1
                continue
            node["textContent"] = value or ""
            parent = self.parents.get(node_id)
            if parent is not None and parent.get("tagName") == "style":
                self.css.pop(parent["id"], None)  # the sheet is parsed again from its text
        for change in data.get("attributes") or []:
            node = nodes.get(change.get("id"))
            if node is None or node.get("type") != ELEMENT:
                continue
            attrs = node.get("attributes")
            for name, value in (change.get("attributes") or {}).items():
                if type(value) is str and attrs is not None and name not in _SPECIAL:
                    attrs[name] = value  # the common case, without a call
                else:
                    self._set_attribute(node, name, value)

    def _remove(self, removes: list[dict[str, Any]]) -> set[int]:
        """Apply a mutation's removes; the ids removed."""
        nodes, parents = self.nodes, self.parents
        removed: set[int] = set()
        gone: list[int] = []
        leaving: dict[int, tuple[Node, list[Node]]] = {}  # by parent: what leaves it
        for remove in removes:
            target = nodes.get(remove.get("id", -1))
            parent = nodes.get(remove.get("parentId", -1))
            if target is None or parent is None:
                self.skipped["remove of an unknown node"] += 1
                continue
            target_id = target["id"]
            removed.add(target_id)
            if parents.get(target_id) is parent:
                entry = leaving.get(id(parent))
                if entry is None:
                    leaving[id(parent)] = (parent, [target])
                else:
                    entry[1].append(target)
            forget(target, nodes, parents, gone)
        self._drop_state(gone)
        # Many removes from one long list (a list re-rendered) take one pass over it.
        for parent, targets in leaving.values():
            siblings = parent.get("childNodes") or []
            if len(targets) < 4:
                for target in targets:
                    at = position(siblings, target)
                    if at >= 0:
                        del siblings[at]
            else:
                leave = {id(target) for target in targets}
                siblings[:] = [child for child in siblings if id(child) not in leave]
        return removed

    def _add(self, add: dict[str, Any]) -> bool:
        """Apply one add; False when it must wait (parent or next sibling unknown)."""
        nodes = self.nodes
        data = add["node"]
        parent = nodes.get(add.get("parentId", -1))
        if parent is None:
            if data.get("type") == DOCUMENT:
                self.pending_documents[add.get("parentId", -1)] = data
                return True
            return False
        next_id = add.get("nextId")
        if next_id is not None and next_id != -1:
            following = nodes.get(next_id)
            if following is None:
                return False
        else:
            following = None
        parent_tag = parent.get("tagName")
        if "rootId" in data:
            root_id = data["rootId"]
            if root_id is not None and root_id not in nodes and parent_tag != "iframe":
                return True  # the replayer drops these silently
        kind = data.get("type")
        if parent_tag == "iframe" and kind == DOCUMENT and parent.get("type") == ELEMENT:
            self._attach_document(parent, data)
            return True
        node_id = data["id"]
        node = nodes.get(node_id)
        if node is not None and same_kind(node, data):
            before = self.parents.get(node_id)
            if before is not None:
                siblings = before.get("childNodes") or []
                at = position(siblings, node)
                if at >= 0:
                    del siblings[at]
            if data.get("isShadow"):
                node["isShadow"] = True
            else:
                node.pop("isShadow", None)
        else:
            if node is not None:  # a different node under a known id: none of its state
                for table in self._tables:
                    table.pop(node_id, None)
            node = data
            if node.get("childNodes"):
                node["childNodes"] = []  # the replayer builds an added node without children
        siblings = parent.get("childNodes")
        if siblings is None:
            siblings = parent["childNodes"] = []
        if kind == TEXT:
            if parent_tag == "style":
                self.css.pop(parent["id"], None)
            elif parent_tag == "textarea" and parent.get("type") == ELEMENT:
                siblings[:] = [c for c in siblings if c.get("type") != TEXT]
        elif parent_tag is None and parent.get("type") == DOCUMENT and kind in (DOCTYPE, ELEMENT):
            # A new doctype or <html> replaces the old one (not listed in removes).
            tag = node.get("tagName") if kind == ELEMENT else None
            siblings[:] = [
                c
                for c in siblings
                if c.get("type") != kind or (kind == ELEMENT and c.get("tagName") != tag)
            ]
        at = -1
        if following is not None:
            at = position(siblings, following, self._hint_at if self._hint_list is siblings else -1)
        if at >= 0:
            siblings.insert(at, node)
        else:
            at = len(siblings)
            siblings.append(node)
        self._hint_list = siblings
        self._hint_at = at
        nodes[node_id] = node
        self.parents[node_id] = parent
        if (
            self.pending_documents
            and node_id in self.pending_documents
            and node.get("tagName") == "iframe"
        ):
            self._attach_document(node, self.pending_documents.pop(node_id))
        return True

    def _attach_document(self, iframe: Node, document: Node) -> None:
        before = self.frames.get(iframe["id"])
        if before is not None:
            self._forget(before)
        index(document, None, self.nodes, self.parents)
        self.frames[iframe["id"]] = document

    def _set_attribute(self, node: Node, name: str, value: Any) -> None:
        attrs = node.get("attributes")
        if attrs is None:
            attrs = node["attributes"] = {}
        if value is None:
            attrs.pop(name, None)
            return
        if name == "style" and isinstance(value, dict):
            text = str(attrs.get("style", ""))
            for prop, change in value.items():
                if change is False:
                    text = remove_declaration(text, prop)
                elif isinstance(change, list):
                    text = set_declaration(text, prop, str(change[0]), str(change[1] or ""))
                else:
                    text = set_declaration(text, prop, str(change))
            attrs["style"] = text if parse_declarations(text) else ""
            return
        if name == "_cssText" and node.get("tagName") in ("link", "style"):
            # The replayer rebuilds the element as an inline <style>.
            node["tagName"] = "style"
            attrs.pop("rel", None)
            attrs.pop("href", None)
            self.css.pop(node["id"], None)
        if name == "value" and node.get("tagName") == "textarea":
            # The replayer replaces the textarea's text; a snapshot carries it as `value`.
            node["childNodes"] = [c for c in node.get("childNodes") or () if c.get("type") != TEXT]
        attrs[name] = value

    # -- style sheets, media --------------------------------------------------------

    def _sheet(self, data: dict[str, Any]) -> RuleList | None:
        if data.get("styleId") is not None:
            return self.sheets.get(data["styleId"])
        node = self.nodes.get(data.get("id", -1))
        if node is None or node.get("tagName") not in ("style", "link"):
            return None
        sheet = self.css.get(node["id"])
        if sheet is None:
            text = (node.get("attributes") or {}).get("_cssText")
            sheet = RuleList.parse(text if isinstance(text, str) else document_texts(node))
            self.css[node["id"]] = sheet
        return sheet

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
            self.adopted[host["id"]] = list(data.get("styleIds") or [])

    def media(self, data: dict[str, Any], timestamp: Any) -> None:
        """Media state as the replayer's MediaManager keeps it: playing or not, and the
        element's time at the moment of the last interaction (`at`)."""
        node_id = data.get("id", -1)
        if node_id not in self.nodes:
            return
        state = self.media_state.setdefault(node_id, {})
        if data.get("type") == 0:
            state["playing"] = True
        elif data.get("type") == 1:
            state["playing"] = False
        for key in ("currentTime", "volume", "muted", "playbackRate", "loop"):
            if key in data:
                state[key] = data[key]
        if "currentTime" in data:
            state["at"] = timestamp
