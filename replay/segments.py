"""Where a session's segments live in storage, and reading them back.

Key layout (deterministic, so a retried write lands on the same object)::

    sessions/<session id>/<seq_start:012d>-<seq_end:012d>.seg

Every key of a session starts with `session_prefix(session_id)`, so one prefix delete
removes the whole session from storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from replay.codec import (
    Batch,
    CodecError,
    Event,
    SegmentHeader,
    body_batches,
    decompressed_body,
    read_header,
)
from replay.codec import Segment as Decoded
from replay.models import Keyframe, Segment, Session
from replay.storage import Storage, StorageError


def session_prefix(session_id: str) -> str:
    return f"sessions/{session_id}/"


def segment_key(session_id: str, seq_start: int, seq_end: int) -> str:
    return f"{session_prefix(session_id)}{seq_start:012d}-{seq_end:012d}.seg"


class MissingSegmentError(StorageError):
    """The database indexes a segment that storage does not have."""


# The most differences a keyframe may sit on (replay.keyframes writes at most 9).
MAX_LINKS = 16


def stored_body(key: str, storage: Storage) -> tuple[bytes, int]:
    """The uncompressed body of the segment or keyframe stored at `key` (read with the
    keyframes it is a difference from), and how many differences it sits on."""
    _, body, links = _read(key, storage, 0)
    return body, links


def read_segment(row: Segment | Keyframe, storage: Storage) -> Decoded:
    """The one way to read a stored segment or keyframe: its decoded contents (a
    keyframe stored as a difference is read with the keyframes before it). Raises
    `MissingSegmentError` when the database indexes an object storage does not have,
    and `StorageError` when storage cannot answer (the API answers both with 503)."""
    header, body, _ = _read(row.key, storage, 0)
    return Decoded(header=header, batches=body_batches(body))


def _read(key: str, storage: Storage, links: int) -> tuple[SegmentHeader, bytes, int]:
    data = storage.get(key)
    if data is None:
        raise MissingSegmentError(f"{key} is indexed but not in storage")
    header = read_header(data)
    if header.base is None:
        return header, decompressed_body(data), 0
    if links >= MAX_LINKS:
        raise CodecError(f"{key} sits on more than {MAX_LINKS} differences")
    _, base_body, base_links = _read(header.base, storage, links + 1)
    return header, decompressed_body(data, base_body), base_links + 1


def batches_from(row: Segment, storage: Storage, first: int) -> list[Batch]:
    """The segment's batches numbered `first` or later."""
    return [b for b in read_segment(row, storage).batches if b.seq >= first]


def iter_segment_events(rows: Iterable[Segment], storage: Storage) -> Iterator[list[Event]]:
    """For each segment row (in seq order), the events it adds to the session.

    Batches are emitted in seq order and each seq at most once, even if two segments
    overlap after a write race. Raises MissingSegmentError rather than skipping data."""
    last_seq = -1
    for row in rows:
        if row.seq_end <= last_seq:
            continue
        events: list[Event] = []
        for batch in read_segment(row, storage).batches:
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
