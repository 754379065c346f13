"""How a session's segments are grouped into compacted blocks, and how the player loads
a block: in pieces. Pure: reads the rows it is given, no IO (see `replay.compaction`)."""

from __future__ import annotations

from replay.codec import PackedBatch, body_offsets
from replay.models import Segment

BLOCK_BYTES = 8 * 1024 * 1024  # received bytes of one block, at most
PIECE_SECONDS = 10


def plan_blocks(rows: list[Segment], *, block_ms: int, closing: bool) -> list[list[Segment]]:
    """Group a session's waiting segment rows (in seq order) into blocks; the last
    group only when `closing` or when it is full."""
    groups: list[list[Segment]] = []
    group: list[Segment] = []
    full = False
    for row in rows:
        if group and full:
            groups.append(group)
            group = []
        group.append(row)
        firsts = [r.first_ts for r in group if r.first_ts is not None]
        lasts = [r.last_ts for r in group if r.last_ts is not None]
        span = max(lasts) - min(firsts) if firsts and lasts else 0
        full = span >= block_ms or sum(r.received_bytes for r in group) >= BLOCK_BYTES
    if group and (closing or full):
        groups.append(group)
    return groups


def pieces(packed: list[PackedBatch], rows: list[Segment]) -> list[list[int | None]]:
    """A block's batches in runs of about `PIECE_SECONDS` of recording, for the player:
    [[seq_start, seq_end, first_ts, last_ts, events, snapshot_ts, body_start, body_end],
    ...], where snapshot_ts is when the last page load starting in the piece starts (its
    Meta) or None, and body_start and body_end where the piece lies in the block's body
    (a reader decodes only it). `rows` are the segments the block replaces."""
    offsets = body_offsets(packed)
    found: list[list[int | None]] = []
    start: int | float | None = None
    for index, batch in enumerate(packed):
        first = batch.first_ts
        if not found or (
            start is not None and first is not None and first - start >= PIECE_SECONDS * 1000
        ):
            found.append(
                [
                    batch.seq,
                    batch.seq,
                    _ms(first),
                    _ms(batch.last_ts),
                    batch.count,
                    None,
                    offsets[index],
                    offsets[index + 1],
                ]
            )
            start = first
            continue
        piece = found[-1]
        piece[1] = batch.seq
        piece[4] = (piece[4] or 0) + batch.count
        piece[7] = offsets[index + 1]
        if piece[2] is None:
            piece[2] = _ms(first)
            start = first
        if batch.last_ts is not None:
            piece[3] = max(piece[3] or 0, _ms(batch.last_ts) or 0)
    for snapshot in _page_loads(rows):
        starting = [p for p in found if p[2] is not None and p[2] <= snapshot]
        (starting[-1] if starting else found[0])[5] = snapshot
    return found


def _page_loads(rows: list[Segment]) -> list[int]:
    """When the rows' page loads start (as `replay.playback.snapshot_time` says)."""
    found = []
    for row in rows:
        at = row.snapshot_ts if row.snapshot_ts is not None else row.first_ts
        if row.keyframe and at is not None:
            found.append(at)
    return found


def _ms(value: int | float | None) -> int | None:
    return None if value is None else round(value)
