"""The holder builds a process's first model's external-id look-up in a thread of its own
right after the swap (never in the request that loaded it), and a later model's before its
swap only when requests used the served one's."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest

from recsys.recommend import external
from recsys.recommend.holder import ModelHolder
from tests.recommend.test_holder import _copy_store


@pytest.fixture
def store(bundle_store, tmp_path):
    store = _copy_store(bundle_store, tmp_path)
    store.set_current("v1")
    return store


@pytest.fixture
def builds(monkeypatch):
    """The name of the thread of each look-up build; ``gate`` holds builds until set."""
    seen: list[str] = []
    gate = threading.Event()
    gate.set()
    real = external.ExternalIds.__init__

    def init(self, model):
        seen.append(threading.current_thread().name)
        assert gate.wait(10)
        real(self, model)

    monkeypatch.setattr(external.ExternalIds, "__init__", init)
    return SimpleNamespace(threads=seen, gate=gate)


def _built(model, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while not model.has_external_ids and time.monotonic() < deadline:
        time.sleep(0.01)
    return model.has_external_ids


def _song(model, row=3):
    song = model.song(row)
    return song["source"], song["external_id"], int(model.song_ids[row])


def test_the_first_model_gets_its_look_up_in_another_thread(store, builds):
    builds.gate.clear()
    holder = ModelHolder(store, poll_seconds=0)
    model = holder.get()  # the first load, in this (the request's) thread
    assert model is not None and not model.has_external_ids  # the get did not wait for it
    builds.gate.set()
    assert _built(model) and not model.external_ids().used
    assert builds.threads == ["external-ids-v1"]  # named after the store's version
    assert threading.current_thread().name not in builds.threads
    source, external_id, song_id = _song(model)
    assert model.external_ids().get(source, [external_id, "nope"]) == [song_id, None]
    assert len(builds.threads) == 1  # the request used the one built


def test_a_later_model_gets_one_before_its_swap_only_when_requests_used_it(store, builds):
    holder = ModelHolder(store, poll_seconds=0, background=False)
    at_swap: list[bool] = []
    holder.swap_listeners.append(lambda m: at_swap.append(m.has_external_ids))
    first = holder.get()
    assert _built(first)
    store.set_current("v2")
    unused = holder.get()  # nothing asked the first model by external id
    assert unused is not first and not unused.has_external_ids and at_swap == [False, False]
    source, external_id, song_id = _song(unused)
    assert unused.external_ids().get(source, [external_id]) == [song_id]  # a request builds
    store.set_current("v3")
    used = holder.get()
    assert used is not unused and at_swap[-1] is True  # built by the load, before the swap
    assert used.external_ids().get(source, [external_id]) == [song_id]
    assert len(builds.threads) == 3 and holder.prebuilder.name == "external-ids-v1"


def test_a_failed_prebuild_is_logged_and_a_request_builds_it(store, monkeypatch, caplog):
    real, calls = external.ExternalIds.__init__, []

    def init(self, model):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("no room")
        real(self, model)

    monkeypatch.setattr(external.ExternalIds, "__init__", init)
    holder = ModelHolder(store, poll_seconds=0)
    with caplog.at_level(logging.ERROR, logger="recsys.recommend"):
        model = holder.get()
        holder.prebuilder.join(10)
    assert "external-id look-up of model" in caplog.text and "no room" in caplog.text
    assert holder.get() is model and not model.has_external_ids
    source, external_id, song_id = _song(model)
    assert model.external_ids().get(source, [external_id]) == [song_id]


def test_prebuilding_can_be_switched_off(store, builds):
    holder = ModelHolder(store, poll_seconds=0)
    holder.prebuild_external_ids = False
    model = holder.get()
    assert holder.prebuilder is None and not model.has_external_ids and builds.threads == []
