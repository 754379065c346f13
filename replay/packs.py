"""Packs: storage objects that hold parts of many sessions.

A storage request costs more than the bytes it carries, so what many sessions produce
together is written together, as one object, a *pack*:

- each commit round of a server process writes the segments of every session it stores
  in one pack (``packs/round/...``), instead of one object per session per flush;
- compaction writes the blocks of every session it compacts in one pass in one pack
  (``packs/blocks/...``).

Each part is a whole segment object (see `replay.codec`), so a reader reads its byte range
(`Storage.get_range`) and decodes it as if it were an object of its own. Segment and
keyframe rows point at their part: `key` (the pack), `offset` and `size`.

**Deleting stays true.** Deleting a session (forget, purge, the API, redaction)
overwrites its parts with zeros at once (`erase`), so that no object keeps its events,
and a pack no row points into any more is removed (`drop_unreferenced`). The object of a
pack is rewritten whole to do that; a `Pack` row is locked for it, so two deletions
never undo each other's zeros.

Layout of a pack's key::

    packs/<kind>/<YYYY-MM-DD>/<random>.<kind's suffix>
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from replay.models import Keyframe, Pack, ReplacedPart, Segment
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

SUFFIX = {Pack.Kind.ROUND: "rnd", Pack.Kind.KEYFRAMES: "kfp", Pack.Kind.BLOCKS: "blk"}

# A round's pack nothing points into this long after it was made is removed (its
# sessions were compacted, or its round failed): rounds index their parts in seconds.
GRACE = timedelta(minutes=15)


def new_pack(kind: Pack.Kind) -> Pack:
    """A pack row for an object about to be written (made first, so that an object
    whose rows never come is found and removed)."""
    day = timezone.now().strftime("%Y-%m-%d")
    key = f"packs/{kind.value}/{day}/{secrets.token_hex(12)}.{SUFFIX[kind]}"
    return Pack.objects.create(key=key, kind=kind)


class PackWriter:
    """Gathers parts for one pack, then writes them in one storage request. Each part
    learns where it will lie (`add`) before the pack is written, so a keyframe can name
    the one before it in the same pack as its base."""

    def __init__(self, kind: Pack.Kind) -> None:
        self.kind = kind
        self.key = ""
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> tuple[str, int]:
        """Where `data` will lie: the pack's key and its offset."""
        if not self.key:
            self.key = new_pack(self.kind).key
        offset = self.size
        self.parts.append(data)
        self.size += len(data)
        return self.key, offset

    def mark(self) -> tuple[int, int]:
        """Where the pack ends now, for `undo`."""
        return len(self.parts), self.size

    def undo(self, mark: tuple[int, int]) -> None:
        """Take back the parts added since `mark` (a session that failed half way must
        leave nothing of it in the pack)."""
        del self.parts[mark[0] :]
        self.size = mark[1]

    def write(self, storage: Storage) -> None:
        """Store the pack (nothing when no part was added). On StorageError nothing
        points into it yet; `drop_unreferenced` removes what was made of it."""
        if self.parts:
            storage.put(self.key, b"".join(self.parts))


def locator(key: str, offset: int | None, size: int) -> str:
    """How a keyframe names its base: the key, and the range when it is a part."""
    return key if offset is None else f"{key}@{offset}+{size}"


def parse_locator(text: str) -> tuple[str, int | None, int]:
    """`locator`'s inverse: (key, offset or None, size or 0)."""
    key, at, where = text.partition("@")
    if not at:
        return key, None, 0
    offset, plus, size = where.partition("+")
    if not plus or not offset.isdigit() or not size.isdigit():
        raise ValueError(f"not a part's locator: {text!r}")
    return key, int(offset), int(size)


def read_part(storage: Storage, key: str, offset: int | None, size: int) -> bytes | None:
    if offset is None:
        return storage.get(key)
    return storage.get_range(key, offset, size)


Part = tuple[str, int, int]  # key, offset, size


def parts_of(rows: Iterable[Segment | Keyframe | ReplacedPart]) -> list[Part]:
    return [(row.key, row.offset, row.size) for row in rows if row.offset is not None]


def erase(parts: Iterable[Part], storage: Storage) -> int:
    """Overwrite the parts with zeros in their packs, at once; how many packs were
    rewritten. A pack that is gone already needs nothing."""
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for key, offset, size in parts:
        by_key[key].append((offset, size))
    rewritten = 0
    for key, ranges in by_key.items():
        with transaction.atomic():
            # A no-op update takes the row's lock (SQLite: the database's write lock),
            # so two erasers of one pack take turns instead of undoing each other's zeros.
            Pack.objects.filter(key=key).update(key=key)
            data = storage.get(key)
            if data is None:
                continue
            buffer = bytearray(data)
            for offset, size in ranges:
                buffer[offset : offset + size] = bytes(size)
            storage.put(key, bytes(buffer))
            rewritten += 1
    return rewritten


def packs_shared(keys: Iterable[str], session_ids: list[str]) -> Iterator[str]:
    """Those of the packs that hold something of a session other than these, or that
    may yet (a round's pack a moment old may still be indexing its parts)."""
    wanted = list(keys)
    young = Pack.objects.filter(
        key__in=wanted, kind=Pack.Kind.ROUND, created_at__gte=timezone.now() - GRACE
    )
    yield from young.values_list("key", flat=True)
    for model in (Segment, Keyframe):
        others = model.objects.filter(key__in=wanted).exclude(session__in=session_ids)
        yield from others.values_list("key", flat=True).distinct()


def drop_unreferenced(storage: Storage, keys: Iterable[str] | None = None) -> int:
    """Remove the packs no segment or keyframe row points into: those named (packs a
    deletion or a compaction just left), or, with no keys, those a sweep finds: rounds
    older than `GRACE` (compacted, or whose round failed) and other packs between `GRACE`
    and a day old (a keyframer or compaction pass that failed). How many were removed."""
    now = timezone.now()
    if keys is None:
        young = Q(created_at__lt=now - GRACE)
        packs = Pack.objects.filter(
            young & (Q(kind=Pack.Kind.ROUND) | Q(created_at__gte=now - timedelta(days=1)))
        )
    else:
        # A round a moment old may still be indexing its parts; the sweep gets it later.
        packs = Pack.objects.filter(key__in=list(keys)).exclude(
            kind=Pack.Kind.ROUND, created_at__gte=now - GRACE
        )
    unused = packs.filter(
        ~Exists(Segment.objects.filter(key=OuterRef("key"))),
        ~Exists(Keyframe.objects.filter(key=OuterRef("key"))),
    )
    dropped = 0
    for pack in unused.iterator():
        try:
            storage.delete(pack.key)
        except StorageError:
            log.warning("could not remove a pack", extra={"key": pack.key}, exc_info=True)
            continue
        ReplacedPart.objects.filter(key=pack.key).delete()
        pack.delete()
        dropped += 1
    return dropped
