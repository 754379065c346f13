"""Compaction: rewriting sessions' segments into a few large, well-compressed blocks.

Ingest stores what each session sends every second, in its commit round's pack: right
for acknowledging fast, wrong for keeping (one-second segments compress poorly, and a
round's pack holds a second of thousands of sessions). A compaction pass rewrites each
waiting session's segments into **blocks**:

- a block holds `REPLAY_BLOCK_SECONDS` of recording (5 minutes by default) or
  `replay.blocks.BLOCK_BYTES` of events, whichever comes first. Five minutes is where zstd's gains
  flatten out: the 10-minute corpus recording (ids as differences, level 19) is 0.50x
  the gzip of its JSON in 10-second blocks, 0.43x in 1-minute ones, 0.38x in 5-minute
  ones and 0.37x in one 10-minute block. A block is one range read and decompresses in
  milliseconds; the player loads it in pieces of about ten seconds all the same
  (`replay.blocks.pieces`).
- its events are stored with node ids as differences (`replay.deltas`), at zstd level
  `REPLAY_BLOCK_LEVEL` (19), with the project's trained dictionary
  (`replay.dictionaries`) once it has enough sessions to train one;
- a session's last, shorter block is written once it has been idle
  `REPLAY_COMPACT_IDLE_SECONDS`, or its oldest waiting segment is
  `REPLAY_COMPACT_AFTER_SECONDS` old, or when asked (`manage.py compact`).

Once a session's whole recording so far is in blocks, its keyframes are compressed again
into the same pack (`replay.keyframes.recompress`): one a minute is kept (`KEYFRAME_MS`;
the keyframer writes one every 30 s, which matters while a session is watched live),
with node ids as differences, at the same level, each a difference from the one before.

The blocks of one pass go into one pack (`replay.packs`), so a pass costs a storage
request per `PACK_BYTES`, however many sessions it compacts. Each session's block rows
replace its segment rows in one transaction, and only if those rows are still what the
pass read (a redaction or a deletion in between wins; the pass overwrites its block with
zeros). Round packs nothing points into any more are removed after
`replay.packs.GRACE`: within an hour of being written with the defaults.

A session compacted to its end, idle and tracked to its end, also loses its tracking
checkpoint (`replay.records`): it is only needed to go on tracking.

Safe beside the server and twice at once: the worst a race does is compact a session
twice, and the second's index step finds the rows gone and erases its own block.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from replay import dictionaries
from replay.blocks import pieces, plan_blocks
from replay.codec import (
    Batch,
    PackedBatch,
    block_batches,
    encode_segment,
    segment_body,
)
from replay.keyframes import Recompressed, recompress
from replay.models import (
    Dictionary,
    Keyframe,
    Pack,
    Project,
    ReplacedPart,
    Segment,
    Session,
    TrackingCheckpoint,
)
from replay.packs import PackWriter, Part, drop_unreferenced, erase, parts_of
from replay.segments import read_segment
from replay.storage import Storage

log = logging.getLogger(__name__)

KEYFRAME_MS = 60_000  # a finished session keeps a keyframe a minute (the keyframer: 30 s)
PACK_BYTES = 64 * 1024 * 1024
SESSIONS_PER_PASS = 500
LEASE = timedelta(minutes=10)  # how long a pass holds the sessions it compacts, at most
MIN_DICTIONARY_SESSIONS = 10  # a dictionary is trained on that many sessions at least


@dataclass
class _Block:
    session_id: str
    rows: list[Segment]
    data: bytes
    packed: list[PackedBatch]
    dictionary: Dictionary | None
    offset: int = 0
    key: str = ""


@dataclass
class Compacted:
    sessions: int = 0
    blocks: int = 0
    segments: int = 0  # segment rows the blocks replaced
    bytes_before: int = 0
    bytes_after: int = 0
    packs: int = 0  # packs written
    dropped: int = 0  # packs removed once nothing pointed into them
    raced: list[str] = field(default_factory=list)  # sessions that changed meanwhile
    busy: int = 0  # sessions another process was deriving from or compacting
    failed: list[str] = field(default_factory=list)  # sessions whose data could not be read


def waiting(session_ids: list[str] | None = None) -> list[str]:
    """Sessions with segments not compacted yet, the longest waiting first."""
    rows = Segment.objects.filter(compacted=False)
    if session_ids is not None:
        rows = rows.filter(session_id__in=session_ids)
    ordered = rows.values("session_id").annotate(oldest=Min("created_at")).order_by("oldest")
    return [row["session_id"] for row in ordered[:SESSIONS_PER_PASS]]


def compact(
    storage: Storage,
    session_ids: list[str] | None = None,
    *,
    everything: bool = False,
    now: datetime | None = None,
) -> Compacted:
    """One pass over the sessions waiting (those named, or all): write their blocks,
    then swap their rows. `everything` writes every session's last block now too."""
    now = now or timezone.now()
    result = Compacted()
    pass_ = _Pass(storage, now, everything)
    token = secrets.token_hex(8)
    claimed: list[str] = []
    try:
        for session_id in waiting(session_ids):
            if not _claim(session_id, token, now):
                result.busy += 1  # another process is compacting it, or deriving from it
                continue
            claimed.append(session_id)
            mark = pass_.pack.mark()
            try:
                pass_.add(session_id)
            except Exception:  # one broken session must not stop the others' compaction
                log.warning(
                    "could not compact a session", extra={"session": session_id}, exc_info=True
                )
                pass_.pack.undo(mark)
                pass_.blocks.pop(session_id, None)
                pass_.frames.pop(session_id, None)
                result.failed.append(session_id)
                continue
            if pass_.pack.size >= PACK_BYTES:
                _store(pass_, result)
        _store(pass_, result)
    finally:
        Session.objects.filter(pk__in=claimed, derived_by=token).update(derived_until=None)
    for project_id, found in pass_.samples.items():
        _train(project_id, found, pass_.sessions[project_id], storage)
    # A session compacted to its end, idle and tracked to its end needs no tracking
    # checkpoint: should more come after all, the next pass computes it from the start.
    TrackingCheckpoint.objects.filter(
        session__updated_at__lt=pass_.idle,
        session__tracked_seq__gte=F("session__acked_seq"),
    ).exclude(session__segments__compacted=False).delete()
    return result


