"""Running blocking work (database, storage, codec) off the event loop that serves
the sockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def _with_fresh_connection(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    # Worker threads outlive requests, so connection hygiene is ours to do, as Django
    # does it around each request.
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_blocking(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `fn` in the thread pool. Unlike `database_sync_to_async`, calls from
    different connections do not queue behind one shared thread."""
    call = sync_to_async(_with_fresh_connection, thread_sensitive=False)
    return await call(fn, *args, **kwargs)
