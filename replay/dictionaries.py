"""Compression dictionaries trained per project, for compacted blocks.

The sessions of one site share most of their bytes: the same markup, class names,
attribute names and event shapes. A zstd dictionary trained on a project's recent
sessions (`zstandard.train_dictionary`) primes the compressor with them, which matters
most for short sessions, whose blocks are small.

A dictionary is versioned per project and stored beside the data, at
``dictionaries/<project id>/<version>-<random>.zdict``; each block names the one it was
compressed with in its header (and its row points at it, which keeps the dictionary
while any block uses it). A project is trained again when its newest dictionary is older
than `RETRAIN_AFTER`; older versions are removed once no block uses them.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import timedelta

import zstandard
from django.db import IntegrityError
from django.db.models import Max
from django.utils import timezone

from replay.models import Dictionary, Project, Segment
from replay.storage import Storage, StorageError

log = logging.getLogger(__name__)

SIZE = 112 * 1024  # zstd's own default size for a trained dictionary
MIN_SAMPLES = 200  # batches: fewer say too little about the site
MAX_SAMPLES = 4000
MAX_SAMPLE_BYTES = 16 * 1024 * 1024
RETRAIN_AFTER = timedelta(days=7)

_loaded: dict[str, bytes] = {}
_lock = threading.Lock()


def load(key: str, storage: Storage) -> bytes:
    """A dictionary's bytes (kept in memory once read: a dictionary never changes)."""
    with _lock:
        found = _loaded.get(key)
    if found is not None:
        return found
    data = storage.get(key)
    if data is None:
        raise StorageError(f"dictionary {key} is named by a block but not in storage")
    with _lock:
        if len(_loaded) >= 64:
            _loaded.clear()
        _loaded[key] = data
    return data


def current(project: Project) -> Dictionary | None:
    return project.dictionaries.order_by("-version").first()


def due(project: Project) -> bool:
    """Whether the project should be trained (again) now."""
    newest = current(project)
    return newest is None or newest.created_at < timezone.now() - RETRAIN_AFTER


def train(project: Project, samples: list[bytes], storage: Storage) -> Dictionary | None:
    """Train a new version from `samples` (batches as compaction stores them, node ids
    as differences) and store it; None when there are too few samples to train on, or
    when zstd cannot make a dictionary of them."""
    if len(samples) < MIN_SAMPLES:
        return None
    used: list[bytes | bytearray | memoryview] = list(samples[:MAX_SAMPLES])
    try:
        trained = zstandard.train_dictionary(SIZE, used)
    except zstandard.ZstdError as exc:
        log.info("could not train a dictionary", extra={"project": project.pk, "why": str(exc)})
        return None
    data = trained.as_bytes()
    version = (project.dictionaries.aggregate(v=Max("version"))["v"] or 0) + 1
    key = f"dictionaries/{project.pk}/{version}-{secrets.token_hex(6)}.zdict"
    storage.put(key, data)
    try:
        return Dictionary.objects.create(
            project=project, version=version, key=key, size=len(data), samples=len(used)
        )
    except IntegrityError:  # another process trained the same version first
        storage.delete(key)
        return current(project)


def drop_unused(project: Project, storage: Storage) -> int:
    """Remove the project's dictionaries that no block uses, except the newest."""
    newest = current(project)
    unused = project.dictionaries.exclude(
        pk__in=Segment.objects.filter(dictionary__project=project).values("dictionary")
    )
    if newest is not None:
        unused = unused.exclude(pk=newest.pk)
    removed = 0
    for dictionary in unused:
        storage.delete(dictionary.key)
        dictionary.delete()
        removed += 1
    return removed
