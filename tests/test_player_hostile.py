"""The player against a hostile recording (tests/hostile.py): nothing in it runs script
in the viewer's browser, and nothing in it makes the viewer's browser call a host other
than this server and the recorded page's own origin. The player page's
Content-Security-Policy and rrweb's sandboxed iframe stop it, whatever was stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests import hostile
from tests.recording import log_in
from tests.stored import store_at_pace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SESSION = "session-hostile-01"

MARKS = """() => [document, ...Array.from(document.querySelectorAll('iframe'), (f) => {
  try { return f.contentDocument; } catch (e) { return null; }
})].filter(Boolean).map((d) => d.documentElement && d.documentElement.dataset.pwned)
  .filter(Boolean)"""


def test_a_hostile_recording_runs_no_script_and_calls_no_other_host(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    assert hostile.VECTORS >= 40
    store_at_pace(alices_shop, SESSION, hostile.recording())
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    outside: list[str] = []  # requests that reached the network for another host
    dialogs: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(daphne.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def dialog(box: Any) -> None:
        dialogs.append(box.message)
        box.dismiss()

    viewer.route("**/*", route)
    viewer.on("dialog", dialog)
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{SESSION}?t=3.5")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    viewer.wait_for_timeout(1500)  # time for anything to load, fire or run
    # The recording was replayed, vectors and all...
    replay = viewer.frame_locator("#stage iframe")
    assert replay.locator("b").inner_text() == "bold in an evil font"
    assert replay.locator("img").count() >= 8
    # ...and none of it ran or called out.
    assert viewer.evaluate(MARKS) == []
    assert dialogs == []
    assert outside == []
    viewer.close()


def names_no_browser_takes(start: int = 1_700_000_000_000) -> list[dict[str, Any]]:
    """A page whose doctype and one element have names createElement would refuse, a
    <base> with a javascript: URL, and more of each added later."""

    def element(node_id: int, tag: str, children: list[Any], **attributes: str) -> Any:
        return {
            "type": 2,
            "id": node_id,
            "tagName": tag,
            "attributes": attributes,
            "childNodes": children,
        }

    def text(node_id: int, value: str) -> Any:
        return {"type": 3, "id": node_id, "textContent": value}

    document = {
        "type": 0,
        "id": 1,
        "childNodes": [
            {"type": 1, "id": 2, "name": "html x><img src=x>", "publicId": "", "systemId": ""},
            element(
                3,
                "html",
                [
                    element(4, "head", [element(5, "base", [], href="javascript:alert(1)//")]),
                    element(
                        6,
                        "body",
                        [
                            element(
                                7, "img src=x onerror=alert(1)", [text(8, "inside the odd one")]
                            ),
                            element(9, "p", [text(10, "after the odd one")]),
                        ],
                    ),
                ],
            ),
        ],
    }
    added = [
        {"parentId": 6, "nextId": None, "node": element(11, "a b=c", [])},
        {"parentId": 11, "nextId": None, "node": text(12, "added later")},
        {"parentId": 4, "nextId": None, "node": element(13, "base", [], href=" javascript:x")},
    ]
    return [
        {
            "type": 4,
            "timestamp": start,
            "data": {"href": hostile.PAGE, "width": 800, "height": 600},
        },
        {
            "type": 2,
            "timestamp": start,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
        },
        {
            "type": 3,
            "timestamp": start + 1000,
            "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": added},
        },
    ]


def test_names_no_browser_takes_do_not_stop_the_player_showing_the_page(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    from websockets.sync.client import connect
    from websockets.typing import Origin

    from tests.support import batch, hello, unpack

    with connect(daphne.ws_url, origin=Origin("https://shop.alice.example")) as ws:
        ws.send(hello(alices_shop.key))
        session = unpack(ws.recv(timeout=10))["session"]
        ws.send(batch(0, names_no_browser_takes()))
        assert unpack(ws.recv(timeout=10)) == {"type": "ack", "seq": 0}
    viewer = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{session}?t=5")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    replay = viewer.frame_locator("#stage iframe")
    body = replay.locator("body").inner_text()
    for words in ("inside the odd one", "after the odd one", "added later"):
        assert words in body
    assert replay.locator("base[href]").count() == 0
    viewer.close()


def play_through(browser: Any, daphne: Any, session: str, until_ms: int, timeout: int) -> Any:
    """Alice's viewer, playing `session` from 4.5 s (its flood starts at 5 s), once the
    playhead has passed `until_ms`."""
    viewer = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(viewer, daphne, "alice", "alice-password-1")
    viewer.goto(f"{daphne.url}/sessions/{session}?t=4.5")
    viewer.wait_for_selector("#stage[data-ready=true]", timeout=20000)
    viewer.evaluate("window.replayPlayer.seek(4500, true)")
    viewer.wait_for_function(f"() => window.replayPlayer.now() >= {until_ms}", timeout=timeout)
    return viewer


def test_a_flood_of_pointer_positions_plays_through(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    """200,000 pointer positions in a fifth of a second (rrweb's recorder samples every
    50 ms; a hostile client need not): rrweb's Replayer would draw the mouse's tail over
    each of them at each of them, and the viewer's tab would hang for minutes."""
    from tests.test_record_caps import T, change, page

    moves = [{"x": 100 + n % 500, "y": 300, "id": 4, "timeOffset": 0} for n in range(1000)]
    flood = [
        {"type": 3, "timestamp": T + 5000 + n, "data": {"source": 1, "positions": moves}}
        for n in range(200)
    ]
    store_at_pace(alices_shop, "session-pointer-flood", [*page(T), *flood, change(T + 12_000)])
    viewer = play_through(browser, daphne, "session-pointer-flood", until_ms=8000, timeout=30000)
    # The cursor stands where the flood left it.
    cursor = viewer.locator("#stage .replayer-mouse")
    assert cursor.evaluate("(node) => node.style.left") == f"{100 + 999 % 500}px"
    viewer.close()


