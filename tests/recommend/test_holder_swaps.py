"""The model holder across operator accidents and quick successive swaps.

Found by ``bench/swap_under_load.py``: a worker that failed to load the current bundle (deleted
or moved while it restarted) never tried again once it was back, and served 503s until the next
promotion; a load overtaken by a rollback was still swapped in.
"""

from __future__ import annotations

import errno
import threading

from recsys.index.store import ModelStore
from recsys.recommend import holder as holder_module
from recsys.recommend.holder import ModelHolder
from tests.recommend.test_holder import _copy_store


def test_a_bundle_back_after_a_failed_load_is_served(bundle_store, tmp_path):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    bundle, aside = store.versions_dir / "v1", store.versions_dir / ".aside-v1"
    bundle.rename(aside)  # the current bundle is gone while a worker starts
    holder = ModelHolder(store, poll_seconds=30, background=False)
    assert holder.get() is None and "v1" in holder.last_error
    assert holder.get() is None  # nothing changed: not tried again before the back-off
    aside.rename(bundle)  # restored
    holder._checked = 0.0  # the next check is due
    model = holder.get()
    assert model is not None and model.bundle.path.name == "v1"
    assert holder.last_error is None


def test_a_transient_load_error_is_retried_after_a_back_off(bundle_store, tmp_path,
                                                              monkeypatch):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=5, background=False)
    real_open, calls = holder_module.ServingModel.open, []

    def failing_once(path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path)

    monkeypatch.setattr(holder_module.ServingModel, "open", failing_once)
    now = [1000.0]
    monkeypatch.setattr(holder_module.time, "monotonic", lambda: now[0])
    assert holder.get() is None and "Too many open files" in holder.last_error
    now[0] += 4  # within the back-off (poll_seconds after one failure): no new attempt
    holder.refresh()
    assert len(calls) == 1 and holder.model is None
    now[0] += 2
    holder.refresh()
    assert len(calls) == 2 and holder.model is not None and holder.last_error is None


def _broken_bundle(bundle_store, tmp_path, monkeypatch, poll_seconds):
    """A holder whose current bundle never loads (EIO), on a clock the test moves; returns
    the holder, the list of load attempts and the clock."""
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=poll_seconds, background=False)
    calls = []

    def broken(path):
        calls.append(path)
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(holder_module.ServingModel, "open", broken)
    now = [1000.0]
    monkeypatch.setattr(holder_module.time, "monotonic", lambda: now[0])
    return holder, calls, now


def test_the_back_off_doubles_up_to_a_cap(bundle_store, tmp_path, monkeypatch):
    holder, calls, now = _broken_bundle(bundle_store, tmp_path, monkeypatch, 1)
    attempts = []
    for _ in range(400):  # 400 s of checks, one a second
        holder.refresh()
        attempts.append(len(calls))
        now[0] += 1
    tried_at = [i for i in range(1, len(attempts)) if attempts[i] > attempts[i - 1]]
    gaps = [b - a for a, b in zip(tried_at, tried_at[1:], strict=False)]
    assert gaps[:5] == [2, 4, 8, 16, 32]
    assert set(gaps[6:]) == {holder_module.RETRY_MAX_S}


def _switch_while_v2_loads(holder, store, monkeypatch, switch_to):
    """Promote v2, and set ``switch_to`` current while v2 loads (a big bundle: the operator
    rolls back or promotes again meanwhile); returns when that load has ended."""
    release, started = threading.Event(), threading.Event()
    real_open = holder_module.ServingModel.open

    def slow_open(path):
        if path.name == "v2":
            started.set()
            release.wait(10)
        return real_open(path)

    monkeypatch.setattr(holder_module.ServingModel, "open", slow_open)
    store.set_current("v2")
    loading = threading.Thread(target=holder.refresh)
    loading.start()
    assert started.wait(10)
    store.set_current(switch_to)
    holder.refresh()  # a check meanwhile starts no second load
    release.set()
    loading.join(10)


def test_a_load_overtaken_by_a_rollback_is_not_swapped_in(bundle_store, tmp_path, monkeypatch):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=False)
    first = holder.get()
    _switch_while_v2_loads(holder, store, monkeypatch, "v1")  # rollback: v1 is served already
    assert holder.model is first  # v2 was never served
    assert holder.get() is first


def test_a_later_promotion_is_loaded_after_an_overtaken_load(bundle_store, tmp_path,
                                                             monkeypatch):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    holder = ModelHolder(store, poll_seconds=0, background=False)
    holder.get()
    _switch_while_v2_loads(holder, store, monkeypatch, "v3")
    assert holder.model.bundle.path.name == "v1"  # v2 dropped: v3 is current
    assert holder.get().bundle.path.name == "v3"  # the next check loads v3


def test_nothing_current_keeps_no_model(tmp_path):
    holder = ModelHolder(ModelStore(tmp_path / "none"), poll_seconds=0, background=False)
    assert holder.get() is None and holder.last_error is None


def test_the_back_off_survives_a_bundle_broken_for_days(bundle_store, tmp_path, monkeypatch):
    holder, calls, now = _broken_bundle(bundle_store, tmp_path, monkeypatch, 2.0)
    for _ in range(1_100):  # 18 hours of attempts a minute apart
        holder.refresh()  # raised OverflowError (2.0 * 2**1024) from the 1,025th on
        now[0] += holder_module.RETRY_MAX_S
    assert len(calls) == 1_100 and holder.model is None
