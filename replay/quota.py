"""How many event-tracking records one session keeps: at most `MAX_RECORDS` of each
kind (and of each type of friction), the first. Past it, what would have been kept is
counted instead, and the time of the first record not kept is when the session's records
became incomplete. Pure: no Django, no IO.

A session's records live in memory while a tracking pass runs and are pickled into its
checkpoint after it, so they may not grow without bound: a client within every ingest
limit could still send millions of tiny events that each make a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

# A long, busy day's session stays well under it; a flood does not pile up in memory, in
# the checkpoint and in the database.
MAX_RECORDS = 5000


class Counted(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def ts(self) -> int: ...


R = TypeVar("R", bound=Counted)


@dataclass
class Quota:
    kept: dict[str, int] = field(default_factory=dict)  # by kind
    dropped: dict[str, int] = field(default_factory=dict)  # by kind, past MAX_RECORDS
    cut: int | None = None  # the time of the first record not kept

    def room(self, kind: str) -> bool:
        return self.kept.get(kind, 0) < MAX_RECORDS

    def full(self, kind: str, ts: int) -> bool:
        """Whether no more records of this kind are kept; if so, the one that would be
        made at `ts` is counted as dropped (and need not be made)."""
        if self.room(kind):
            return False
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        if self.cut is None:
            self.cut = ts
        return True

    def keep(self, records: list[R]) -> list[R]:
        """The records there is room for, counted as kept; the others as dropped."""
        kept = []
        for record in records:
            if not self.full(record.kind, record.ts):
                self.kept[record.kind] = self.kept.get(record.kind, 0) + 1
                kept.append(record)
        return kept
