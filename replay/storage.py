"""Object storage for segments: a local folder, or any S3-compatible service
(`replay.s3`).

Both backends behave the same way: `get` of a missing object is ``None``, and every
other failure raises `StorageError`. Keys are relative paths made of
``[A-Za-z0-9._-]`` components separated by ``/`` (see `replay.segments.segment_key`).
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from replay import metrics

_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$")


# Objects this process wrote, by kind, as `replay_storage_writes_total` counts them: a
# worker process reports what it wrote to its server process, whose metrics count it.
WRITTEN: Counter[str] = Counter()


def count_written(key: str) -> None:
    """Count one object written, by its kind (seg, key, ckpt...: what its name ends with)."""
    name = key.rsplit("/", 1)[-1]
    kind = name.rsplit(".", 1)[-1] if "." in name else "other"
    WRITTEN[kind] += 1
    metrics.STORAGE_WRITES.labels(kind).inc()


class StorageError(Exception):
    """Storage could not do what was asked; the data may or may not be there."""


def check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` durably under `key`, replacing what was there."""

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> list[StorageError | None]:
        """`put` for many objects at once, each succeeding or failing on its own: the
        error for each item, or None once it is durably stored."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    def get_range(self, key: str, offset: int, length: int) -> bytes | None:
        """`length` bytes of the object from `offset` (one part of an object shared by
        many sessions), or None when there is no such object. StorageError when the
        object is shorter than that."""

    def delete(self, key: str) -> None:
        """Remove one object; removing a missing object is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix`; returns how many."""

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix`, in no particular order."""

    def check(self) -> None:
        """Raise StorageError unless storage is reachable and writable."""


class FolderStorage:
    """Objects as files under one folder. Writes are atomic: a temporary file in the
    same folder is written, made durable and renamed over the target, then the rename is
    made durable, so a crash leaves either the old object or the new one. `put` fsyncs
    the file and its folder; `put_many` writes all its files first and then syncs the
    whole file system twice (Linux `syncfs`), which costs the same for one object or a
    thousand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: set[Path] = set()

    def _folder_for(self, path: Path) -> None:
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)

    def __repr__(self) -> str:
        return f"FolderStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            self._folder_for(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {key}: {exc}") from exc
        count_written(key)

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> list[StorageError | None]:
        if len(items) < 4 or _syncfs is None:
            return [attempt_put(self.put, key, data) for key, data in items]
        results: list[StorageError | None] = [None] * len(items)
        staged: list[tuple[int, str, Path]] = []
        # Keys are unique within a call, so the temporary name only has to be unique
        # between processes and threads (mkstemp's random names cost more than the write).
        suffix = f".tmp-{os.getpid()}-{threading.get_ident()}"
        for index, (key, data) in enumerate(items):
            try:
                path = self._path(key)
            except ValueError as exc:
                results[index] = StorageError(str(exc))
                continue
            tmp = str(path.parent / f".{path.name}{suffix}")
            try:
                self._folder_for(path)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                staged.append((index, tmp, path))
            except OSError as exc:
                # A folder removed behind our back: forget it, so a retry recreates it.
                self._folders.discard(path.parent)
                results[index] = StorageError(f"cannot write {key}: {exc}")
        try:
            _syncfs(self.root)  # the temporary files' contents
            for _, tmp, path in staged:
                os.replace(tmp, path)
            _syncfs(self.root)  # the renames
        except OSError as exc:
            for index, tmp, _ in staged:
                Path(tmp).unlink(missing_ok=True)
                results[index] = StorageError(f"cannot write {items[index][0]}: {exc}")
            return results
        for index, _, _ in staged:
            count_written(items[index][0])
        return results

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc

    def get_range(self, key: str, offset: int, length: int) -> bytes | None:
        try:
            with self._path(key).open("rb") as file:
                file.seek(offset)
                data = file.read(length)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc
        return whole_range(key, offset, length, data)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        for key in list(self.list_keys(prefix)):
            self.delete(key)
            removed += 1
        # Leave no empty folders behind for deleted sessions.
        folder = self.root / check_key(prefix).rstrip("/")
        if prefix.endswith("/") and folder.is_dir():
            for sub in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir():
                    sub.rmdir()
            folder.rmdir()
        return removed

    def list_keys(self, prefix: str) -> Iterator[str]:
        if prefix:  # "" lists everything
            check_key(prefix)
        base = self.root / prefix if prefix.endswith("/") else (self.root / prefix).parent
        if not base.is_dir():
            return
        try:
            for path in base.rglob("*"):
                if path.is_file() and not path.name.startswith("."):
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        yield key
        except OSError as exc:
            raise StorageError(f"cannot list {prefix}: {exc}") from exc

    def check(self) -> None:
        probe = ".healthcheck"
        self.put(probe, b"ok")
        if self.get(probe) != b"ok":
            raise StorageError(f"{self.root} did not return what was written")


def whole_range(key: str, offset: int, length: int, data: bytes) -> bytes:
    if len(data) != length:
        raise StorageError(f"{key} holds {len(data)} of the {length} bytes at {offset}")
    return data


def attempt_put(put: Callable[[str, bytes], None], key: str, data: bytes) -> StorageError | None:
    try:
        put(key, data)
    except StorageError as exc:
        return exc
    except ValueError as exc:  # a key storage cannot take fails only its own object
        return StorageError(str(exc))
    return None


def _load_syncfs() -> Callable[[Path], None] | None:
    """Linux's syncfs(2): everything written to one file system, made durable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return None

    def syncfs(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if call(fd) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error))
        finally:
            os.close(fd)

    return syncfs


_syncfs = _load_syncfs()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_from_url(url: str, *, base_dir: Path, endpoint_url: str | None = None) -> Storage:
    """``file://var/segments`` (relative to `base_dir`), ``file:///abs/path`` or
    ``s3://bucket/prefix``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        raw = url[len("file://") :]
        if not raw:
            raise ValueError(f"no folder in storage URL {url!r}")
        path = Path(raw)
        return FolderStorage(path if path.is_absolute() else base_dir / path)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"no bucket in storage URL {url!r}")
        from replay.s3 import S3Storage  # boto3 is loaded only where S3 is used

        return S3Storage(parts.netloc, parts.path, endpoint_url)
    raise ValueError(f"storage URL must start with file:// or s3://, not {url!r}")


@cache
def get_storage() -> Storage:
    """The storage the settings choose, made once per process."""
    from django.conf import settings

    return storage_from_url(
        settings.REPLAY_STORAGE_URL,
        base_dir=settings.BASE_DIR,
        endpoint_url=settings.REPLAY_S3_ENDPOINT_URL,
    )
