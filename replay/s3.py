"""Object storage in an S3-compatible service: `replay.storage`'s interface over boto3."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from replay.storage import StorageError, attempt_put, check_key, count_written, whole_range

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_s3_writers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-put")


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
        count_written(key)

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> list[StorageError | None]:
        # One request per object; they wait on the network, so in parallel.
        if len(items) < 2:
            return [attempt_put(self.put, key, data) for key, data in items]
        return list(_s3_writers.map(lambda item: attempt_put(self.put, *item), items))

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
        return whole_range(key, offset, length, data)

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
