"""Taking what could run code out of recordings before they are stored. Anyone holding
a project's public key can send events, and the player rebuilds them as a page in the
viewer's browser; rrweb's replayer keeps most attributes as they came (it renames only
onload, onclick and onmouse*). So, in every node of a full snapshot or of added
subtrees, and in every attribute change:

- script elements keep no attributes but `type`, and their text becomes rrweb's own
  `SCRIPT_PLACEHOLDER` (what rrweb records for scripts);
- event-handler attributes (`on…`, any case) and `srcdoc` are removed;
- attribute values that are script-bearing URLs (`javascript:`, `vbscript:`, HTML or
  XML `data:` documents, after taking out the tabs and line breaks browsers ignore in a
  URL) are removed, as is any `data:` URL on an iframe, frame, object or embed, and in
  an attribute change (which does not say its element's tag) any `data:` URL but an
  image (not SVG), font or media one;
- `<meta http-equiv>` that refreshes or sets cookies loses its `http-equiv`;
- an element whose tag name no browser takes (`"img src=x onerror=..."`) becomes a
  `<span>` (its children kept), and a doctype whose name none takes becomes `html`: the
  replayer builds the page with `createElement`, which throws on such names and would
  leave the rest of the page unbuilt.

What is left cannot run: style sheets do not run code in any current browser (their
requests to other hosts are stopped by the player's Content-Security-Policy), custom
event payloads are shown as text, and input values are never markup. A text change
aimed at a script's text node arrives without its parent, so it is not recognized here;
the replay iframe runs no script at all (rrweb's sandbox and the CSP), and this module
is the second of those lines, not the only one. Pure: no Django, no IO.
"""

from __future__ import annotations

import re
from typing import Any

from replay.rrweb import DOCUMENT_TYPE, ELEMENT, FULL_SNAPSHOT, INCREMENTAL, MUTATION, TEXT

SCRIPT_TEXT = "SCRIPT_PLACEHOLDER"
_IGNORED_IN_URLS = b"\t\n\r"
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "livescript:")
_DOCUMENT_DATA = ("data:text/html", "data:text/xml", "data:text/javascript", "data:application/")
# Data URLs that are never a document (what lazy-loading images swap in, for example).
_PASSIVE_DATA = (
    "data:image/png",
    "data:image/jpeg",
    "data:image/gif",
    "data:image/webp",
    "data:image/avif",
    "data:font/",
    "data:audio/",
    "data:video/",
)
_FRAMES = {"iframe", "frame", "object", "embed"}
_HTTP_EQUIV = {"refresh", "set-cookie"}
# What is looked for in a batch's bytes, at C speed:
# - with tabs and line breaks out and lower-cased: the tag name "script" (a msgpack
#   string of 6), a script URL's scheme, a data: URL, srcdoc, http-equiv;
_HINTS = (b"\xa6script", b"script:", b"data:", b"srcdoc", b"http-equiv")
# - a msgpack string that is "on" and letters only: an attribute name such as onerror
#   (3 to 31 bytes, after a one-byte header that this table turns into NUL, so that
#   candidates are found with one `find`), or a longer one such as
#   oncontentvisibilityautostatechange (a two-byte header).
_HEADERS_AS_NUL = bytes.maketrans(
    bytes(range(0xA3, 0xC0)) + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"\x00" * 29 + b"abcdefghijklmnopqrstuvwxyz",
)
_LONG_HANDLER = re.compile(rb"\xd9[\x20-\xff]on[a-z]{30}")
_CONTROL = re.compile(r"[\x00-\x20]+")
# What createElement and createDocumentType take, near enough (the DOM's rules for a
# name, with any letter or digit beyond ASCII allowed too).
_NAME = re.compile(r"(?:[A-Za-z_:]|[^\x00-\x7f\W])[-.:\w]*")
PLACEHOLDER_TAG, PLACEHOLDER_DOCTYPE = "span", "html"
# - a `tagName` (or a doctype's `name`) whose value is not plainly a name: not a short
#   msgpack string (header 0xa0 + length) of exactly that many name bytes.
_PLAIN_NAME = b"|".join(
    bytes([0xA0 + size]) + rb"[A-Za-z_:]" + rb"[-.:\w]" * (size - 1) for size in range(1, 32)
)
_ODD_NAMES = [
    re.compile(key + rb"(?!" + _PLAIN_NAME + rb")") for key in (b"\xa7tagName", b"\xa4name")
]


