"""rrweb's numbers, named once (research/rrweb.md; rrweb's `EventType`,
`IncrementalSource`, `MouseInteractions` and rrweb-snapshot's `NodeType`): every module
that reads events by their numbers takes the names from here. Pure."""

from __future__ import annotations

# An event's `type`.
DOM_CONTENT_LOADED, LOAD, FULL_SNAPSHOT, INCREMENTAL, META, CUSTOM, PLUGIN = range(7)

# An incremental snapshot's `data.source`.
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, VIEWPORT_RESIZE, INPUT = range(6)
TOUCH_MOVE, MEDIA, STYLE_RULE, CANVAS, FONT, LOG = range(6, 12)
DRAG, STYLE_DECLARATION, SELECTION, ADOPTED_STYLE_SHEET, CUSTOM_ELEMENT = range(12, 17)

# A mouse interaction's `data.type`.
MOUSE_UP, MOUSE_DOWN, CLICK, CONTEXT_MENU, DBL_CLICK, FOCUS, BLUR = range(7)
TOUCH_START, TOUCH_MOVE_DEPARTED, TOUCH_END, TOUCH_CANCEL = range(7, 11)

# A media interaction's `data.type`.
PLAY, PAUSE, SEEKED, VOLUME_CHANGE, RATE_CHANGE = range(5)

# A serialized node's `type`.
DOCUMENT, DOCUMENT_TYPE, ELEMENT, TEXT, CDATA, COMMENT = range(6)
