"""What friction detectors read beside a session's records (when the page changed,
scrolled, and where the pointer went), and how much of it one session may keep. Pure:
no Django, no IO.

A session's tracking state lives in memory while a pass runs and is pickled into its
checkpoint after it, so nothing in it may grow without bound: a client that keeps to
every ingest limit could still send millions of tiny events. Each list of signals keeps
at most its cap; past it nothing more is kept, and `cut` says from when the signals are
incomplete (friction is not looked for after it: a dead click needs to know that the
page did not change).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sized
from dataclasses import dataclass, field

# At most this many of each signal a session. A visitor's hour holds about 72,000 pointer
# positions (rrweb samples every 50 ms), and far fewer changes and scrolls that count
# (changes in one millisecond are kept once).
MAX_CHANGES = 200_000
MAX_SCROLLS = 100_000
MAX_POINTER = 200_000


@dataclass
class Signals:
    """What friction detectors read beside the records, for the whole session."""

    changes: list[int] = field(default_factory=list)  # DOM mutations, scrolls, inputs
    scrolls: list[tuple[int, float]] = field(default_factory=list)  # (ts, y) of the page
    pointer: list[tuple[int, float, float]] = field(default_factory=list)  # (ts, x, y)
    cut: int | None = None  # from then on, a list was full: the signals are incomplete

    def changed(self, ts: int) -> None:
        if self.changes and self.changes[-1] == ts:
            return
        if self._room(self.changes, MAX_CHANGES, ts):
            self.changes.append(ts)

    def scrolled(self, ts: int, y: float) -> None:
        if self._room(self.scrolls, MAX_SCROLLS, ts):
            self.scrolls.append((ts, y))

    def pointed(self, ts: int, x: float, y: float) -> None:
        if self._room(self.pointer, MAX_POINTER, ts):
            self.pointer.append((ts, x, y))

    def _room(self, kept: Sized, cap: int, ts: int) -> bool:
        if self.cut is not None:
            return False
        if len(kept) < cap:
            return True
        self.cut = ts
        return False


def any_within(times: list[int], start: int, end: int) -> bool:
    """Whether any of the sorted `times` (a signal's, or records') is in [start, end]."""
    at = bisect_left(times, start)
    return at < len(times) and times[at] <= end