def _claim(session_id: str, token: str, now: datetime) -> bool:
    """The lease the keyframer takes too (`ingest.keyframer.advance`): one process at a
    time derives from a session's segments or rewrites them."""
    free = Q(derived_until__isnull=True) | Q(derived_until__lt=now)
    return bool(
        Session.objects.filter(free, pk=session_id).update(
            derived_until=now + LEASE, derived_by=token
        )
    )


class _Pass:
    """What one pass has encoded so far (into the pack it writes next), and the samples
    it saw per project."""

    def __init__(self, storage: Storage, now: datetime, everything: bool) -> None:
        self.storage = storage
        self.everything = everything
        self.idle = now - timedelta(seconds=settings.REPLAY_COMPACT_IDLE_SECONDS)
        self.overdue = now - timedelta(seconds=settings.REPLAY_COMPACT_AFTER_SECONDS)
        self.block_ms = round(settings.REPLAY_BLOCK_SECONDS * 1000)
        self.pack = PackWriter(Pack.Kind.BLOCKS)
        self.blocks: dict[str, list[_Block]] = defaultdict(list)
        self.frames: dict[str, Recompressed] = {}
        self.samples: dict[int, list[bytes]] = defaultdict(list)
        self.sessions: dict[int, int] = defaultdict(int)

    def add(self, session_id: str) -> None:
        session = Session.objects.select_related("project").filter(pk=session_id).first()
        if session is None:
            return
        rows = list(Segment.objects.filter(session=session, compacted=False).order_by("seq_start"))
        if not rows:
            return
        oldest = min(row.created_at for row in rows)
        closing = self.everything or session.updated_at < self.idle or oldest < self.overdue
        groups = plan_blocks(rows, block_ms=self.block_ms, closing=closing)
        dictionary = dictionaries.current(session.project)
        trained = (
            (dictionary.key, dictionaries.load(dictionary.key, self.storage))
            if dictionary
            else None
        )
        samples = self.samples[session.project_id]
        for group in groups:
            batches = _batches(group, self.storage)
            if not batches:
                continue
            packed, ids_delta = block_batches(batches)
            if len(samples) < dictionaries.MAX_SAMPLES:
                samples += [segment_body([batch]) for batch in packed[:200]]
            data = encode_segment(
                session.pk,
                packed,
                level=settings.REPLAY_BLOCK_LEVEL,
                keyframe=any(row.keyframe for row in group),
                ids_delta=ids_delta,
                dictionary=trained,
            )
            key, offset = self.pack.add(data)
            self.blocks[session_id].append(
                _Block(session.pk, group, data, packed, dictionary, offset, key)
            )
        if groups:
            self.sessions[session.project_id] += 1
        if closing and len(rows) == sum(len(group) for group in groups):
            # Its whole recording so far is in blocks: its keyframes are done too.
            self.frames[session_id] = recompress(
                session,
                self.storage,
                self.pack,
                keep_every_ms=KEYFRAME_MS,
                level=settings.REPLAY_BLOCK_LEVEL,
            )


def _train(project_id: int, samples: list[bytes], sessions: int, storage: Storage) -> None:
    """Train the project's dictionary when it is due and this pass saw enough of its
    sessions; the next passes use it."""
    if sessions < MIN_DICTIONARY_SESSIONS:
        return
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not dictionaries.due(project):
        return
    dictionaries.train(project, samples, storage)
    dictionaries.drop_unused(project, storage)


