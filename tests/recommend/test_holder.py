"""The model holder swaps to a newly promoted version and survives a corrupt one."""

from __future__ import annotations

import shutil

from recsys.index.store import ModelStore
from recsys.recommend.holder import ModelHolder


def _copy_store(bundle_store, tmp_path) -> ModelStore:
    store = ModelStore(tmp_path / "models")
    src = bundle_store.path(bundle_store.versions()[0])
    for name in ("v1", "v2", "v3"):
        shutil.copytree(src, store.versions_dir / name)
    return store


def test_nothing_promoted_means_no_model(tmp_path):
    assert ModelHolder(ModelStore(tmp_path), poll_seconds=0).get() is None


def test_picks_up_a_promotion(bundle_store, tmp_path):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=False)
    old = holder.get()
    assert old is not None and old.version is not None
    store.set_current("v2")
    new = holder.get()
    assert new is not old
    assert holder.get() is new  # loaded once


def test_background_reload_keeps_serving_old_until_ready(bundle_store, tmp_path, monkeypatch):
    import threading
    import time

    from recsys.recommend import holder as holder_module

    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=True)
    first = holder.get()
    release, real_open = threading.Event(), holder_module.ServingModel.open

    def slow_open(path):  # a big bundle that takes a while to load
        release.wait(10)
        return real_open(path)

    monkeypatch.setattr(holder_module.ServingModel, "open", slow_open)
    store.set_current("v2")
    started = time.monotonic()
    during = holder.get()  # starts the load in the background and answers at once
    assert during is first and time.monotonic() - started < 1.0
    assert holder.get() is first  # still loading: requests keep the old model
    release.set()
    deadline = time.monotonic() + 10
    while holder.model.bundle.path.name != "v2" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder.model.bundle.path.name == "v2"


def test_corrupt_version_keeps_old_model(bundle_store, tmp_path):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=False)
    old = holder.get()
    (store.path("v3") / "in_vectors.npy").write_bytes(b"garbage")
    store.set_current("v3")
    assert holder.get() is old
    assert "v3" in holder.last_error and "checksum" in holder.last_error


def test_the_watcher_switches_an_idle_holder(bundle_store, tmp_path):
    import time

    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0.05)
    holder.get()
    watcher = holder.watch()
    assert watcher.daemon
    store.set_current("v2")  # no request arrives; the watcher loads it anyway
    deadline = time.monotonic() + 10
    while holder.model.bundle.path.name != "v2" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert holder.model.bundle.path.name == "v2"
    holder.stop()
    watcher.join(5)
    assert not watcher.is_alive()
    assert ModelHolder(store, poll_seconds=0).watch() is None  # polling off: no thread
