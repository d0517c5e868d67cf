"""The rollback target when the ``current`` link is ahead of the recorded history."""

from __future__ import annotations

import pytest

from recsys.index.registry import (
    promote,
    promotion_stack,
    reconcile,
    rollback,
    rollback_target,
)
from recsys.index.store import ModelStore
from tests.index.test_bundle_store import _write


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine  # SQLite only: what is tested is the store, not the database


@pytest.fixture
def store(tmp_path):
    store = ModelStore(tmp_path / "models")
    for i, version in enumerate(["v1", "v2", "v3", "v4"]):
        _write(store, version, seed=i)
    return store


def _killed_before_commit(monkeypatch, engine, store, switch) -> None:
    """Run ``switch`` and kill it (Ctrl-C) right after the link is switched, before its
    history row is committed."""
    real = ModelStore.set_current

    def switched_then_killed(self, version):
        real(self, version)
        raise KeyboardInterrupt

    monkeypatch.setattr(ModelStore, "set_current", switched_then_killed)
    with pytest.raises(KeyboardInterrupt):
        switch(engine, store)
    monkeypatch.undo()


def test_a_promotion_killed_before_its_row_still_has_its_rollback_target(engine, store,
                                                                          monkeypatch):
    promote(engine, store, "v1")
    promote(engine, store, "v2")
    _killed_before_commit(monkeypatch, engine, store, lambda e, s: promote(e, s, "v3"))
    assert store.current_version() == "v3" and promotion_stack(engine) == ["v1", "v2"]
    assert rollback_target(engine, store) == "v2"  # what the dashboard offers
    assert promotion_stack(engine) == ["v1", "v2"]  # reading wrote nothing
    assert rollback(engine, store, expected_target="v2") == "v2"
    assert store.current_version() == "v2" and rollback_target(engine, store) == "v1"


def test_a_rollback_killed_before_its_row_targets_the_one_below(engine, store, monkeypatch):
    for version in ("v1", "v2", "v3"):
        promote(engine, store, version)
    _killed_before_commit(monkeypatch, engine, store, rollback)
    assert store.current_version() == "v2"
    assert rollback_target(engine, store) == "v1"


@pytest.mark.parametrize("link", ["v1", "v2", "v4"])
def test_the_target_before_reconciling_is_the_one_after(engine, store, link):
    """Whatever the link was switched to without its row, reading the target agrees with
    what the next switch (or prune, or a job) records."""
    for version in ("v1", "v2", "v3"):
        promote(engine, store, version)
    store.set_current(link)  # the switch of a killed process, no row
    before = rollback_target(engine, store)
    with store.switch_lock():
        assert reconcile(engine, store)
    assert rollback_target(engine, store) == before
    assert before == {"v1": "v3", "v2": "v1", "v4": "v3"}[link]  # v2: taken for a rollback


def test_a_link_set_by_hand_before_any_history_has_no_target(engine, store):
    store.set_current("v2")
    assert rollback_target(engine, store) is None
    promote(engine, store, "v3")
    assert rollback_target(engine, store) == "v2"
