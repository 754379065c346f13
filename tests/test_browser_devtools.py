"""The player's devtools drawer in Chromium: a checkout recording with console messages at
every level, errors and requests of every sort added at known times; the drawer's tabs
and counts, its rows in step with the playhead, filters, rows and timeline marks that
seek, a request's details, and the Markdown bug report it copies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from replay.models import Session
from tests.devtools_session import (
    AGENT,
    FONT,
    JSON_UTF8,
    MARKUP,
    PAGE,
    RECORDED_CONSOLE,
    REJECTION,
    SESSION,
    SUGGESTIONS,
    TOTAL_MS,
    TYPE_ERROR,
    USER,
    VALIDATION,
    session_events,
)
from tests.recording import log_in
from tests.support import DaphneServer, record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def rows(page: Any, tab: str) -> list[dict[str, Any]]:
    """A tab's rows: their time (ms from the start), text, and whether each is dimmed
    (after the playhead) or highlighted (the current one)."""
    return list(
        page.evaluate(
            """(tab) => Array.from(document.querySelectorAll('#dt-' + tab + ' .dt-row'), (row) => ({
                ts: Number(row.dataset.ts),
                text: row.innerText,
                future: row.classList.contains('future'),
                current: row.classList.contains('current'),
            }))""",
            tab,
        )
    )


def shown(page: Any, tab: str) -> list[int]:
    return [row["ts"] for row in rows(page, tab) if not row["future"]]


def current(page: Any, tab: str) -> list[int]:
    return [row["ts"] for row in rows(page, tab) if row["current"]]


def seek(page: Any, ms: int, play: bool = False) -> None:
    # The player renders, and the drawer follows, before seek() resolves.
    page.evaluate("([ms, play]) => window.replayPlayer.seek(ms, play)", [ms, play])


def now(page: Any) -> float:
    return float(page.evaluate("window.replayPlayer.now()"))


def tab(page: Any, name: str) -> None:
    page.click(f"#dt-tab-{name}")


def screenshot(page: Any, daphne: DaphneServer, name: str) -> None:
    page.screenshot(path=str(daphne.log_path.parent / f"{name}.png"))


@pytest.fixture
def player(daphne: DaphneServer, alices_shop: Any, alice: Any, page: Any) -> Any:
    """The player on the session, logged in as Alice, with the drawer open at 1400 by 900."""
    record(alices_shop, SESSION, "checkout", user=USER, events=session_events())
    Session.objects.filter(pk=SESSION).update(user_agent=AGENT)
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, daphne, "alice", "alice-password-1")
    page.goto(f"{daphne.url}/sessions/{SESSION}?t=0")
    page.wait_for_selector("#stage[data-ready=true]")
    assert page.locator("#devtools").is_hidden()
    page.click("#devtools-toggle")
    page.wait_for_selector("#devtools[data-ready=true]")
    return page


def test_the_drawer_counts_and_follows_the_playhead(player: Any, daphne: DaphneServer) -> None:
    page = player
    counts = {
        name: page.locator(f"#dt-tab-{name} [data-count]").inner_text()
        for name in ("console", "network", "errors")
    }
    assert counts == {"console": str(RECORDED_CONSOLE + 30 + 4), "network": "7", "errors": "3"}
    assert page.locator("#dt-tab-console [data-bad]").inner_text() == "2"  # error, assert
    assert page.locator("#dt-tab-network [data-bad]").inner_text() == "3"  # 500, failed, 404
    assert "bad" in (page.locator("#dt-tab-errors [data-count]").get_attribute("class") or "")
    assert page.locator("#devtools-badge").inner_text() == "6"

    # At 10.5 s: exactly what happened until then, the last of it highlighted.
    seek(page, 10500)
    assert shown(page, "console") == [2000, 4000, 6036, 9000]
    assert current(page, "console") == [9000]
    assert f"Failed to update the total {MARKUP}" in rows(page, "console")[3]["text"]
    assert page.locator("#devtools img").count() == 0
    assert page.evaluate("window.pwned") is None
    tab(page, "network")
    assert shown(page, "network") == [3000, 5000, 10000]
    assert current(page, "network") == [10000]
    tab(page, "errors")
    assert shown(page, "errors") == [8000]
    assert current(page, "errors") == [8000]

    # The six identical logs are one row, counted as they play.
    tab(page, "console")
    seek(page, 20000, play=True)
    page.wait_for_function(
        "() => document.querySelector('#dt-console .current').dataset.ts === '20766'"
    )
    group = page.locator("#dt-console .dt-row[data-ts='20766']")
    assert "checkout: buy ignored, terms not accepted" in group.inner_text()
    page.wait_for_function(
        "() => document.querySelector('#dt-console .current .dt-repeat').textContent === '6'",
        timeout=10000,
    )
    page.evaluate("window.replayPlayer.seek(window.replayPlayer.now(), false)")

    # The list scrolls to the highlighted row, unless the viewer scrolled it away.
    seek(page, 24500)
    assert current(page, "console") == [24000]
    assert in_view(page, "#dt-console .current")
    page.hover("#dt-console .dt-row:last-child")
    page.mouse.wheel(0, -5000)
    page.wait_for_selector("#dt-follow:visible")
    page.wait_for_function(
        "() => document.getElementById('dt-console').parentElement.scrollTop === 0"
    )
    assert not in_view(page, "#dt-console .current")
    seek(page, 29500)
    assert current(page, "console") == [29451]
    assert not in_view(page, "#dt-console .current")
    page.click("#dt-follow")
    assert in_view(page, "#dt-console .current")
    assert page.locator("#dt-follow").is_hidden()

    # Later rows are dimmed, not hidden: still there to be chosen.
    seek(page, 10500)
    screenshot(page, daphne, "devtools-console")
    assert len(rows(page, "console")) == 4 + 1 + 30 + 1 + 1 + 1  # a group, a note
    dropped = page.locator("#dt-console .dt-row.dropped")
    assert dropped.inner_text().endswith("37 messages not recorded: over 100 a minute")


def in_view(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(selector) => {
                const row = document.querySelector(selector).getBoundingClientRect();
                const box = document.querySelector('#dt-panel-console .dt-scroll');
                const view = box.getBoundingClientRect();
                return row.top >= view.top && row.bottom <= view.bottom;
            }""",
            selector,
        )
    )


