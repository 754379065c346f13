"""Writing keyframes for stored sessions, and finding the one to open a moment with.

`advance_keyframes` picks up where a session's last keyframe left off: it rebuilds the
DOM mirror from that keyframe (a keyframe is itself a valid list of rrweb events),
applies the segments stored since, and at each segment boundary where at least
`interval_ms` of recording has passed since the previous keyframe, stores a new one: a
segment whose header says keyframe and whose one batch is numbered with the seq it
follows, as a part of a pack (`replay.packs`): the keyframer puts the keyframes of all
the sessions it advances in one pass in one pack, one storage request for all of them.
(Keyframes stored before packs are objects of their own, ``sessions/<session>/
<after_seq:012d>.key``, and are read as before.) Keyframes are derived
data: they can lag behind ingest, and where one is missing the player starts from the
last real full snapshot instead.

Most keyframes are stored as a difference from the keyframe before them (replay.codec),
at zstd level `LEVEL` (a few milliseconds for a large page): a keyframe costs about what
the page changed since the previous one. Every `ANCHOR_EVERY`-th is stored whole, so that
opening a moment reads at most that many keyframes (one, then the differences after it,
each decompressed in about a millisecond). A keyframe lives as long as the ones after
it: they go together (a session's deletion, a redaction that recomputes keyframes from a
moment on).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from replay.codec import (
    Batch,
    block_batches,
    body_batches,
    encode_segment,
    pack_batch,
    segment_body,
)
from replay.mirror import Mirror, keyframe, stuck
from replay.models import Keyframe, Pack, Segment, Session
from replay.packs import PackWriter, erase, locator, parts_of
from replay.rrweb import FULL_SNAPSHOT, META
from replay.segments import read_segment, stored
from replay.storage import Storage

log = logging.getLogger(__name__)


ANCHOR_EVERY = 10
LEVEL = 9


@dataclass(frozen=True)
class Previous:
    """The keyframe the next one is stored as a difference from."""

    key: str
    body: bytes  # uncompressed
    links: int  # the differences it sits on


@dataclass(frozen=True)
class Advanced:
    written: int  # keyframes stored by this call
    inexact: str | None  # why the mirror could not write one (the recorder should snapshot)
    skipped: Counter[str]  # events of this pass the mirror could not apply, by reason
    # Rows of keyframes added to a pack not written yet: `index` them once it is.
    pending: list[Keyframe] = field(default_factory=list)
    since: int | float | None = None  # the session's keyframe_ms once they are indexed
    # Where the mirror ended stuck (`stuck`), for the session's keyframe_stuck_seq and
    # keyframe_stuck: (seq, reason), or None when it can write keyframes.
    stuck: tuple[int, str] | None = None


def index(session: Session, advanced: Advanced, storage: Storage) -> None:
    """Index the keyframes `advance_keyframes` put in a pack, once it is written."""
    with transaction.atomic():
        for row in advanced.pending:
            replaced = Keyframe.objects.filter(session=session, after_seq=row.after_seq).first()
            if replaced is not None:
                replaced.delete()
                erase(parts_of([replaced]), storage)
            row.save()
        since = advanced.since
        changed: dict[str, object] = {}
        if since is not None and since != session.keyframe_ms:
            changed["keyframe_ms"] = round(since)
        seq, reason = advanced.stuck if advanced.stuck is not None else (None, "")
        if (seq, reason) != (session.keyframe_stuck_seq, session.keyframe_stuck):
            changed.update(keyframe_stuck_seq=seq, keyframe_stuck=reason)
        if changed:
            Session.objects.filter(pk=session.pk).update(**changed)


def load_keyframe(row: Keyframe, storage: Storage) -> list[dict[str, object]]:
    return read_segment(row, storage).events


def advance_keyframes(
    session: Session,
    storage: Storage,
    interval_ms: int,
    anchor_every: int = ANCHOR_EVERY,
    pack: PackWriter | None = None,
) -> Advanced:
    """Write the keyframes due since the session's last one. With `pack`, they are added
    to it and left for the caller to write and `index` (one pack for the keyframes of
    many sessions); without, they go in a pack of their own, written and indexed now.

    A mirror that is stuck (`stuck`) stays so until the page's next real full snapshot:
    the segments before it are not read, in this pass or in the next ones (the session's
    `keyframe_stuck_seq` says where it got stuck), so that a canvas page or one past the
    node cap costs each pass what came since, not the whole session again. The first
    keyframe after such a stretch is the page as it is replayed from that snapshot."""
    own = pack is None
    writer = pack if pack is not None else PackWriter(Pack.Kind.KEYFRAMES)
    last = session.keyframes.order_by("-after_seq").first()
    mirror = Mirror()
    after = -1
    since: int | float | None = session.first_event_ms
    previous: Previous | None = None
    stuck_at = session.keyframe_stuck_seq
    waiting = stuck_at is not None and (last is None or stuck_at >= last.after_seq)
    asks = (session.keyframe_stuck or None) if waiting else None
    if last is not None:
        header, body, links = stored(last, storage)
        if not waiting:
            for batch in body_batches(body, header.ids):
                for event in batch.events:
                    mirror.apply(event)
            mirror.skipped.clear()  # counted when the events themselves were applied
        after, since = last.after_seq, last.timestamp
        previous = Previous(locator(last.key, last.offset, last.size), body, links)
    if waiting and stuck_at is not None:
        after = stuck_at
    pending: list[Keyframe] = []
    rows = Segment.objects.filter(session=session, seq_end__gt=after).order_by("seq_start")
    for row in rows:
        if waiting and not row.keyframe:  # no real snapshot: nothing in it can be written
            if row.last_ts is not None and since is not None and row.last_ts - since >= interval_ms:
                since = row.last_ts
            after = row.seq_end
            continue
        latest = None
        for batch in read_segment(row, storage, first=after + 1).batches:
            for event in batch.events:
                kind = event.get("type")
                if waiting and kind not in (META, FULL_SNAPSHOT):
                    continue  # what the snapshot wipes
                waiting = waiting and kind != FULL_SNAPSHOT
                mirror.apply(event)
                stamp = event.get("timestamp")
                if isinstance(stamp, int | float):
                    latest = stamp if latest is None else max(latest, stamp)
            after = batch.seq
        if stuck(mirror):
            waiting, asks = True, mirror.inexact
        if latest is None or since is None or latest - since < interval_ms:
            continue
        frame = keyframe(mirror, latest)
        if frame is None:
            # Not due again before another interval: the recorder is asked to snapshot.
            since = latest
            continue
        packed = [pack_batch(after, frame)]
        base, links = None, 0
        if previous is not None and previous.links + 1 < anchor_every:
            base, links = (previous.key, previous.body), previous.links + 1
        body = encode_segment(session.pk, packed, keyframe=True, level=LEVEL, base=base)
        key, offset = writer.add(body)
        previous = Previous(locator(key, offset, len(body)), segment_body(packed), links)
        pending.append(
            Keyframe(
                session=session,
                after_seq=after,
                timestamp=round(latest),
                key=key,
                offset=offset,
                size=len(body),
            )
        )
        since = latest
    advanced = Advanced(
        len(pending),
        (mirror.inexact or asks) if waiting else mirror.inexact,
        mirror.skipped,
        pending,
        since,
        (after, asks or "") if waiting else None,
    )
    if own:
        writer.write(storage)
        index(session, advanced, storage)
    return advanced


@dataclass
class Recompressed:
    """What `recompress` made of a session's keyframes, for compaction to swap in."""

    kept: list[tuple[Keyframe, str, int, int]]  # each row, and its new key, offset, size
    removed: list[Keyframe]


