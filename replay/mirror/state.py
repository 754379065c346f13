"""The DOM mirror of one tab's page: rrweb events applied as rrweb's Replayer applies
them, to the tree (see `tree`) and to the state the replayer keeps beside it. Events it
cannot apply are counted by reason (a fixed set of strings, so they can label a metric),
never raised.

The mirror takes ownership of the events it is given: their serialized nodes become its
nodes and are changed in place by later events (see `nodes`). Give it a copy of events
that are used again afterwards. Pure."""

from __future__ import annotations

from typing import Any

from replay.mirror.css import RuleList
from replay.mirror.nodes import document_texts
from replay.mirror.tree import Tree
from replay.rrweb import (
    ADOPTED_STYLE_SHEET,
    CANVAS,
    CLICK,
    CUSTOM,
    DOM_CONTENT_LOADED,
    DRAG,
    FONT,
    FULL_SNAPSHOT,
    INCREMENTAL,
    INPUT,
    LOAD,
    MEDIA,
    META,
    MOUSE_DOWN,
    MOUSE_INTERACTION,
    MOUSE_MOVE,
    MOUSE_UP,
    MUTATION,
    PAUSE,
    PLAY,
    PLUGIN,
    SCROLL,
    SELECTION,
    STYLE_DECLARATION,
    STYLE_RULE,
    TOUCH_END,
    TOUCH_MOVE,
    TOUCH_START,
    VIEWPORT_RESIZE,
)

Event = dict[str, Any]

OTHER_EVENTS = (DOM_CONTENT_LOADED, LOAD, CUSTOM, PLUGIN)  # nothing to mirror


class Mirror(Tree):
    """One page load's DOM as the replayer would hold it at the last applied event."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: dict[int, RuleList] = {}  # constructed sheets, by styleId
        self.href = ""
        self.snapshot_at: Any = None  # when the last full snapshot was taken
        self.viewport = (0, 0)
        self.mouse: tuple[float, float, int] | None = None
        self.selection: list[dict[str, Any]] | None = None
        self.fonts: list[Event] = []
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
            if (
                data.get("type") in (MOUSE_UP, MOUSE_DOWN, CLICK, TOUCH_START, TOUCH_END)
                and data.get("id", -1) != -1
            ):
                self.mouse = (data.get("x") or 0, data.get("y") or 0, data["id"])
        else:
            self.skipped["unknown incremental source"] += 1

    # -- full snapshot -----------------------------------------------------------

    def full_snapshot(self, data: dict[str, Any], timestamp: Any = None) -> None:
        # A full snapshot wipes the document and the replayer's mirrors.
        self.sheets.clear()
        self.selection = None
        self.inexact = None
        self.snapshot_at = timestamp
        document = self.load(data.get("node"))  # raises, holding none, if malformed
        offset = data.get("initialOffset") or {}
        self.scrolls[document["id"]] = (offset.get("left", 0), offset.get("top", 0))

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
        if data.get("type") == PLAY:
            state["playing"] = True
        elif data.get("type") == PAUSE:
            state["playing"] = False
        for key in ("currentTime", "volume", "muted", "playbackRate", "loop"):
            if key in data:
                state[key] = data[key]
        if "currentTime" in data:
            state["at"] = timestamp
