"""How often the real recorder sends, in Chromium: a batch about every second while the
page changes or is used, and a batch of nothing but what the console and network capture
report every few seconds (each batch costs the page its compression, frame, keeping and
ack), all of it reaching the server without a flush."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.capture import Recorded, sent_requests
from tests.recording import export, kept
from tests.support import DaphneServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# About three seconds of a page polling its server, with nobody using it.
POLL = """async () => {
  for (let i = 0; i < 8; i++) {
    await fetch('/api/ok?poll=' + i);
    await new Promise((resolve) => setTimeout(resolve, 350));
  }
}"""
# The same, with the page changing as it polls.
POLL_AND_CHANGE = POLL.replace(
    "await fetch('/api/ok?poll=' + i);",
    "await fetch('/api/ok?poll=' + i); document.body.append(String(i));",
)


def batches_until_stored(
    daphne: DaphneServer, alice: Any, open_tab: Recorded, shop: Any, script: str
) -> int:
    """Runs `script` in a recorded tab; how many batches the recorder numbered from its
    start until the server had stored the last poll, which it must without a flush."""
    tab, origin = open_tab(daphne)
    session = tab.recording()
    before = int(kept(tab.page, shop.key)["nextSeq"])
    tab.page.evaluate(script)
    last = f"{origin}/api/ok?poll=7"
    until = time.monotonic() + 20
    while last not in [r["url"] for r in sent_requests(export(daphne, alice, session))]:
        assert time.monotonic() < until, "the last poll never reached the server"
        time.sleep(0.25)
    return int(kept(tab.page, shop.key)["nextSeq"]) - before


def test_a_page_that_only_polls_sends_a_batch_every_few_seconds(
    daphne: DaphneServer, alice: Any, open_tab: Recorded, shop: Any
) -> None:
    assert batches_until_stored(daphne, alice, open_tab, shop, POLL) <= 2


def test_a_page_that_changes_as_it_polls_sends_a_batch_about_every_second(
    daphne: DaphneServer, alice: Any, open_tab: Recorded, shop: Any
) -> None:
    assert batches_until_stored(daphne, alice, open_tab, shop, POLL_AND_CHANGE) >= 3
