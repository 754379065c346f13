"""Keyframes: the events that rebuild, in rrweb's Replayer, the page a mirror holds.

A keyframe at time T is, all at timestamp T and in this order (the replayer's stable
sort keeps it): a Meta (seeks are keyed on Meta), a FullSnapshot of the top document
with the rules and element scroll folded in, a mutation attaching each iframe's
document (outer frames first), the adopted style sheets of each document or shadow
host, scroll events where a snapshot cannot carry scroll (iframe documents and their
elements), input events restoring form values (properties, which the recording set the
same way), the fonts the page loaded, the selection, and the last mouse position. Media
elements carry their state as `rr_media*` attributes, the playhead carried forward. Every event is
marked `"synthetic": true` so it is never mistaken for what the browser sent. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from difflib import SequenceMatcher
from typing import Any

from replay.mirror.css import Rule, RuleList, split_rules
from replay.mirror.nodes import Node, document_texts, serialize, walk
from replay.mirror.state import Mirror
from replay.rrweb import (
    ADOPTED_STYLE_SHEET,
    INCREMENTAL,
    INPUT,
    MOUSE_MOVE,
    MUTATION,
    SCROLL,
    SELECTION,
    STYLE_RULE,
)

Event = dict[str, Any]
SYNTHETIC = "synthetic"


def _event(kind: int, data: dict[str, Any], timestamp: int | float) -> Event:
    return {"type": kind, "data": data, "timestamp": timestamp, SYNTHETIC: True}


def _frames(mirror: Mirror, document: Node) -> Iterator[tuple[Node, Node]]:
    """Iframes with a document, and that document, each before the frames inside it."""
    for node in walk(document):
        inner = mirror.frames.get(node["id"])
        if inner is not None:
            yield node, inner
            yield from _frames(mirror, inner)


def _rules(node: Node, sheet: RuleList, timestamp: int | float) -> list[Event]:
    """Rule events turning the sheet parsed from the element's text into its current
    rules, touching only the rules that differ. The text stays as the recording left
    it, and unchanged rules stay as the replayer built them from it (it rewrites
    `:hover` selectors then, but not in inserted rules), as in a replay from the start."""
    text = (node.get("attributes") or {}).get("_cssText")
    original = [
        Rule.parse(r).css_text()
        for r in split_rules(text if isinstance(text, str) else document_texts(node))
    ]
    current = [rule.css_text() for rule in sheet.rules]
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
                    {"source": STYLE_RULE, "id": node["id"], "removes": removes},
                    timestamp,
                )
            )
        if tag in ("insert", "replace"):
            adds = [{"rule": current[j], "index": i1 + k} for k, j in enumerate(range(j1, j2))]
            events.append(
                _event(
                    INCREMENTAL, {"source": STYLE_RULE, "id": node["id"], "adds": adds}, timestamp
                )
            )
    return events


MEDIA_TAGS = ("video", "audio")


def _overlay(mirror: Mirror, timestamp: int | float) -> Callable[[Node], dict[str, Any] | None]:
    """Attributes a keyframe's snapshot adds to an element (None: takes away): its
    scroll offsets, and for media its state with the playhead carried forward to the
    keyframe's time (the replayer's MediaManager starts from these, as from a recorded
    snapshot). A recorded snapshot carries an element's scroll as `rr_scroll*` too; a
    scroll since replaces it, and one back to 0 takes it away."""

    def overlay(node: Node) -> dict[str, Any] | None:
        extra: dict[str, Any] | None = None
        offset = mirror.scrolls.get(node["id"])
        if offset is not None:
            left, top = offset
            extra = {"rr_scrollLeft": left or None, "rr_scrollTop": top or None}
        if node.get("tagName") in MEDIA_TAGS:
            extra = {**(extra or {}), **_media(mirror, node, timestamp)}
        return extra

    return overlay


def _media(mirror: Mirror, node: Node, timestamp: int | float) -> dict[str, Any]:
    attrs = node.get("attributes") or {}
    state = mirror.media_state.get(node["id"], {})
    playing = state.get("playing", attrs.get("rr_mediaState") == "played")
    out: dict[str, Any] = {"rr_mediaState": "played" if playing else "paused"}
    current = state.get("currentTime", attrs.get("rr_mediaCurrentTime"))
    since = state.get("at", mirror.snapshot_at)
    rate = state.get("playbackRate", attrs.get("rr_mediaPlaybackRate", 1))
    if isinstance(current, int | float):
        if playing and isinstance(since, int | float) and isinstance(rate, int | float):
            current += max(0, timestamp - since) / 1000 * rate
        out["rr_mediaCurrentTime"] = current
    for key, name in (
        ("playbackRate", "rr_mediaPlaybackRate"),
        ("muted", "rr_mediaMuted"),
        ("loop", "rr_mediaLoop"),
        ("volume", "rr_mediaVolume"),
    ):
        if key in state:
            out[name] = state[key]
    return out


def stuck(mirror: Mirror) -> bool:
    """Whether the mirror can write no keyframe until the page's next full snapshot,
    whatever else comes: it has none yet, or what came since (canvas drawing, nodes past
    the cap) is undone only by the next."""
    return mirror.document is None or mirror.inexact is not None or mirror.over_cap


def keyframe(mirror: Mirror, timestamp: int | float) -> list[Event] | None:
    """The keyframe for the mirror's current state, or None when the mirror cannot
    reproduce the page exactly (no snapshot yet, canvas drawing, a page past the node
    cap, or a recording whose nodes are malformed)."""
    document = mirror.document
    if document is None or stuck(mirror):
        return None
    try:
        return _keyframe(mirror, document, timestamp)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError):
        return None


def _keyframe(mirror: Mirror, document: Node, timestamp: int | float) -> list[Event]:
    nodes = mirror.nodes
    width, height = mirror.viewport
    events = [_event(4, {"href": mirror.href, "width": width, "height": height}, timestamp)]
    overlay = _overlay(mirror, timestamp)
    snapshot = serialize(document, overlay)
    left, top = mirror.scrolls.get(document["id"]) or (0, 0)
    events.append(
        _event(2, {"node": snapshot, "initialOffset": {"left": left, "top": top}}, timestamp)
    )
    scrolls: list[Event] = []
    for frame, inner in _frames(mirror, document):
        attached = serialize(inner, overlay)
        adds = [{"parentId": frame["id"], "nextId": None, "node": attached}]
        attach = {"source": MUTATION, "adds": adds, "removes": [], "texts": [], "attributes": []}
        attach["isAttachIframe"] = True
        events.append(_event(INCREMENTAL, attach, timestamp))
        # The replayer applies rr_scroll* only when it rebuilds the top document.
        for node in walk(inner):
            offset = mirror.scrolls.get(node["id"])
            if offset and any(offset):
                data: dict[str, Any] = {
                    "source": SCROLL,
                    "id": node["id"],
                    "x": offset[0],
                    "y": offset[1],
                }
                scrolls.append(_event(INCREMENTAL, data, timestamp))
    for host_id, style_ids in mirror.adopted.items():
        if host_id not in nodes or not style_ids:
            continue
        styles = [
            {
                "styleId": style_id,
                "rules": [
                    {"rule": rule.css_text(), "index": index}
                    for index, rule in enumerate(mirror.sheets[style_id].rules)
                ],
            }
            for style_id in style_ids
            if style_id in mirror.sheets
        ]
        data = {
            "source": ADOPTED_STYLE_SHEET,
            "id": host_id,
            "styleIds": style_ids,
            "styles": styles,
        }
        events.append(_event(INCREMENTAL, data, timestamp))
    events += scrolls
    for node_id, sheet in mirror.css.items():
        if node_id in nodes:
            events += _rules(nodes[node_id], sheet, timestamp)
    for node_id in {**mirror.values, **mirror.checked}:
        if node_id not in nodes:
            continue
        data = {"source": INPUT, "id": node_id, "text": mirror.values.get(node_id) or ""}
        if node_id in mirror.checked:
            data["isChecked"] = mirror.checked[node_id]
        events.append(_event(INCREMENTAL, data, timestamp))
    for font in mirror.fonts:
        events.append(_event(INCREMENTAL, font["data"], timestamp))
    if mirror.selection:
        selection = {"source": SELECTION, "ranges": mirror.selection}
        events.append(_event(INCREMENTAL, selection, timestamp))
    if mirror.mouse is not None:
        x, y, node_id = mirror.mouse
        position = {"x": x, "y": y, "id": node_id, "timeOffset": 0}
        events.append(
            _event(INCREMENTAL, {"source": MOUSE_MOVE, "positions": [position]}, timestamp)
        )
    return events