def test_filters_narrow_the_rows(player: Any) -> None:
    page = player
    page.click("#dt-levels .level-log")  # logs off
    assert [row["ts"] for row in rows(page, "console")] == [
        2000,
        4000,
        6036,
        9000,
        16000,  # the dropped note stays: it says what is missing here
        24000,
        29451,
    ]
    page.fill("#dt-console-text", "checkout")
    page.wait_for_function("() => document.querySelectorAll('#dt-console .dt-row').length === 3")
    assert [row["ts"] for row in rows(page, "console")] == [6036, 16000, 29451]
    page.fill("#dt-console-text", "nothing like this")
    page.wait_for_selector("#dt-panel-console .dt-empty:visible")
    assert [row["ts"] for row in rows(page, "console")] == [16000]

    tab(page, "network")
    page.click("#dt-statuses .level-error")
    assert [row["ts"] for row in rows(page, "network")] == [10000, 12000, 25000]
    texts = [row["text"] for row in rows(page, "network")]
    assert ["500" in texts[0], "(failed)" in texts[1], "404" in texts[2]] == [True, True, True]
    page.click("#dt-slow-chip")
    assert [row["ts"] for row in rows(page, "network")] == [15000]
    page.click("#dt-statuses .dt-chip >> nth=0")
    page.fill("#dt-network-text", "api/orders")
    page.wait_for_function("() => document.querySelectorAll('#dt-network .dt-row').length === 1")
    assert "/api/orders" in rows(page, "network")[0]["text"]
    page.fill("#dt-network-text", "search")
    page.wait_for_function(
        "() => document.querySelector('#dt-network').innerText.includes('search')"
    )
    assert len(rows(page, "network")) == 1
    assert "(aborted)" in rows(page, "network")[0]["text"]

    tab(page, "errors")
    page.fill("#dt-errors-text", "payment")
    page.wait_for_function("() => document.querySelectorAll('#dt-errors .dt-row').length === 2")
    assert [row["ts"] for row in rows(page, "errors")] == [14000, 26000]


