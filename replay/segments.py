"""Where a session's segments live in storage, and reading them back.

Key layout (deterministic, so a retried write lands on the same object)::

    sessions/<session id>/<seq_start:012d>-<seq_end:012d>.seg

Every object of a session alone starts with `session_prefix(session_id)`, so one prefix
delete removes it; what the session has in packs, objects shared with other sessions
(commit rounds, compaction), is overwritten with zeros (see `replay.packs`).
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
from replay.dictionaries import load
from replay.models import Keyframe, ReplacedPart, Segment, Session
from replay.packs import (
    drop_unreferenced,
    erase,
    locator,
    packs_shared,
    parse_locator,
    parts_of,
    read_part,
)
from replay.storage import Storage, StorageError


def session_prefix(session_id: str) -> str:
    return f"sessions/{session_id}/"


def segment_key(session_id: str, seq_start: int, seq_end: int) -> str:
    return f"{session_prefix(session_id)}{seq_start:012d}-{seq_end:012d}.seg"


class MissingSegmentError(StorageError):
    """The database indexes a segment that storage does not have."""


# The most differences a keyframe may sit on (replay.keyframes writes at most 9).
MAX_LINKS = 16


def stored(row: Segment | Keyframe, storage: Storage) -> tuple[SegmentHeader, bytes, int]:
    """A stored keyframe's header, its uncompressed body (read with the keyframes it is
    a difference from: what the next one may be a difference from), and how many
    differences it sits on."""
    return _read(row.key, row.offset, row.size, storage, 0)


def read_segment(
    row: Segment | Keyframe, storage: Storage, first: int | None = None, last: int | None = None
) -> Decoded:
    """The one way to read a stored segment, keyframe or compacted block, whether it is
    an object of its own or a part of a pack (`replay.packs`): its decoded contents,
    or only its batches numbered `first` to `last` when given (a keyframe stored as a
    difference is read with the keyframes before it; a block with its dictionary).
    Raises `MissingSegmentError` when the database indexes an object storage does not
    have, and `StorageError` when storage cannot answer (the API answers both with 503)."""
    header, body, _ = _read(row.key, row.offset, row.size, storage, 0)
    at = _span(row, first, last) if isinstance(row, Segment) else None
    return Decoded(header=header, batches=body_batches(body, header.ids, first, last, at))


def _span(row: Segment, first: int | None, last: int | None) -> tuple[int, int] | None:
    """Where a block's pieces holding batches `first` to `last` lie in its body."""
    if not row.pieces or (first is None and last is None):
        return None
    wanted = [
        piece
        for piece in row.pieces
        if len(piece) >= 8
        and (first is None or piece[1] >= first)
        and (last is None or piece[0] <= last)
    ]
    if not wanted:
        return None
    return min(piece[6] for piece in wanted), max(piece[7] for piece in wanted)


def _read(
    key: str, offset: int | None, size: int, storage: Storage, links: int
) -> tuple[SegmentHeader, bytes, int]:
    data = read_part(storage, key, offset, size)
    if data is None:
        raise MissingSegmentError(f"{locator(key, offset, size)} is indexed but not in storage")
    header = read_header(data)
    if header.dictionary is not None:
        return header, decompressed_body(data, dictionary=load(header.dictionary, storage)), 0
    if header.base is None:
        return header, decompressed_body(data), 0
    if links >= MAX_LINKS:
        raise CodecError(f"{key} sits on more than {MAX_LINKS} differences")
    try:
        base = parse_locator(header.base)
    except ValueError as exc:
        raise CodecError(f"{key} names an unreadable base: {exc}") from exc
    _, base_body, base_links = _read(*base, storage, links + 1)
    return header, decompressed_body(data, base_body), base_links + 1


def batches_from(
    row: Segment, storage: Storage, first: int, last: int | None = None
) -> list[Batch]:
    """The segment's batches numbered `first` or later (to `last`, when given)."""
    return read_segment(row, storage, first, last).batches


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
    """Remove the session's data from storage, then its rows (`delete_sessions`)."""
    delete_sessions([session], storage)


def delete_sessions(sessions: list[Session], storage: Storage) -> None:
    """Remove the sessions' data from storage, then their rows: a pack that holds
    nothing of any other session goes whole; in the others their parts are overwritten
    with zeros, each pack rewritten once for all of them (`replay.packs.erase`); their
    own objects are deleted. If storage fails, the rows stay so the delete can be
    retried."""
    ids = [session.pk for session in sessions]
    parts = parts_of(
        [
            *Segment.objects.filter(session__in=ids, offset__isnull=False),
            *Keyframe.objects.filter(session__in=ids, offset__isnull=False),
            *ReplacedPart.objects.filter(session__in=ids),
        ]
    )
    keys = {key for key, _, _ in parts}
    shared = set(packs_shared(keys, ids))
    for key in keys - shared:
        storage.delete(key)
    erase([part for part in parts if part[0] in shared], storage)
    for session_id in ids:
        storage.delete_prefix(session_prefix(session_id))
    Session.objects.filter(pk__in=ids).delete()
    drop_unreferenced(storage, keys)
