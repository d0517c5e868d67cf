"""Worker status files: written atomically, read back while fresh, old ones forgotten."""

from __future__ import annotations

import json
import logging
import os
import time

from recsys.recommend import beacon as beacon_mod
from recsys.recommend.beacon import Beacon, read_workers
from recsys.recommend.holder import ModelHolder


def test_beat_then_read(tmp_path):
    Beacon(tmp_path, "host-1").beat("v1", loaded_at=1_700_000_000.0)
    Beacon(tmp_path, "host-2").beat(None, error="model v2 could not be loaded: bad")
    got = read_workers(tmp_path, max_age_s=60)
    assert [w["worker"] for w in got] == ["host-1", "host-2"]
    assert got[0]["version"] == "v1" and got[0]["loaded_at"] == 1_700_000_000.0
    assert got[1]["version"] is None and "bad" in got[1]["error"]
    assert all(0 <= w["age_s"] < 60 and w["pid"] == os.getpid() for w in got)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host-1.json", "host-2.json"]


def test_a_new_beat_replaces_the_old_status(tmp_path):
    b = Beacon(tmp_path, "w")
    b.beat("v1")
    b.beat("v2")
    assert [w["version"] for w in read_workers(tmp_path, 60)] == ["v2"]


def test_stale_broken_and_missing(tmp_path):
    assert read_workers(tmp_path / "nowhere", 60) == []
    Beacon(tmp_path, "old").beat("v1")
    status = json.loads((tmp_path / "old.json").read_text())
    status["seen_at"] = time.time() - 120  # stopped reporting two minutes ago
    (tmp_path / "old.json").write_text(json.dumps(status))
    (tmp_path / "half.json").write_text('{"worker": "half", "seen')
    (tmp_path / "nosee.json").write_text('{"worker": "x"}')
    Beacon(tmp_path, "live").beat("v2")
    assert [w["worker"] for w in read_workers(tmp_path, 60)] == ["live"]
    assert [w["worker"] for w in read_workers(tmp_path, 600)] == ["live", "old"]


def test_files_of_long_gone_workers_are_deleted(tmp_path, monkeypatch):
    Beacon(tmp_path, "gone").beat("v1")
    past = time.time() - beacon_mod.FORGET_AFTER_S - 60
    os.utime(tmp_path / "gone.json", (past, past))
    Beacon(tmp_path, "new").beat("v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json"]


def test_remove(tmp_path):
    b = Beacon(tmp_path, "w")
    b.beat("v1")
    b.remove()
    b.remove()  # twice is fine
    assert read_workers(tmp_path, 60) == []


def test_unwritable_directory_only_logs(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, "recsys.recommend"):
        Beacon(blocker / "workers", "w").beat("v1")
    assert "could not write the worker status file" in caplog.text


def test_a_full_disk_leaves_no_temporary_files_and_warns_once(tmp_path, caplog, monkeypatch):

    b = Beacon(tmp_path, "w")
    b.beat("v1")
    real_replace = os.replace

    def full(src, dst):  # the temporary file got created, then the disk filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(beacon_mod.os, "replace", full)
    with caplog.at_level(logging.WARNING, "recsys.recommend"):
        for _ in range(5):
            b.beat("v2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json"]  # no .tmp left behind
    assert caplog.text.count("could not write the worker status file") == 1
    monkeypatch.setattr(beacon_mod.os, "replace", real_replace)
    b.beat("v2")  # space again: written, and a later failure warns again
    assert [w["version"] for w in read_workers(tmp_path, 60)] == ["v2"]
    assert not b._failing


def test_watcher_reports_the_version_it_serves(tmp_path, bundle_store):
    from tests.recommend.test_holder import _copy_store

    directory = tmp_path / "workers"
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0.05)
    holder.beacon = Beacon(directory, "w")
    holder.get()
    holder.watch()
    try:
        store.set_current("v2")  # the watcher switches and then says so

        def status():
            found = read_workers(directory, 60)
            return found[0] if found and found[0]["version"] == "v2" else None

        deadline = time.monotonic() + 10
        while status() is None:
            assert time.monotonic() < deadline, read_workers(directory, 60)
            time.sleep(0.02)
        assert status()["error"] is None and abs(status()["loaded_at"] - time.time()) < 60
    finally:
        holder.stop()


def test_a_slow_load_is_reported_while_it_runs(tmp_path, bundle_store, monkeypatch):
    import threading

    from recsys.recommend import holder as holder_module
    from tests.recommend.test_holder import _copy_store

    directory = tmp_path / "workers"
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=False)
    holder.beacon = Beacon(directory, "w")
    holder.get()
    release, real_open = threading.Event(), holder_module.ServingModel.open

    def slow_open(path, *args, **kwargs):
        release.wait(10)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(holder_module.ServingModel, "open", slow_open)
    store.set_current("v2")
    loader = threading.Thread(target=holder.refresh)
    loader.start()
    try:
        deadline = time.monotonic() + 10
        while not (found := read_workers(directory, 60)) or found[0]["loading"] != "v2":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert found[0]["version"] == "v1"  # still serving the old one meanwhile
    finally:
        release.set()
        loader.join(30)


def test_a_store_moved_away_is_not_recreated(tmp_path, caplog):
    store = tmp_path / "models"
    beacon = Beacon(store / "workers", "w")
    beacon.beat("v1")  # a fresh install: the first beat creates the store's directory
    store.rename(tmp_path / "models-away")  # an operator moves the store while serving
    with caplog.at_level(logging.WARNING, "recsys.recommend"):
        beacon.beat("v1")
        beacon.beat("v1")
    assert not store.exists()  # so `mv models-away models` restores it, not nests it
    assert caplog.text.count("could not write the worker status file") == 1
    (tmp_path / "models-away").rename(store)
    beacon.beat("v2")
    assert [w["version"] for w in read_workers(store / "workers", 60)] == ["v2"]
