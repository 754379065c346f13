"""Writing keyframes for stored sessions, and finding the one to open a moment with.

`advance_keyframes` picks up where a session's last keyframe left off: it rebuilds the
DOM mirror from that keyframe (a keyframe is itself a valid list of rrweb events),
applies the segments stored since, and at each segment boundary where at least
`interval_ms` of recording has passed since the previous keyframe, stores a new one:
object key ``sessions/<session>/<after_seq:012d>.key``, a segment whose header says
keyframe and whose one batch is numbered with the seq it follows. Keyframes are derived
data: they can lag behind ingest, and where one is missing the player starts from the
last real full snapshot instead.

Most keyframes are stored as a difference from an earlier one of the session, the
*anchor*, stored whole (replay.codec): a new anchor at the first keyframe and then once
`ANCHOR_INTERVALS` keyframe intervals have passed since the last (every five minutes of
recording at the default 30 s). Opening a moment thus reads at most two keyframes, never
a chain, and a keyframe costs what the page changed since its anchor. An anchor lives as
long as the keyframes after it: they go together (a session's deletion, a redaction that
recomputes keyframes from a moment on).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from replay.codec import encode_segment, pack_batch, segment_body
from replay.mirror import Mirror, keyframe
from replay.models import Keyframe, Segment, Session
from replay.segments import read_segment, session_prefix, stored_body
from replay.storage import Storage

log = logging.getLogger(__name__)


def keyframe_key(session_id: str, after_seq: int) -> str:
    return f"{session_prefix(session_id)}{after_seq:012d}.key"


ANCHOR_INTERVALS = 10


@dataclass(frozen=True)
class Anchor:
    """The keyframe stored whole that the next ones are stored as differences from."""

    key: str
    body: bytes  # uncompressed
    timestamp: int | float


@dataclass(frozen=True)
class Advanced:
    written: int  # keyframes stored by this call
    inexact: str | None  # why the mirror could not write one (the recorder should snapshot)
    skipped: Counter[str]  # events of this pass the mirror could not apply, by reason


def load_keyframe(row: Keyframe, storage: Storage) -> list[dict[str, object]]:
    return read_segment(row, storage).events


def advance_keyframes(
    session: Session, storage: Storage, interval_ms: int, anchor_intervals: int = ANCHOR_INTERVALS
) -> Advanced:
    last = session.keyframes.order_by("-after_seq").first()
    mirror = Mirror()
    after = -1
    since: int | float | None = session.first_event_ms
    anchor: Anchor | None = None
    if last is not None:
        stored = read_segment(last, storage)
        for event in stored.events:
            mirror.apply(event)
        mirror.skipped.clear()  # counted when the events themselves were applied
        after, since = last.after_seq, last.timestamp
        anchor = _anchor_of(last, stored.header.base, storage)
    written = 0
    rows = Segment.objects.filter(session=session, seq_end__gt=after).order_by("seq_start")
    for row in rows:
        latest = None
        for batch in read_segment(row, storage).batches:
            if batch.seq <= after:
                continue
            for event in batch.events:
                mirror.apply(event)
                stamp = event.get("timestamp")
                if isinstance(stamp, int | float):
                    latest = stamp if latest is None else max(latest, stamp)
            after = batch.seq
        if latest is None or since is None or latest - since < interval_ms:
            continue
        frame = keyframe(mirror, latest)
        if frame is None:
            # Not due again before another interval: the recorder is asked to snapshot.
            since = latest
            continue
        key = keyframe_key(session.pk, after)
        packed = [pack_batch(after, frame)]
        if anchor is None or latest - anchor.timestamp >= anchor_intervals * interval_ms:
            body = encode_segment(session.pk, packed, keyframe=True)
            anchor = Anchor(key, segment_body(packed), latest)
        else:
            base = (anchor.key, anchor.body)
            body = encode_segment(session.pk, packed, keyframe=True, base=base)
        storage.put(key, body)
        Keyframe.objects.update_or_create(
            session=session,
            after_seq=after,
            defaults={"timestamp": round(latest), "key": key, "size": len(body)},
        )
        since = latest
        written += 1
    if since is not None and since != session.keyframe_ms:
        Session.objects.filter(pk=session.pk).update(keyframe_ms=round(since))
    return Advanced(written, mirror.inexact, mirror.skipped)


def _anchor_of(last: Keyframe, base: str | None, storage: Storage) -> Anchor | None:
    """The anchor the session's keyframes go on from: `last` itself if it is stored whole
    (`base` None), else the keyframe it is a difference from."""
    if base is None:
        return Anchor(last.key, stored_body(last.key, storage), last.timestamp)
    row = Keyframe.objects.filter(session_id=last.session_id, key=base).first()
    if row is None:
        return None  # not indexed any more: the next keyframe is stored whole
    return Anchor(base, stored_body(base, storage), row.timestamp)
