"""Where a session's segments live in storage, and reading them back.

Key layout (deterministic, so a retried write lands on the same object)::

    sessions/<session id>/<seq_start:012d>-<seq_end:012d>.seg

Every key of a session starts with `session_prefix(session_id)`, so one prefix delete
removes the whole session from storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from replay.codec import Event, decode_segment
from replay.models import Segment, Session
from replay.storage import Storage, StorageError


def session_prefix(session_id: str) -> str:
    return f"sessions/{session_id}/"


def segment_key(session_id: str, seq_start: int, seq_end: int) -> str:
    return f"{session_prefix(session_id)}{seq_start:012d}-{seq_end:012d}.seg"


class MissingSegmentError(StorageError):
    """The database indexes a segment that storage does not have."""


def iter_segment_events(rows: Iterable[Segment], storage: Storage) -> Iterator[list[Event]]:
    """For each segment row (in seq order), the events it adds to the session.

    Batches are emitted in seq order and each seq at most once, even if two segments
    overlap after a write race. Raises MissingSegmentError rather than skipping data."""
    last_seq = -1
    for row in rows:
        if row.seq_end <= last_seq:
            continue
        data = storage.get(row.key)
        if data is None:
            raise MissingSegmentError(f"segment {row.key} is indexed but not in storage")
        events: list[Event] = []
        for batch in decode_segment(data).batches:
            if batch.seq > last_seq:
                last_seq = batch.seq
                events += batch.events
        yield events


def segment_rows(session: Session) -> list[Segment]:
    return list(Segment.objects.filter(session=session).order_by("seq_start", "seq_end"))


def iter_events(session: Session, storage: Storage) -> Iterator[Event]:
    """Every stored event of the session, in the order the browser sent it."""
    for events in iter_segment_events(segment_rows(session), storage):
        yield from events


def delete_session(session: Session, storage: Storage) -> None:
    """Remove the session's objects, then its rows. If storage fails, the rows stay so
    the delete can be retried."""
    storage.delete_prefix(session_prefix(session.id))
    session.delete()