def recompress(
    session: Session, storage: Storage, pack: PackWriter, *, keep_every_ms: int, level: int
) -> Recompressed:
    """Compress a finished stretch of the session's keyframes again, into `pack`: one
    every `keep_every_ms` of recording is kept (the player replays a little more from
    it; the rest are removed), with node ids as differences (`replay.deltas`), at
    `level`, each a difference from the kept one before it. Reads every keyframe before
    any is removed, so no chain is cut."""
    frames = list(session.keyframes.filter(compacted=False).order_by("after_seq"))
    found = Recompressed([], [])
    if not frames:
        return found
    last = session.keyframes.filter(compacted=True).order_by("-after_seq").first()
    previous: Previous | None = None
    kept_at: int | None = None
    if last is not None:
        _, body, links = stored(last, storage)
        previous = Previous(locator(last.key, last.offset, last.size), body, links)
        kept_at = last.timestamp
    for frame in frames:
        if kept_at is not None and frame.timestamp - kept_at < keep_every_ms:
            found.removed.append(frame)
            continue
        events = read_segment(frame, storage).events
        packed, ids_delta = block_batches([Batch(frame.after_seq, events)])
        base, links = None, 0
        if previous is not None and previous.links + 1 < ANCHOR_EVERY:
            base, links = (previous.key, previous.body), previous.links + 1
        data = encode_segment(
            session.pk, packed, keyframe=True, level=level, base=base, ids_delta=ids_delta
        )
        key, offset = pack.add(data)
        previous = Previous(locator(key, offset, len(data)), segment_body(packed), links)
        found.kept.append((frame, key, offset, len(data)))
        kept_at = frame.timestamp
    return found