def needed(packed: bytes) -> bool:
    """Whether a batch's (or an event's) bytes may hold something to take out."""
    low = packed.translate(None, _IGNORED_IN_URLS).lower()
    if any(hint in low for hint in _HINTS):
        return True
    marked = packed.translate(_HEADERS_AS_NUL)
    at = marked.find(b"\x00on")
    while at >= 0:
        size = packed[at] - 0xA0
        if 3 <= size <= 31 and packed[at + 1 : at + 1 + size].isalpha():
            return True
        at = marked.find(b"\x00on", at + 1)
    if _LONG_HANDLER.search(marked) is not None:
        return True
    return any(odd.search(packed) is not None for odd in _ODD_NAMES)


def event(value: dict[str, Any]) -> dict[str, Any]:
    """The event with what could run code taken out (changed in place, and returned)."""
    data = value.get("data")
    if not isinstance(data, dict):
        return value
    kind = value.get("type")
    if kind == FULL_SNAPSHOT:
        _node(data.get("node"), "")
    elif kind == INCREMENTAL and data.get("source") == MUTATION:
        for add in _list(data.get("adds")):
            if isinstance(add, dict):
                _node(add.get("node"), "")
        for change in _list(data.get("attributes")):
            if isinstance(change, dict) and isinstance(change.get("attributes"), dict):
                # The element's tag is not in the change.
                _attributes(change["attributes"], "", removal=None)
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _node(node: Any, parent_tag: str) -> None:
    if not isinstance(node, dict):
        return
    tag = ""
    if node.get("type") == DOCUMENT_TYPE and not _NAME.fullmatch(str(node.get("name", ""))):
        node["name"] = PLACEHOLDER_DOCTYPE
    if node.get("type") == ELEMENT:
        if not _NAME.fullmatch(str(node.get("tagName", ""))):
            node["tagName"] = PLACEHOLDER_TAG
        tag = str(node.get("tagName", "")).lower()
        attributes = node.get("attributes")
        if not isinstance(attributes, dict):
            node["attributes"] = attributes = {}
        if tag == "script":
            node["attributes"] = {k: v for k, v in attributes.items() if k == "type"}
        else:
            _attributes(attributes, tag, removal=...)
    elif node.get("type") == TEXT and parent_tag == "script":
        node["textContent"] = SCRIPT_TEXT
    for child in _list(node.get("childNodes")):
        _node(child, tag)


def _attributes(attributes: dict[str, Any], tag: str, *, removal: Any) -> None:
    """Drop (`removal` is ...) or set to `removal` (None: a change that removes the
    attribute) every attribute that could run code."""
    for name in list(attributes):
        value = attributes[name]
        lowered = _CONTROL.sub("", str(name)).lower()
        bad = (
            lowered.startswith("on")
            or lowered == "srcdoc"
            or (isinstance(value, str) and _script_url(value, tag))
            or (
                lowered == "http-equiv"
                and isinstance(value, str)
                and value.strip().lower() in _HTTP_EQUIV
            )
        )
        if bad:
            if removal is ...:
                del attributes[name]
            else:
                attributes[name] = removal


def _script_url(value: str, tag: str) -> bool:
    """A URL that runs script, or a data: document where one could be loaded (a frame;
    an element of unknown tag unless the data is plainly an image, font or media)."""
    url = _CONTROL.sub("", value[:64]).lower()
    if url.startswith(_SCRIPT_SCHEMES):
        return True
    if not url.startswith("data:"):
        return False
    if tag in _FRAMES:
        return True
    if not tag:
        return not url.startswith(_PASSIVE_DATA)
    return url.startswith(_DOCUMENT_DATA)
