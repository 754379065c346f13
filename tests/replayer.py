"""rrweb's own Replayer in Chromium, as the oracle for the DOM mirror: replay events to a
time and read back a normalized picture of what the replayer shows (the DOM with
shadow roots and iframe documents, style sheet rules, adopted sheets, scroll offsets and
form values)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.support import ROOT

RRWEB = ROOT / "node_modules" / "rrweb" / "umd" / "rrweb.min.js"

# Reads a normalized picture of a replayed document: the DOM with shadow roots and iframe
# documents, style sheet rules, adopted sheets, scroll offsets and form values. Form
# properties are read, not their attributes, since the replayer sets properties from
# input events; rrweb's hover classes follow the mouse and are kept.
PICTURE_OF = r"""
const FORM = new Set(['value', 'checked', 'selected']);

function rules(sheet) {
  try {
    return Array.from(sheet.cssRules, (rule) => rule.cssText);
  } catch (e) {
    return ['<unreadable>'];
  }
}
function picture(node) {
  if (node.nodeType === Node.TEXT_NODE) return { text: node.textContent };
  if (node.nodeType === Node.COMMENT_NODE) return { comment: node.textContent };
  if (node.nodeType === Node.DOCUMENT_TYPE_NODE) return { doctype: node.name };
  if (node.nodeType === Node.DOCUMENT_NODE || node.nodeType === Node.DOCUMENT_FRAGMENT_NODE) {
    const out = { children: Array.from(node.childNodes, picture) };
    if (node.adoptedStyleSheets) out.adopted = node.adoptedStyleSheets.map(rules);
    if (node.nodeType === Node.DOCUMENT_NODE && node.scrollingElement) {
      out.scroll = [node.scrollingElement.scrollLeft, node.scrollingElement.scrollTop];
    }
    return out;
  }
  const el = node;
  const out = { tag: el.tagName.toLowerCase(), attrs: {} };
  for (const attr of Array.from(el.attributes).sort((a, b) => a.name < b.name ? -1 : 1)) {
    if (!FORM.has(attr.name)) out.attrs[attr.name] = attr.value;
  }
  if (el.scrollTop || el.scrollLeft) out.scroll = [el.scrollLeft, el.scrollTop];
  if ('value' in el && ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) out.value = el.value;
  if (el.tagName === 'INPUT') out.checked = el.checked;
  if (el.tagName === 'OPTION') out.selected = el.selected;
  if (el.tagName === 'STYLE' && el.sheet) out.rules = rules(el.sheet);
  out.children = Array.from(el.childNodes, picture);
  if (el.shadowRoot) out.shadow = picture(el.shadowRoot);
  if (el.tagName === 'IFRAME' && el.contentDocument) out.document = picture(el.contentDocument);
  return out;
}
"""

# Runs in the page: replays the events `send` left in the page under `name` to `offset`
# ms in a fresh Replayer and returns the picture of what it shows.
PICTURE = r"""
async ([name, offset]) => {
  const events = window[name];
  const root = document.createElement('div');
  document.body.appendChild(root);
  const replayer = new rrweb.Replayer(events, { root, showWarning: false, mouseTail: false });
  replayer.pause(offset);
  await new Promise((resolve) => setTimeout(resolve, 0));
  const iframe = root.querySelector('iframe');
  PICTURE_OF
  const result = picture(iframe.contentDocument);
  replayer.destroy();
  root.remove();
  return result;
}
""".replace("PICTURE_OF", PICTURE_OF)

# The picture of the document an iframe on the current page shows (the player's).
SHOWN = r"""
(selector) => {
  PICTURE_OF
  return picture(document.querySelector(selector).contentDocument);
}
""".replace("PICTURE_OF", PICTURE_OF)


ORIGIN = "http://oracle.test"
# The JSON of the events being sent to an oracle page, by the path it fetches them from.
_BODIES: dict[str, str] = {}
_SENT = itertools.count()


def open_oracle(browser: Any) -> Any:
    """A page with rrweb loaded, on an origin of its own."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route(
        f"{ORIGIN}/",
        lambda route: route.fulfill(body="<!doctype html><body></body>", content_type="text/html"),
    )
    page.route(
        f"{ORIGIN}/events/*",
        lambda route: route.fulfill(
            body=_BODIES.pop(route.request.url[len(ORIGIN) :]), content_type="application/json"
        ),
    )
    page.goto(f"{ORIGIN}/")
    page.add_script_tag(path=str(RRWEB))
    return page


def send(page: Any, events: list[dict[str, Any]], name: str) -> None:
    """Leave `events` in the oracle page as `window[name]`. They go as one JSON body the
    page fetches: Playwright's own argument passing walks them value by value, which took
    a minute for ten minutes of recording."""
    path = f"/events/{name}-{next(_SENT)}"
    _BODIES[path] = json.dumps(events)
    page.evaluate(
        "async ([path, name]) => { window[name] = await (await fetch(path)).json(); }",
        [path, name],
    )


def picture(page: Any, events: list[dict[str, Any]] | None, offset: float) -> Any:
    """What rrweb's Replayer shows `offset` ms into `events` (None: those held)."""
    if events is None:
        return page.evaluate(PICTURE, ["__held", offset])
    send(page, events, "__sent")
    return page.evaluate(PICTURE, ["__sent", offset])


def hold(page: Any, events: list[dict[str, Any]]) -> None:
    """Leave a long recording in the oracle page, to picture it at many moments without
    sending it each time."""
    send(page, events, "__held")


def shown(page: Any, iframe_selector: str) -> Any:
    return page.evaluate(SHOWN, iframe_selector)
