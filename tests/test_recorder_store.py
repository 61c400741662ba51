"""FileStore: what was put is what is read, nothing escapes the root, failures say why."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from recorder import BlobNotFound, FileStore, StoreError


def test_put_then_read_back(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "evidence")
    data = os.urandom(100_000)

    blob = store.put("audits/a1/stills/000001.jpg", data)

    assert (blob.relpath, blob.size, blob.sha256) == (
        "audits/a1/stills/000001.jpg",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    with store.open(blob.relpath) as f:
        assert f.read() == data
    assert store.exists(blob.relpath)
    assert store.path(blob.relpath) == tmp_path / "evidence/audits/a1/stills/000001.jpg"
    assert os.listdir(tmp_path / "evidence/audits/a1/stills") == ["000001.jpg"]  # no temp files left


def test_put_replaces_a_blob_whole(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.put("ledger/head.json", b"old contents, longer than the new")

    store.put("ledger/head.json", b"new")

    with store.open("ledger/head.json") as f:
        assert f.read() == b"new"


def test_missing_blob(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    assert not store.exists("nope.jpg")
    with pytest.raises(BlobNotFound):
        store.open("nope.jpg")


@pytest.mark.parametrize(
    "relpath", ["../outside.jpg", "a/../../outside.jpg", "/etc/passwd", "", "a/./b", "dir/"]
)
def test_paths_outside_the_store_are_refused(tmp_path: Path, relpath: str) -> None:
    store = FileStore(tmp_path / "root")

    for call in (
        lambda: store.put(relpath, b"x"),
        lambda: store.open(relpath),
        lambda: store.exists(relpath),
    ):
        with pytest.raises(ValueError):
            call()
    assert not (tmp_path / "outside.jpg").exists()


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"a file where a directory should be")
    store = FileStore(tmp_path)

    with pytest.raises(StoreError, match=r"evidence store not writable: .*blocker"):
        store.put("blocker/still.jpg", b"jpeg")


def test_full_disk_is_a_store_error_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)

    def no_space(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src)

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(StoreError) as caught:
        store.put("stills/1.jpg", b"jpeg")
    monkeypatch.undo()

    message = str(caught.value)
    assert message.startswith("evidence store full: no space left on device (")
    assert str(tmp_path / "stills/1.jpg") in message
    assert os.listdir(tmp_path / "stills") == []
