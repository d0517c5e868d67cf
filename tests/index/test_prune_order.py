"""``prune`` keeps the bundles written last, whatever the clock said when they were named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from recsys.index.registry import promote, prune
from recsys.index.store import SEQUENCE_KEY, ModelStore, new_version_name
from tests.index.test_bundle_store import _write

START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine  # SQLite only: what is tested is the store, not the database


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def test_a_fresh_candidate_named_by_a_clock_gone_back_is_kept(engine, store):
    first, second, third = (new_version_name(START + timedelta(days=d)) for d in range(3))
    for seed, version in enumerate((first, second, third)):
        _write(store, version, seed=seed)
    promote(engine, store, first)
    promote(engine, store, second)  # production; the rollback target is first
    fresh = new_version_name(START - timedelta(days=30))  # the clock was reset meanwhile
    _write(store, fresh, seed=3)
    assert store.versions() == [first, second, third, fresh]
    assert prune(engine, store, keep=1, dry_run=True) == [third]
    assert prune(engine, store, keep=1) == [third]
    assert store.versions() == [first, second, fresh]


def test_bundles_of_older_code_come_first_by_name(store):
    old_late, old_early = new_version_name(START), new_version_name(START - timedelta(days=1))
    for version in (old_late, old_early):
        _write(store, version)
        manifest = store.path(version) / "manifest.json"  # as written before the numbering
        doc = json.loads(manifest.read_text())
        del doc[SEQUENCE_KEY]
        manifest.write_text(json.dumps(doc))
    new = new_version_name(START - timedelta(days=400))
    _write(store, new)
    assert store.sequence(new) == 1 and store.sequence(old_late) is None
    assert store.versions() == [old_early, old_late, new]


def test_numbers_continue_after_the_newest_bundle(store):
    _write(store, "b")
    _write(store, "a")
    (store.path("b") / "manifest.json").write_text("{broken")  # unreadable: unnumbered
    _write(store, "c")
    assert [store.sequence(v) for v in ("a", "b", "c")] == [2, None, 3]
    assert store.versions() == ["b", "a", "c"]
