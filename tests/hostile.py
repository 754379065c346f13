"""A hostile recording: what anyone holding a project's public key could send, aimed at
the people who watch it. Each vector either tries to run script (which would mark the
player's page with `data-pwned` and open an alert) or to make the viewer's browser call
a host other than the recorded page's (evil.example). They sit in the full snapshot, in
mutations, in attribute changes, in style rules and in a custom event."""

from __future__ import annotations

from itertools import count
from typing import Any

EVIL = "http://evil.example"
PAGE = "https://shop.alice.example/"


def run(mark: str) -> str:
    """Script that, if it ever runs, leaves a mark the test finds."""
    return f"parent.document.documentElement.dataset.pwned='{mark}';alert('{mark}')"


def _vectors() -> list[tuple[str, dict[str, str], list[Any]]]:
    """(tag, attributes, children) of each vector in the snapshot's body; children are
    text strings or nested vectors."""
    return [
        ("script", {}, [run("script")]),
        ("script", {"src": f"{EVIL}/script.js"}, []),
        ("img", {"src": "x", "onerror": run("img-onerror")}, []),
        ("img", {"src": f"{EVIL}/img.png"}, []),
        ("img", {"srcset": f"{EVIL}/srcset.png 1x"}, []),
        ("svg", {"onload": run("svg-onload")}, []),
        ("iframe", {"srcdoc": f"<script>{run('srcdoc')}</script>"}, []),
        ("iframe", {"src": f"javascript:{run('iframe-js')}"}, []),
        ("iframe", {"src": f"{EVIL}/frame.html"}, []),
        ("iframe", {"rr_src": f"{EVIL}/rr-src.html"}, []),
        ("object", {"data": f"{EVIL}/object.swf"}, []),
        ("object", {"data": f"data:text/html,<script>{run('object-data')}</script>"}, []),
        ("embed", {"src": f"{EVIL}/embed"}, []),
        ("embed", {"src": f"javascript:{run('embed-js')}"}, []),
        ("link", {"rel": "stylesheet", "href": f"{EVIL}/style.css"}, []),
        ("link", {"rel": "prefetch", "href": f"{EVIL}/prefetch"}, []),
        ("link", {"rel": "icon", "href": f"{EVIL}/favicon.ico"}, []),
        ("link", {"rel": "stylesheet", "_cssText": f"@import url({EVIL}/import.css);"}, []),
        ("style", {}, [f"@import url({EVIL}/style-import.css); p {{ color: red; }}"]),
        ("style", {}, [f"@font-face {{ font-family: e; src: url({EVIL}/font.woff); }}"]),
        ("style", {}, ["b { font-family: e; }"]),
        ("b", {}, ["bold in an evil font"]),
        ("div", {"style": f"background-image: url({EVIL}/div.png); height: 10px"}, []),
        ("meta", {"http-equiv": "refresh", "content": f"0;url=javascript:{run('meta')}"}, []),
        ("base", {"href": f"{EVIL}/"}, []),
        ("img", {"src": "relative-after-base.png"}, []),
        ("video", {"poster": f"{EVIL}/poster.png", "src": f"{EVIL}/video.mp4"}, []),
        ("audio", {"src": f"{EVIL}/audio.mp3", "autoplay": ""}, []),
        ("video", {}, [("source", {"src": f"{EVIL}/source.mp4"}, [])]),
        ("picture", {}, [("source", {"srcset": f"{EVIL}/picture.png"}, []), ("img", {}, [])]),
        ("input", {"type": "image", "src": f"{EVIL}/input.png"}, []),
        ("input", {"autofocus": "", "onfocus": run("onfocus")}, []),
        ("details", {"open": "", "ontoggle": run("ontoggle")}, []),
        ("marquee", {"onstart": run("marquee")}, []),
        ("form", {"action": f"javascript:{run('form')}"}, [("button", {}, ["go"])]),
        ("a", {"href": f"javascript:{run('href')}", "ping": f"{EVIL}/ping"}, ["link"]),
        ("img", {"src": f'data:image/svg+xml,<svg onload="{run("data-svg")}"/>'}, []),
        ("table", {"background": f"{EVIL}/table.png"}, []),
        ("body", {"background": f"{EVIL}/nested-body.png", "onload": run("body-onload")}, []),
        ("noscript", {}, [f"<img src={EVIL}/noscript.png>"]),
        ("textarea", {}, [f'</textarea><img src=x onerror="{run("textarea")}">']),
    ]


