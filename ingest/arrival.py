"""Batches of one session that arrive out of order because they came by different paths:
the beacons a page hands to `sendBeacon` as it goes (one request per batch, which the
browser may send over several connections), the batch its WebSocket sent just before
(held by the group commit), and the next page's resends over its own WebSocket. A batch
past the one its session needs next waits a while for those before it instead of
declaring them missing at once (README, "Rules the server enforces")."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings

from ingest.threads import run_blocking
from replay.models import Session

# How long a batch that arrives before the ones it follows waits for them at least; at
# least two group commit rounds (REPLAY_FLUSH_SECONDS) in any case.
HOLE_WAIT_SECONDS = 3.0


def acked_of(session_id: str) -> int | None:
    """The session's `acked_seq`, or None once it is deleted."""
    acked: int | None = (
        Session.objects.filter(pk=session_id).values_list("acked_seq", flat=True).first()
    )
    return acked


async def after_what_precedes(session_id: str, acked: int, seq: int) -> None:
    """Returns once the session has stored every batch before `seq` (it had `acked`
    when asked), or after `HOLE_WAIT_SECONDS` or two group commit rounds, whichever is
    longer; whatever has not come by then is recorded as a sequence hole as batch `seq`
    commits (`ingest.plan`). Returns at once when the session is deleted meanwhile (the
    commit says what happened to it)."""
    known: int | None = acked
    wait = max(HOLE_WAIT_SECONDS, 2 * settings.REPLAY_FLUSH_SECONDS)
    deadline = time.monotonic() + wait
    pause = 0.02
    while known is not None and known < seq - 1 and time.monotonic() < deadline:
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.25)
        known = await run_blocking(acked_of, session_id)
