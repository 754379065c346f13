"""The tree of the DOM mirror: rrweb's serialized nodes by id, with their parents and
the state the browser keeps beside them, changed by mutation events as rrweb's
Replayer's `applyMutation` changes its DOM (its order and its fallbacks). What cannot be
applied is counted by reason in `skipped`. Pure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from replay.mirror.css import RuleList, parse_declarations, remove_declaration, set_declaration
from replay.mirror.nodes import (
    Node,
    forget,
    index,
    position,
    same_kind,
)
from replay.rrweb import DOCUMENT, DOCUMENT_TYPE, ELEMENT, TEXT

# Attributes whose change means more than setting the attribute.
_SPECIAL = frozenset(("style", "_cssText", "value"))

# The most nodes a page may hold in the mirror (the largest real pages hold a few tens of
# thousands; browsers crawl long before this). Past it, nodes are not added (a hostile
# recording could otherwise fill a worker's memory with them) and the mirror no longer
# matches the page (`over_cap`), until the next full snapshot.
MAX_NODES = 300_000


class Tree:
    """The nodes of one page load and what is kept beside them, by node id."""

    def __init__(self) -> None:
        self.document: Node | None = None
        self.nodes: dict[int, Node] = {}
        self.parents: dict[int, Node] = {}  # a node's parent (its host, for shadow children)
        # What the browser keeps beside the tree, by node id: properties (not attributes;
        # a keyframe restores these with input events, as the recording did), scroll
        # offsets, a <style>'s CSSOM once rule events touched it, media state, sheets a
        # document or shadow host adopted, and an <iframe>'s document. A node's entries
        # go when the node goes.
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
        self.pending_documents: dict[int, Node] = {}  # iframe documents before their iframe
        # Where the last add went: rrweb lists a run of new siblings last to first, each
        # going before the one added just before it.
        self._hint_list: list[Node] | None = None
        self._hint_at = -1
        self.skipped: Counter[str] = Counter()
        self.over_cap = False

    def load(self, document: object) -> Node:
        """Start over from a full snapshot's document (returned): the replayer wipes its
        mirrors. Should the snapshot be malformed, no document is held."""
        self.document = None
        self.nodes = {}
        self.parents = {}
        for table in self._tables:
            table.clear()
        self.pending_documents.clear()
        if not isinstance(document, dict):
            raise TypeError("snapshot node")
        nodes: dict[int, Node] = {}
        parents: dict[int, Node] = {}
        index(document, None, nodes, parents)
        self.document, self.nodes, self.parents = document, nodes, parents
        self.over_cap = len(nodes) > MAX_NODES
        return document

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
            if self._inside(parent, node):
                # The browser refuses this (HierarchyRequestError), and a tree with a
                # cycle could not be walked.
                self.skipped["add of a node into itself"] += 1
                return True
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
            if node is None and len(nodes) >= MAX_NODES:
                self.skipped["node past the page's node cap"] += 1
                self.over_cap = True
                return True
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
        elif (
            parent_tag is None
            and parent.get("type") == DOCUMENT
            and kind in (DOCUMENT_TYPE, ELEMENT)
        ):
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

    def _inside(self, node: Node, ancestor: Node) -> bool:
        """Whether `node` is `ancestor` or below it."""
        parents = self.parents
        above: Node | None = node
        while above is not None:
            if above is ancestor:
                return True
            above = parents.get(above["id"])
        return False

    def _attach_document(self, iframe: Node, document: Node) -> None:
        before = self.frames.get(iframe["id"])
        if before is not None:
            self._forget(before)
        index(document, None, self.nodes, self.parents)
        self.frames[iframe["id"]] = document
        self.over_cap = self.over_cap or len(self.nodes) > MAX_NODES

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
