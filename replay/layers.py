"""The channel layer of a single server process (the default when REPLAY_REDIS_URL is
unset): Channels' in-memory layer, with its expiry sweep run at most once a second.

The stock layer sweeps every channel and every group on each send and each receive, so
with thousands of open connections, each waiting in `receive`, the sweeps took a large
share of the process's time. Expiry is a matter of seconds to minutes; sweeping once a
second changes nothing anyone can observe.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


class ProcessChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= 1.0:
            self._last_sweep = now
            super()._clean_expired()
