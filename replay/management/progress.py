"""A progress bar for management commands, drawn on stderr when it is a terminal (cron
gets the summary only)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int, label: str, out: TextIO = sys.stderr) -> Iterator[T]:
    if not out.isatty() or total == 0:
        yield from items
        return
    width = 30
    for done, item in enumerate(items, 1):
        yield item
        filled = width * done // total
        out.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        out.flush()
    out.write("\n")
