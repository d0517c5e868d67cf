"""Rolling upgrade: bundles written by older code (no commit number) are ordered by what the
store knows of when they were committed, so ``prune`` never takes one for the oldest."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from recsys.index.bundle import MANIFEST, BundleWriter
from recsys.index.registry import promote, prune
from recsys.index.store import SEQUENCE_KEY, UNSEQUENCED_KEY, ModelStore, new_version_name
from tests.index.test_bundle_store import _write

START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def _write_old(store: ModelStore, version: str) -> None:
    """A bundle as a process of the code before the numbering writes it."""
    writer = BundleWriter(store.versions_dir, version)
    writer.add_array("vectors", [[1.0, 2.0]])
    writer.commit({"created_at": "2026-11-26T00:00:00Z"})


def _edit(store: ModelStore, version: str, mtime: float | None = None, **drop: bool) -> None:
    path = store.versions_dir / version / MANIFEST
    doc = json.loads(path.read_text())
    for key in drop:
        doc.pop(key, None)
    path.write_text(json.dumps(doc))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.mark.parametrize("clock_days", [3, -30], ids=["clock-right", "clock-set-back"])
def test_older_code_bundle_written_after_the_upgrade_is_kept(sqlite_engine, store, clock_days):
    first, second, third = (new_version_name(START + timedelta(days=d)) for d in range(3))
    for seed, version in enumerate((first, second, third)):
        _write(store, version, seed=seed)
    promote(sqlite_engine, store, first)
    promote(sqlite_engine, store, second)  # production; the rollback target is first
    late = new_version_name(START + timedelta(days=clock_days))
    _write_old(store, late)  # a worker not upgraded yet writes the newest bundle
    assert store.sequence(late) is None
    assert store.versions() == [first, second, third, late]
    assert prune(sqlite_engine, store, keep=1) == [third]
    assert store.versions() == [first, second, late]


def test_older_code_bundle_sorts_before_the_first_numbered_one_committed_after_it(store):
    first = new_version_name(START)
    _write(store, first)
    between = new_version_name(START + timedelta(days=365))  # its clock ran fast
    _write_old(store, between)
    last = new_version_name(START + timedelta(days=1))
    _write(store, last)
    assert store.versions() == [first, between, last]
    manifest = json.loads((store.path(last) / MANIFEST).read_text())
    assert manifest[UNSEQUENCED_KEY] == [between]


def test_bundles_numbered_by_code_that_listed_nothing_fall_back_to_the_clock(store):
    names = {n: new_version_name(START + timedelta(days=d)) for d, n in enumerate("abuw")}
    for name in "ab":  # numbered by the code before this store recorded older bundles
        _write(store, names[name])
    for name in "uw":
        _write_old(store, names[name])
    _edit(store, names["a"], mtime=100, **{UNSEQUENCED_KEY: True})
    _edit(store, names["b"], mtime=300, **{UNSEQUENCED_KEY: True})
    _edit(store, names["u"], mtime=400)
    _edit(store, names["w"], mtime=200)  # committed between a and b by its manifest's time
    assert store.versions() == [names[n] for n in "awbu"]


def test_unreadable_manifests_still_come_first(store):
    _write(store, "a")
    _write_old(store, "z")
    (store.path("a") / MANIFEST).write_text("{broken")
    _write(store, "b")
    assert store.versions() == ["a", "z", "b"]
    assert store.sequence("b") == 1 and SEQUENCE_KEY not in json.loads(
        (store.path("z") / MANIFEST).read_text())
