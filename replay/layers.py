"""Channel layers: Channels' own, adjusted for thousands of long-lived connections.

`ProcessChannelLayer` is the layer of a single server process (the default when
REPLAY_REDIS_URL is unset): the in-memory layer with its expiry sweep run at most once a
second. The stock layer sweeps every channel and every group on each send and each
receive, so with thousands of open connections, each waiting in `receive`, the sweeps
took a large share of the process's time. Expiry is a matter of seconds to minutes;
sweeping once a second changes nothing anyone can observe.

`RedisLayer` (REPLAY_REDIS_URL) is channels_redis, riding out Redis hiccups.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer

log = logging.getLogger(__name__)


class ProcessChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= 1.0:
            self._last_sweep = now
            super()._clean_expired()


class RedisLayer(RedisChannelLayer):  # type: ignore[misc]
    """channels_redis, riding out Redis hiccups. A consumer waits on `receive` for its
    whole life; a Redis read that times out (a busy event loop can make a blocking pop
    overrun its deadline) or a dropped connection would otherwise end the consumer, and
    with it a recording connection that needs the layer only for takeovers."""

    async def receive(self, channel: str) -> dict[str, Any]:
        delay = 0.1
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
                return message
            except (redis.RedisError, OSError):
                log.warning("channel layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