_SVG = [
    ("script", {}, [run("svg-script")]),
    ("animate", {"onbegin": run("animate"), "attributeName": "x", "dur": "1s"}, []),
    ("use", {"href": f"{EVIL}/use.svg#x"}, []),
    ("image", {"href": f"{EVIL}/image.svg"}, []),
    ("a", {"href": f"javascript:{run('svg-a')}"}, [("text", {}, ["x"])]),
]


def recording(start: int = 1_700_000_000_000) -> list[dict[str, Any]]:
    """Meta, a full snapshot holding the vectors, then more of them arriving later."""
    ids = count(1)

    def text(value: str) -> dict[str, Any]:
        return {"type": 3, "textContent": value, "id": next(ids)}

    def element(tag: str, attrs: dict[str, str], children: list[Any], svg: bool = False):
        node: dict[str, Any] = {"type": 2, "tagName": tag, "attributes": attrs, "id": next(ids)}
        if svg:
            node["isSVG"] = True
        node["childNodes"] = [
            text(c) if isinstance(c, str) else element(c[0], c[1], c[2], svg=svg) for c in children
        ]
        return node

    body = element("body", {}, [])
    body["childNodes"] = [element(*vector) for vector in _vectors()]
    body["childNodes"].append(element("svg", {}, _SVG, svg=True))
    later_img = element("img", {"src": "x"}, [])
    document = {
        "type": 0,
        "id": next(ids),
        "childNodes": [
            {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": next(ids)},
            {
                "type": 2,
                "tagName": "html",
                "attributes": {"onload": run("html")},
                "id": next(ids),
                "childNodes": [element("head", {}, []), body],
            },
        ],
    }
    target = body["childNodes"][3]["id"]  # an <img>
    styled = next(n for n in body["childNodes"] if n["tagName"] == "style")["id"]
    events: list[dict[str, Any]] = [
        {"type": 4, "data": {"href": PAGE, "width": 1024, "height": 768}, "timestamp": start},
        {
            "type": 2,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": start,
        },
    ]

    def incremental(at: int, data: dict[str, Any]) -> None:
        events.append({"type": 3, "data": data, "timestamp": start + at})

    added = [
        element("script", {}, [run("added-script")]),
        element("img", {"src": f"{EVIL}/added.png", "onerror": run("added-img")}, []),
        element("iframe", {"srcdoc": f'<img src=x onerror="{run("added-srcdoc")}">'}, []),
        later_img,
    ]
    adds = [{"parentId": body["id"], "nextId": None, "node": node} for node in added]
    incremental(1000, {"source": 0, "adds": adds, "removes": [], "texts": [], "attributes": []})
    changes = [
        {"id": target, "attributes": {"src": "x", "onerror": run("attribute-onerror")}},
        {"id": later_img["id"], "attributes": {"src": f"{EVIL}/changed.png"}},
        {"id": body["id"], "attributes": {"style": {"background": f"url({EVIL}/body.png)"}}},
    ]
    incremental(1500, {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": changes})
    rule = f"p {{ background: url({EVIL}/rule.png); }}"
    incremental(2000, {"source": 8, "id": styled, "adds": [{"rule": rule, "index": 0}]})
    custom = {"tag": f'<img src=x onerror="{run("custom")}">', "payload": {"html": "<b>x</b>"}}
    events.append({"type": 5, "data": custom, "timestamp": start + 2500})
    incremental(
        3000, {"source": 1, "positions": [{"x": 10, "y": 10, "id": target, "timeOffset": 0}]}
    )
    return events


VECTORS = len(_vectors()) + len(_SVG) + 4 + 3 + 1 + 1  # snapshot, adds, attributes, rule, custom
