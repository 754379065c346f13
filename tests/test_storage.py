"""One storage test suite, run against the local folder and against S3 (moto's server
over real HTTP on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from replay.s3 import S3Storage
from replay.storage import FolderStorage, Storage, StorageError, storage_from_url
from tests.support import free_port


@pytest.fixture(params=["folder", "s3"])
def storage(request, tmp_path: Path) -> Storage:
    if request.param == "folder":
        return FolderStorage(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket, "some/prefix", endpoint_url=endpoint)


def test_put_then_get_returns_the_bytes(storage):
    storage.put("sessions/abc/000.seg", b"\x00payload\xff")
    assert storage.get("sessions/abc/000.seg") == b"\x00payload\xff"


def test_missing_object_is_none(storage):
    assert storage.get("sessions/nobody/000.seg") is None


def test_put_replaces_an_object(storage):
    storage.put("a/b.seg", b"first")
    storage.put("a/b.seg", b"second")
    assert storage.get("a/b.seg") == b"second"


def test_delete_prefix_removes_one_session_only(storage):
    for key in [
        "sessions/one/1.seg",
        "sessions/one/2.seg",
        "sessions/onex/1.seg",
        "sessions/two/1.seg",
    ]:
        storage.put(key, key.encode())
    assert storage.delete_prefix("sessions/one/") == 2
    assert storage.get("sessions/one/1.seg") is None
    assert sorted(storage.list_keys("sessions/")) == ["sessions/onex/1.seg", "sessions/two/1.seg"]


@pytest.mark.parametrize("count", [1, 3, 40])
def test_put_many_stores_each_object(storage, count):
    items = [(f"sessions/s{i % 7}/{i:04d}.seg", f"object {i}".encode()) for i in range(count)]
    assert storage.put_many(items) == [None] * count
    for key, data in items:
        assert storage.get(key) == data


def writes(kind: str) -> float:
    return REGISTRY.get_sample_value("replay_storage_writes_total", {"kind": kind}) or 0.0


@pytest.mark.parametrize("count", [1, 3, 40])
def test_every_object_written_is_counted_by_kind(storage, count):
    """`replay_storage_writes_total{kind}`: the storage requests that cost money."""
    before = writes("seg"), writes("key"), writes("other")
    storage.put_many([(f"sessions/w/{i:04d}.seg", b"x") for i in range(count)])
    storage.put("sessions/w/0001.key", b"keyframe")
    storage.put("sessions/w/manifest", b"no kind")
    after = writes("seg"), writes("key"), writes("other")
    assert [a - b for a, b in zip(after, before, strict=True)] == [count, 1, 1]


def test_put_many_fails_each_object_on_its_own(tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    storage = FolderStorage(tmp_path)
    items = [(f"fine/{i}.seg", b"x") for i in range(5)] + [("blocked/inside/0.seg", b"y")]
    errors = storage.put_many(items)
    assert errors[:5] == [None] * 5
    assert isinstance(errors[5], StorageError)
    assert [storage.get(k) for k, _ in items[:5]] == [b"x"] * 5
    assert not [p for p in (tmp_path / "fine").iterdir() if p.name.startswith(".tmp-")]


def test_delete_of_a_missing_object_is_fine(storage):
    storage.delete("never/was.seg")
    assert storage.get("never/was.seg") is None


def test_list_keys_under_a_prefix(storage):
    storage.put("x/1", b"1")
    storage.put("x/2", b"2")
    storage.put("y/1", b"3")
    assert sorted(storage.list_keys("x/")) == ["x/1", "x/2"]


def test_large_objects_survive(storage):
    blob = bytes(range(256)) * 40_000  # 10 MB
    storage.put("big/blob", blob)
    assert storage.get("big/blob") == blob


def test_check_passes_when_reachable(storage):
    storage.check()


@pytest.mark.parametrize(
    "key", ["../escape", "/absolute", "a/../../b", "a//b", "spaces in/key", ""]
)
def test_unsafe_keys_are_refused(storage, key):
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put(key, b"x")


def test_folder_writes_leave_no_temporary_files(tmp_path):
    storage = FolderStorage(tmp_path)
    for i in range(20):
        storage.put("s/obj", str(i).encode())
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["obj"]
    assert storage.get("s/obj") == b"19"


def test_folder_failure_is_a_storage_error(tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    storage = FolderStorage(tmp_path)
    with pytest.raises(StorageError, match="cannot write"):
        storage.put("blocked/inside/obj", b"x")
    with pytest.raises(StorageError, match="cannot read"):
        storage.get("blocked/inside")  # a path through a file


def test_unreachable_s3_is_a_storage_error():
    port = free_port()  # nothing listens here
    storage = S3Storage("bucket", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError, match="cannot write"):
        storage.put("a/b", b"x")
    with pytest.raises(StorageError, match="cannot read"):
        storage.get("a/b")
    with pytest.raises(StorageError, match="not reachable"):
        storage.check()


def test_missing_bucket_is_a_storage_error(s3_endpoint):
    storage = S3Storage("no-such-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(StorageError):
        storage.put("a/b", b"x")


def test_storage_url_selects_the_backend(tmp_path):
    folder = storage_from_url("file://var/segments", base_dir=tmp_path)
    assert isinstance(folder, FolderStorage)
    assert folder.root == tmp_path / "var" / "segments"
    s3 = storage_from_url(
        "s3://bucket/pre/fix", base_dir=tmp_path, endpoint_url="http://127.0.0.1:1"
    )
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix) == ("bucket", "pre/fix/")
    for bad in ["ftp://x", "s3://", "file://"]:
        with pytest.raises(ValueError, match="storage URL"):
            storage_from_url(bad, base_dir=tmp_path)
