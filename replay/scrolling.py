"""How far a page view was read: the deepest point the bottom edge of the viewport
reached, on the element that scrolls the page. That is the document, or, on a page
whose document does not scroll, the container the recorder names with
`replay/scroller` (an app whose content scrolls inside a <main>). Pure: no Django, no IO.

rrweb records where each element was scrolled to (its id and scrollTop); the recorder
adds what only the page knows, the heights: the document's with `replay/page` and
`replay/navigation`, the scrolling element's (and the visible part of it) with
`replay/scroller`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ELEMENTS = 200  # scrolled elements remembered in a page view (carousels, lists)


@dataclass
class Reading:
    """One page view's scrolling, fed rrweb's scroll events and the recorder's notes."""

    scroller: int = 0  # the rrweb id of the page's scrolling container; 0: the document
    height: int = 0  # the scrolling element's height, when the recorder said
    viewport: int = 0  # the height of its visible part, when the recorder said
    tops: dict[int, float] = field(default_factory=dict)  # each element's deepest scrollTop

    def scroll(self, node_id: int, top: float, document_id: int | None) -> None:
        key = 0 if node_id == document_id else node_id
        if key not in self.tops and len(self.tops) >= MAX_ELEMENTS:
            return
        self.tops[key] = max(self.tops.get(key, 0.0), top)

    def note(self, payload: dict[str, Any]) -> None:
        """The recorder's `replay/scroller`: {id, height, viewport}."""
        numbers = [payload.get(k) for k in ("id", "height", "viewport")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            return
        node_id, height, viewport = (_pixels(v) for v in numbers)
        self.scroller, self.height, self.viewport = node_id, height, viewport

    def document_height(self, height: int) -> None:
        """The document's height (`replay/page`, `replay/navigation`)."""
        if self.scroller == 0 and height > 0:
            self.height = height

    def record(self, window: tuple[int, int], describe: Any) -> dict[str, Any]:
        """The scroll record's data: `depth_px` (how far down the scrolling element the
        bottom of the viewport reached; the fold when it never scrolled), `viewport`,
        the window's width `vw`, and when the height is known, `page_height` and
        `percent`. `window` is the window's width and height (the height is the
        document's viewport when the recorder did not say); `describe(id)` names a
        container."""
        viewport = self.viewport or window[1]
        depth = self.tops.get(self.scroller, 0.0) + viewport
        data: dict[str, Any] = {"depth_px": round(depth), "viewport": round(viewport)}
        if window[0] > 0:
            data["vw"] = window[0]
        data["scroller"] = "document"
        if self.scroller:
            data["scroller"] = "container"
            data["selector"] = describe(self.scroller)
        if self.height > 0:
            data["page_height"] = self.height
            data["percent"] = min(100, round(depth / self.height * 100))
        return data


def _pixels(value: Any) -> int:
    return max(0, round(float(value)))