def test_floods_of_scrolls_inputs_and_custom_events_play_through(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    """100,000 scrolls of an element in a fifth of a second, 20,000 more of as many
    elements that are not on the page, then 100,000 inputs into a field, then 200,000
    custom events (rrweb's recorder sends a scroll every 100 ms at most; a hostile client
    need not): rrweb's Replayer would queue an action for each, and the viewer's tab would
    hang, or take ten times the recording's time to play the custom events."""
    from tests.test_record_caps import URL, T, change, custom

    box = {"type": 2, "tagName": "div", "attributes": {"style": "height:5000px"}, "childNodes": []}
    scroller = {
        "type": 2,
        "tagName": "div",
        "attributes": {"id": "list", "style": "overflow:auto;height:200px"},
        "childNodes": [{**box, "id": 21}],
        "id": 20,
    }
    field = {"type": 2, "tagName": "input", "attributes": {"id": "q"}, "childNodes": [], "id": 30}
    button = {"type": 2, "tagName": "button", "attributes": {}, "childNodes": [], "id": 10}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [scroller, field, button]}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [{**body, "id": 4}]}
    snapshot = {"node": {"type": 0, "childNodes": [{**html, "id": 2}], "id": 1}}
    events: list[dict[str, Any]] = [
        {"type": 4, "timestamp": T, "data": {"href": URL, "width": 1280, "height": 800}},
        {"type": 2, "timestamp": T, "data": {**snapshot, "initialOffset": {"top": 0, "left": 0}}},
    ]
    for n in range(100_000):
        at = T + 5000 + n // 500
        events.append(
            {"type": 3, "timestamp": at, "data": {"source": 3, "id": 20, "x": 0, "y": n % 4000}}
        )
        if n % 5 == 0:
            events.append(
                {"type": 3, "timestamp": at, "data": {"source": 3, "id": 1000 + n, "x": 0, "y": 9}}
            )
    for n in range(100_000):
        data = {
            "source": 5,
            "id": 30,
            "text": f"typed {n}",
            "isChecked": False,
            "userTriggered": True,
        }
        events.append({"type": 3, "timestamp": T + 6000 + n // 500, "data": data})
    events += [custom(T + 7000 + n // 1000, "spam", {"n": n}) for n in range(200_000)]
    store_at_pace(alices_shop, "session-scroll-flood", [*events, change(T + 12_000)])
    viewer = play_through(browser, daphne, "session-scroll-flood", until_ms=9000, timeout=25000)
    # The element and the field hold what the floods left.
    page = viewer.frame_locator("#stage iframe")
    assert page.locator("#list").evaluate("(node) => node.scrollTop") == 99_999 % 4000
    assert page.locator("#q").input_value() == "typed 99999"
    viewer.close()


def test_a_flood_of_attribute_changes_plays_through(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    """200,000 changes of a button's class and style in a fifth of a second, the style
    set whole at every thousandth and changed property by property in between: each an
    action of rrweb's Replayer, whose tab would hang. The player tells each run of them
    in a frame as one change, and the button ends as the last change left it."""
    from tests.test_record_caps import T, change, page

    flood = []
    for n in range(200_000):
        style: Any = "color: red" if n % 1000 == 0 else {"width": f"{n % 300}px"}
        changed = [{"id": 10, "attributes": {"class": f"c{n}", "style": style}}]
        data = {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": changed}
        flood.append({"type": 3, "timestamp": T + 5000 + n // 1000, "data": data})
    store_at_pace(alices_shop, "session-change-flood", [*page(T), *flood, change(T + 12_000)])
    viewer = play_through(browser, daphne, "session-change-flood", until_ms=9000, timeout=25000)
    button = viewer.frame_locator("#stage iframe").locator("#buy")
    shown = button.evaluate("(node) => [node.className, node.style.color, node.style.width]")
    assert shown == ["c199999", "red", f"{199_999 % 300}px"]
    viewer.close()


def test_a_crowded_stretch_with_a_malformed_change_still_plays(
    daphne: Any, alice: Any, alices_shop: Any, browser: Any
) -> None:
    """A frame of 2,000 attribute changes, one of them holding a text change that names
    no node (`texts: [null]`, which sanitizing leaves as it is): the player cannot merge
    that stretch, gives it to rrweb's Replayer as it is, and plays on."""
    from tests.test_record_caps import T, change, page

    flood = []
    for n in range(2000):
        data = {
            "source": 0,
            "adds": [],
            "removes": [],
            "texts": [None] if n == 1000 else [],
            "attributes": [{"id": 10, "attributes": {"class": f"c{n}"}}],
        }
        flood.append({"type": 3, "timestamp": T + 5000 + n // 1000, "data": data})
    store_at_pace(alices_shop, "session-odd-flood", [*page(T), *flood, change(T + 12_000)])
    viewer = play_through(browser, daphne, "session-odd-flood", until_ms=9000, timeout=25000)
    button = viewer.frame_locator("#stage iframe").locator("#buy")
    assert button.evaluate("(node) => node.className") == "c1999"
    viewer.close()
