"""Keyframes: the events that rebuild, in rrweb's Replayer, the page a mirror holds.

A keyframe at time T is, all at timestamp T and in this order (the replayer's stable
sort keeps it): a Meta (seeks are keyed on Meta), a FullSnapshot of the top document
with the rules and element scroll folded in, a mutation attaching each iframe's
document (outer frames first), the adopted style sheets of each document or shadow
host, scroll events where a snapshot cannot carry scroll (iframe documents and their
elements), input events restoring form values (properties, which the recording set the
same way), and the last mouse position. Every event is
marked `"synthetic": true` so it is never mistaken for what the browser sent. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from difflib import SequenceMatcher
from typing import Any

from replay.mirror.css import Rule, split_rules
from replay.mirror.nodes import ELEMENT, Node, serialize
from replay.mirror.state import (
    ADOPTED_STYLE_SHEET,
    INCREMENTAL,
    INPUT,
    MOUSE_MOVE,
    MUTATION,
    SCROLL,
    STYLE_RULE,
    Mirror,
)

Event = dict[str, Any]
SYNTHETIC = "synthetic"


def _event(kind: int, data: dict[str, Any], timestamp: int | float) -> Event:
    return {"type": kind, "data": data, "timestamp": timestamp, SYNTHETIC: True}


def _frames(document: Node) -> Iterator[Node]:
    """Iframes with a document, each before the frames inside it."""
    for node in document.walk():
        if node.type == ELEMENT and node.content_doc is not None:
            yield node
            yield from _frames(node.content_doc)


def _rules(node: Node, timestamp: int | float) -> list[Event]:
    """Rule events turning the sheet parsed from the element's text into its current
    rules, touching only the rules that differ. The text stays as the recording left
    it, and unchanged rules stay as the replayer built them from it (it rewrites
    `:hover` selectors then, but not in inserted rules), as in a replay from the start."""
    assert node.css is not None
    text = node.attrs.get("_cssText")
    original = [
        Rule.parse(r).css_text()
        for r in split_rules(text if isinstance(text, str) else node.document_texts())
    ]
    current = [rule.css_text() for rule in node.css.rules]
    events = []
    # From the end backwards, so the indices of earlier rules stay valid.
    for tag, i1, i2, j1, j2 in reversed(
        SequenceMatcher(a=original, b=current, autojunk=False).get_opcodes()
    ):
        if tag in ("delete", "replace"):
            removes = [{"index": i1}] * (i2 - i1)
            events.append(
                _event(
                    INCREMENTAL,
                    {"source": STYLE_RULE, "id": node.id, "removes": removes},
                    timestamp,
                )
            )
        if tag in ("insert", "replace"):
            adds = [{"rule": current[j], "index": i1 + k} for k, j in enumerate(range(j1, j2))]
            events.append(
                _event(INCREMENTAL, {"source": STYLE_RULE, "id": node.id, "adds": adds}, timestamp)
            )
    return events


def keyframe(mirror: Mirror, timestamp: int | float) -> list[Event] | None:
    """The keyframe for the mirror's current state, or None when the mirror cannot
    reproduce the page exactly (no snapshot yet, or canvas drawing)."""
    document = mirror.document
    if document is None or mirror.inexact:
        return None
    width, height = mirror.viewport
    events = [_event(4, {"href": mirror.href, "width": width, "height": height}, timestamp)]
    snapshot = serialize(document)
    left, top = document.scroll or (0, 0)
    events.append(
        _event(2, {"node": snapshot, "initialOffset": {"left": left, "top": top}}, timestamp)
    )
    scrolls: list[Event] = []
    for frame in _frames(document):
        assert frame.content_doc is not None
        attached = serialize(frame.content_doc)
        adds = [{"parentId": frame.id, "nextId": None, "node": attached}]
        attach = {"source": MUTATION, "adds": adds, "removes": [], "texts": [], "attributes": []}
        attach["isAttachIframe"] = True
        events.append(_event(INCREMENTAL, attach, timestamp))
        # The replayer applies rr_scroll* only when it rebuilds the top document.
        for node in [frame.content_doc, *frame.content_doc.walk()]:
            if node.scroll and any(node.scroll):
                data: dict[str, Any] = {
                    "source": SCROLL,
                    "id": node.id,
                    "x": node.scroll[0],
                    "y": node.scroll[1],
                }
                scrolls.append(_event(INCREMENTAL, data, timestamp))
    for host in mirror.nodes.values():
        if host.adopted:
            styles = [
                {
                    "styleId": style_id,
                    "rules": [
                        {"rule": rule.css_text(), "index": index}
                        for index, rule in enumerate(mirror.sheets[style_id].rules)
                    ],
                }
                for style_id in host.adopted
                if style_id in mirror.sheets
            ]
            data = {
                "source": ADOPTED_STYLE_SHEET,
                "id": host.id,
                "styleIds": host.adopted,
                "styles": styles,
            }
            events.append(_event(INCREMENTAL, data, timestamp))
    events += scrolls
    for node in mirror.nodes.values():
        if node.css is not None:
            events += _rules(node, timestamp)
    for node in mirror.nodes.values():
        if node.value is not None or node.checked is not None:
            data = {"source": INPUT, "id": node.id, "text": node.value or ""}
            if node.checked is not None:
                data["isChecked"] = node.checked
            events.append(_event(INCREMENTAL, data, timestamp))
    if mirror.mouse is not None:
        x, y, node_id = mirror.mouse
        position = {"x": x, "y": y, "id": node_id, "timeOffset": 0}
        events.append(
            _event(INCREMENTAL, {"source": MOUSE_MOVE, "positions": [position]}, timestamp)
        )
    return events