def _batches(rows: list[Segment], storage: Storage) -> list[Batch]:
    """The batches of the rows, each seq once (rows may overlap after a write race)."""
    found: list[Batch] = []
    last = -1
    for row in rows:
        for batch in read_segment(row, storage).batches:
            if batch.seq > last:
                found.append(batch)
                last = batch.seq
    return found


def _store(pass_: _Pass, result: Compacted) -> None:
    """Write the pass's pack, then swap each session's rows; start a new pack."""
    storage = pass_.storage
    sessions = set(pass_.blocks) | set(pass_.frames)
    if not sessions:
        return
    pass_.pack.write(storage)
    result.packs += 1
    sources: set[str] = set()
    lost: list[Part] = []
    for session_id in sessions:
        blocks = pass_.blocks.get(session_id, [])
        frames = pass_.frames.get(session_id, Recompressed([], []))
        written = [(b.key, b.offset, len(b.data)) for b in blocks]
        written += [(key, offset, size) for _, key, offset, size in frames.kept]
        replaced = [r for b in blocks for r in b.rows] + [f for f, *_ in frames.kept]
        replaced += frames.removed
        if not _swap(session_id, blocks, frames):
            result.raced.append(session_id)
            lost += written
            continue
        result.sessions += 1
        result.blocks += len(blocks)
        for block in blocks:
            result.segments += len(block.rows)
            result.bytes_before += sum(row.size for row in block.rows)
            result.bytes_after += len(block.data)
        sources |= {row.key for row in replaced}
        for row in replaced:
            if row.offset is None:  # stored before packs, an object of its own
                storage.delete(row.key)
    erase(lost, storage)
    result.dropped += drop_unreferenced(storage, sources)
    pass_.pack = PackWriter(Pack.Kind.BLOCKS)
    pass_.blocks.clear()
    pass_.frames.clear()


def _swap(session_id: str, blocks: list[_Block], frames: Recompressed) -> bool:
    """Replace the session's segment rows with the block rows, and its keyframe rows
    with those recompressed, if the rows are still what the pass read; whether it did.
    What they pointed at in packs is noted as replaced (`ReplacedPart`)."""
    now = timezone.now()
    rows = [r for b in blocks for r in b.rows]
    keyframes = [f for f, *_ in frames.kept] + frames.removed
    with transaction.atomic():
        if (
            not Session.objects.select_for_update()
            .filter(pk=session_id)
            .update(updated_at=F("updated_at"))
        ):
            return False  # deleted meanwhile
        if not (_unchanged(Segment, rows) and _unchanged(Keyframe, keyframes)):
            return False
        Segment.objects.filter(pk__in=[r.pk for r in rows]).delete()
        Keyframe.objects.filter(pk__in=[f.pk for f in frames.removed]).delete()
        ReplacedPart.objects.bulk_create(
            ReplacedPart(session_id=session_id, key=key, offset=offset, size=size)
            for key, offset, size in parts_of([*rows, *keyframes])
        )
        Segment.objects.bulk_create(_row(session_id, block, now) for block in blocks)
        for frame, key, offset, size in frames.kept:
            Keyframe.objects.filter(pk=frame.pk).update(
                key=key, offset=offset, size=size, compacted=True
            )
        Session.objects.filter(pk=session_id).update(
            stored_bytes=F("stored_bytes")
            + sum(len(b.data) - sum(r.size for r in b.rows) for b in blocks),
            segment_count=F("segment_count") - sum(len(b.rows) - 1 for b in blocks),
        )
    return True


def _unchanged(model: type[Segment] | type[Keyframe], rows: Sequence[Segment | Keyframe]) -> bool:
    """Whether the rows are in the database as the pass read them, not compacted."""
    read = {(r.pk, r.key, r.offset, r.size) for r in rows}
    current = model.objects.filter(pk__in=[r.pk for r in rows], compacted=False)
    return set(current.values_list("pk", "key", "offset", "size")) == read


def _row(session_id: str, block: _Block, now: datetime) -> Segment:
    rows = block.rows
    firsts = [r.first_ts for r in rows if r.first_ts is not None]
    lasts = [r.last_ts for r in rows if r.last_ts is not None]
    return Segment(
        session_id=session_id,
        seq_start=rows[0].seq_start,
        seq_end=max(r.seq_end for r in rows),
        first_ts=min(firsts) if firsts else None,
        last_ts=max(lasts) if lasts else None,
        event_count=sum(b.count for b in block.packed),
        received_bytes=sum(r.received_bytes for r in rows),
        size=len(block.data),
        key=block.key,
        offset=block.offset,
        compacted=True,
        keyframe=any(row.keyframe for row in rows),
        snapshot_ts=next((r.snapshot_ts for r in rows if r.keyframe), None),
        dictionary=block.dictionary,
        pieces=pieces(block.packed, rows),
        created_at=now,
    )