def test_rows_and_marks_seek_and_requests_show_their_details(
    player: Any, daphne: DaphneServer
) -> None:
    page = player
    # A row plays from a second before it, as a moment does.
    tab(page, "errors")
    page.click("#dt-errors .dt-row[data-ts='14000'] .dt-msg")
    page.wait_for_function("() => window.replayPlayer.now() >= 13000")
    assert 13000 <= now(page) < 16000
    page.click("#dt-errors .dt-row[data-ts='8000'] .dt-expand")
    assert (
        "cart.js:42:13" in page.locator("#dt-errors .dt-row[data-ts='8000'] .dt-more").inner_text()
    )
    screenshot(page, daphne, "devtools-errors")

    tab(page, "network")
    page.click("#dt-network .dt-row[data-ts='5000'] .dt-name")
    page.wait_for_function("() => window.replayPlayer.now() >= 4000")
    assert 4000 <= now(page) < 7000
    page.evaluate("window.replayPlayer.seek(5500, false)")
    details = page.locator("#dt-details")
    text = details.inner_text()
    assert f"{PAGE}/api/address/validate" in text
    for shown in ("x-request-id", "req-42", "application/json", JSON_UTF8):
        assert shown in text
    assert "authorization" not in text.lower()  # never, whatever the client sent
    assert "never-shown" not in text
    bodies = details.locator("pre").all_inner_texts()
    assert bodies == [json.dumps(VALIDATION, indent=2), json.dumps(SUGGESTIONS, indent=2)]
    screenshot(page, daphne, "devtools-network")
    details.locator("pre").last.scroll_into_view_if_needed()
    page.locator("#devtools").screenshot(path=str(daphne.log_path.parent / "devtools-request.png"))
    page.click("#dt-network .dt-row[data-ts='10000'] .dt-name")
    assert details.inner_text().count("not captured") == 4
    page.click("#dt-details [data-close]")
    assert details.is_hidden()

    # Errors (dots) and failed requests (diamonds) on the timeline, at their times.
    positions = page.evaluate(
        """() => {
            const line = document.getElementById('timeline').getBoundingClientRect();
            const at = (mark) => {
                const box = mark.getBoundingClientRect();
                return (box.left + box.width / 2 - line.left) / line.width;
            };
            const of = (kind) => Array.from(document.querySelectorAll('.dt-mark.dt-' + kind), at);
            return {error: of('error'), request: of('request')};
        }"""
    )
    for kind, times in {"error": [8000, 14000, 26000], "request": [10000, 12000, 25000]}.items():
        assert positions[kind] == pytest.approx([t / TOTAL_MS for t in times], abs=0.005)
    page.locator(".mark.dt-mark.dt-request").nth(2).click()
    page.wait_for_function("() => window.replayPlayer.now() >= 24000")
    assert 24000 <= now(page) < 27000

    # At the size of a small laptop's screen, each tab still reads.
    page.set_viewport_size({"width": 1024, "height": 768})
    page.evaluate("window.replayPlayer.seek(12500, false)")
    for name in ("console", "network", "errors"):
        tab(page, name)
        screenshot(page, daphne, f"devtools-{name}-1024")


def test_copy_bug_report_puts_the_moment_in_markdown_on_the_clipboard(
    player: Any, daphne: DaphneServer
) -> None:
    page = player
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    seek(page, 22000)
    page.click("#dt-report")
    page.wait_for_selector("#dt-report:has-text('Copied')")
    report = page.evaluate("navigator.clipboard.readText()")
    assert report == "\n".join(
        [
            f"## Bug report: session {SESSION} at 0:22",
            "",
            f"- **Replay:** {daphne.url}/sessions/{SESSION}?t=22.0",
            f"- **Page:** `{PAGE}/checkout.html#payment`",
            f"- **Browser:** `{AGENT}`",
            f"- **User:** `{USER}`",
            "- **Time in session:** 0:22 of 0:30",
            "",
            "### Last errors",
            "",
            f"- 0:08 `{TYPE_ERROR}`",
            f"- 0:14 `{REJECTION}` (rejection)",
            "",
            "### Last failed requests",
            "",
            f"- 0:10 `POST {PAGE}/api/orders` → 500",
            f"- 0:12 `GET {FONT}` → (failed) `net::ERR_CONNECTION_REFUSED`",
            "",
        ]
    )
    # At the end, what came later too.
    seek(page, TOTAL_MS)
    page.wait_for_selector("#dt-report:has-text('Copy bug report')", timeout=5000)
    page.click("#dt-report")
    page.wait_for_selector("#dt-report:has-text('Copied')")
    report = page.evaluate("navigator.clipboard.readText()")
    assert "Payment widget failed to load` (console.error)" in report
    assert f"`GET {PAGE}/api/recommendations` → 404" in report
