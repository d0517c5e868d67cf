"""Security walk of ``backup``: a failed backup removes only what it wrote, and links in the
model store are copied as links (never the files they point at)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from recsys.index.bundle import MANIFEST
from recsys.jobs.backup import BackupError, backup
from recsys.jobs.nightly import job_lock


@contextmanager
def _backup_waiting(engine, store, dest, wait_s: float,
                    lock_until_it_gives_up: bool) -> Iterator[list[BaseException]]:
    """A backup into ``dest`` waiting for the nightly job's lock (held in the block) in a
    thread; yields once ``dest`` exists, with the list that gets its error. The lock is held
    until the backup gives up waiting, or released as the block ends."""
    store.root.mkdir(parents=True)
    errors: list[BaseException] = []

    def late() -> None:
        try:
            backup(engine, store, dest, wait_s=wait_s)
        except BaseException as exc:  # noqa: BLE001 - checked by the caller
            errors.append(exc)

    with job_lock(store.root / "retrain.lock"):
        worker = threading.Thread(target=late)
        worker.start()
        for _ in range(100):  # DEST is made before the lock is waited for
            if dest.is_dir():
                break
            time.sleep(0.02)
        try:
            yield errors
        finally:
            if lock_until_it_gives_up:
                worker.join()
    worker.join()


def test_a_failed_backup_leaves_files_it_did_not_write(small_db, store, tmp_path):
    """Two backups into one DEST (a cron overlap) both find it empty, then wait for the nightly
    job: whatever lands there meanwhile (the other backup's files) must survive this one's
    failure."""
    dest = tmp_path / "today"
    with _backup_waiting(small_db, store, dest, wait_s=1.5,
                         lock_until_it_gives_up=True) as errors:
        (dest / "recsys.db").write_text("the other backup's dump")
    assert errors and isinstance(errors[0], BackupError)
    assert (dest / "recsys.db").read_text() == "the other backup's dump"


def test_a_destination_filled_while_waiting_is_refused_and_kept(small_db, store, tmp_path):
    dest = tmp_path / "today"
    with _backup_waiting(small_db, store, dest, wait_s=30,
                         lock_until_it_gives_up=False) as errors:
        (dest / "backup.json").write_text("{}")
        (dest / "models").mkdir()
        (dest / "models" / "keep").write_text("x")
    assert errors and "not an empty directory" in str(errors[0])
    assert (dest / "backup.json").read_text() == "{}"
    assert (dest / "models" / "keep").read_text() == "x"


def test_links_in_the_model_store_are_copied_as_links(small_db, store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / MANIFEST).write_text(json.dumps({"version": "v2"}))
    (outside / "big.bin").write_text("a whole other tree")
    bundle = store.versions_dir / "v1"
    bundle.mkdir(parents=True)
    (bundle / MANIFEST).write_text(json.dumps({"version": "v1"}))
    os.symlink(secret, bundle / "vectors.npy")
    os.symlink(outside, store.versions_dir / "v2")
    dest = tmp_path / "b"
    report = backup(small_db, store, dest)
    assert report.models == ["v1", "v2"]
    copied = dest / "models" / "versions"
    assert (copied / "v1" / "vectors.npy").is_symlink()
    assert os.readlink(copied / "v1" / "vectors.npy") == str(secret)
    assert (copied / "v2").is_symlink()  # the link, not a copy of the tree it names


def test_backup_still_cleans_up_its_own_files(small_db, store, tmp_path, monkeypatch):
    from recsys.jobs import backup as module

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "_copy_models", broken)
    store.root.mkdir(parents=True)
    with pytest.raises(BackupError, match="disk full"):
        backup(small_db, store, tmp_path / "b")
    assert not (tmp_path / "b").exists()
    (tmp_path / "c").mkdir()
    with pytest.raises(BackupError, match="disk full"):
        backup(small_db, store, tmp_path / "c")
    assert (tmp_path / "c").is_dir() and not any((tmp_path / "c").iterdir())
