"""Object storage for segments: a local folder or any S3-compatible service.

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
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from replay import metrics

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_s3_writers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-put")
_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$")


# Objects this process wrote, by kind, as `replay_storage_writes_total` counts them: a
# worker process reports what it wrote to its server process, whose metrics count it.
WRITTEN: Counter[str] = Counter()


def _written(key: str) -> None:
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
        _written(key)

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> list[StorageError | None]:
        if len(items) < 4 or _syncfs is None:
            return [_attempt(self.put, key, data) for key, data in items]
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
            _written(items[index][0])
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
        return _whole_range(key, offset, length, data)

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


def _whole_range(key: str, offset: int, length: int, data: bytes) -> bytes:
    if len(data) != length:
        raise StorageError(f"{key} holds {len(data)} of the {length} bytes at {offset}")
    return data


def _attempt(put: Callable[[str, bytes], None], key: str, data: bytes) -> StorageError | None:
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


class S3Storage:
    """Objects in an S3 bucket under a prefix. Works with AWS S3 and S3-compatible
    services (MinIO, R2, ...): give `endpoint_url` for those, which also switches to
    path-style addressing. Credentials and region come from boto3's usual sources
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, ...)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=config
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot write {key}: {exc}") from exc
        _written(key)

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> list[StorageError | None]:
        # One request per object; they wait on the network, so in parallel.
        if len(items) < 2:
            return [_attempt(self.put, key, data) for key, data in items]
        return list(_s3_writers.map(lambda item: _attempt(self.put, *item), items))

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise StorageError(f"cannot read {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc

    def get_range(self, key: str, offset: int, length: int) -> bytes | None:
        if length <= 0:
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket,
                Key=self._name(key),
                Range=f"bytes={offset}-{offset + length - 1}",
            )
            data = response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"NoSuchKey", "404"}:
                return None
            raise StorageError(f"cannot read {key} at {offset}+{length}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {key} at {offset}+{length}: {exc}") from exc
        return _whole_range(key, offset, length, data)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        batch: list[str] = []
        for key in self.list_keys(prefix):
            batch.append(key)
            if len(batch) == 1000:
                removed += self._delete_many(batch)
                batch = []
        if batch:
            removed += self._delete_many(batch)
        return removed

    def _delete_many(self, keys: list[str]) -> int:
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._name(k)} for k in keys], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot delete objects: {exc}") from exc
        errors = response.get("Errors", [])
        if errors:
            raise StorageError(f"cannot delete {len(errors)} objects, first: {errors[0]}")
        return len(keys)

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            where = self._name(prefix) if prefix else self.prefix  # "" lists everything
            for page in paginator.paginate(Bucket=self.bucket, Prefix=where):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list {prefix}: {exc}") from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} is not reachable: {exc}") from exc


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
