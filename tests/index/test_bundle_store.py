"""Model bundles: checksums, atomic commit; the store's current link; promotion history."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.index import build_index
from recsys.index.bundle import Bundle, BundleError
from recsys.index.registry import list_models, promote, promotion_stack, rollback
from recsys.index.store import ModelStore


def _write(store: ModelStore, version: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    writer = store.writer(version)
    writer.add_array("vectors", vectors)
    writer.add_strings("titles", [f"song {i} é" for i in range(50)])
    writer.add_index("similar", build_index("exact", vectors, "cosine"))
    writer.commit({"created_at": "2026-11-26T00:00:00Z", "metrics": {"hr@10": 0.1 + seed}})


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def test_bundle_roundtrip(store):
    _write(store, "v1")
    bundle = store.open("v1")
    assert bundle.version == "v1"
    assert bundle.array("vectors").shape == (50, 8)
    assert bundle.strings("titles")[3] == "song 3 é"
    assert len(bundle.strings("titles")) == 50
    positions, _ = bundle.index("similar").query_item(0, k=5)
    assert len(positions) == 5 and 0 not in positions
    assert set(bundle.manifest["files"]) >= {"vectors.npy", "titles.blob.npy"}


def test_corrupt_bundle_is_refused(store):
    _write(store, "v1")
    path = store.path("v1") / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch for vectors.npy"):
        store.open("v1")


def test_missing_file_is_refused(store):
    _write(store, "v1")
    (store.path("v1") / "titles.offsets.npy").unlink()
    with pytest.raises(BundleError, match="missing"):
        Bundle.open(store.path("v1"))


def test_aborted_write_leaves_nothing_visible(store):
    writer = store.writer("v9")
    writer.add_array("vectors", np.zeros((2, 2)))
    assert store.versions() == []
    writer.abort()
    assert not any(store.versions_dir.iterdir())


def test_files_removed_before_commit_abort_it(store):
    import shutil

    writer = store.writer("v9")
    writer.add_array("vectors", np.zeros((2, 2)))
    shutil.rmtree(writer.path)  # another process cleaned the temporary directory meanwhile
    writer.path.mkdir()  # and a later save re-created it, empty
    writer.add_json("manifest_extra", {"a": 1})
    with pytest.raises(BundleError, match="vanished before commit"):
        writer.commit({"created_at": "2026-11-27T00:00:00Z"})
    assert store.versions() == [] and not any(store.versions_dir.iterdir())


def test_crashed_write_is_ignored_and_cleaned(store):
    writer = store.writer("v9")
    writer.add_array("vectors", np.zeros((2, 2)))  # never committed: a crash
    assert store.versions() == []
    assert store.clean_temporary() == 1


def test_duplicate_and_bad_version_names(store):
    _write(store, "v1")
    with pytest.raises(BundleError, match="already exists"):
        store.writer("v1")
    with pytest.raises(BundleError, match="invalid"):
        store.writer("../evil")


def test_current_link_switches(store):
    _write(store, "v1")
    _write(store, "v2")
    assert store.current_version() is None
    store.set_current("v1")
    assert store.current_version() == "v1"
    store.set_current("v2")
    assert store.current_version() == "v2"
    assert (store.current_link / "manifest.json").is_file()
    with pytest.raises(BundleError):
        store.set_current("nope")
    assert store.current_version() == "v2"


def test_promote_and_rollback_with_history(engine, store):
    for i, version in enumerate(["v1", "v2", "v3"]):
        _write(store, version, seed=i)
    assert promote(engine, store, "v1", actor="test") is None
    assert promote(engine, store, "v2") == "v1"
    assert promote(engine, store, "v3") == "v2"
    assert promotion_stack(engine) == ["v1", "v2", "v3"]
    assert rollback(engine, store) == "v2"
    assert store.current_version() == "v2"
    assert rollback(engine, store) == "v1"
    with pytest.raises(BundleError, match="nothing to roll back"):
        rollback(engine, store)
    assert store.current_version() == "v1"
    rows = list_models(engine, store)
    assert [r["version"] for r in rows] == ["v3", "v2", "v1"]
    assert [r["current"] for r in rows] == [False, False, True]


def test_promoting_a_corrupt_bundle_keeps_the_current_one(engine, store):
    _write(store, "v1")
    _write(store, "v2")
    promote(engine, store, "v1")
    manifest = store.path("v2") / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"]["vectors.npy"] = "0" * 64
    manifest.write_text(json.dumps(doc))
    with pytest.raises(BundleError):
        promote(engine, store, "v2")
    assert store.current_version() == "v1"
    assert promotion_stack(engine) == ["v1"]


def test_a_failed_history_commit_puts_the_old_version_back(engine, store, monkeypatch):
    from sqlalchemy.orm import Session

    _write(store, "v1")
    _write(store, "v2")
    promote(engine, store, "v1")

    def lost(self):
        raise OSError("database went away")

    monkeypatch.setattr(Session, "commit", lost)
    with pytest.raises(OSError, match="went away"):
        promote(engine, store, "v2")
    monkeypatch.undo()
    assert store.current_version() == "v1" and promotion_stack(engine) == ["v1"]


def test_switching_current_never_leaves_it_missing(store, monkeypatch):
    import os

    _write(store, "v1")
    _write(store, "v2")
    store.set_current("v1")
    seen = []
    real = os.replace

    def watching(src, dst):  # the moment of the switch: the old link must still be there
        seen.append(store.current_version())
        return real(src, dst)

    monkeypatch.setattr(os, "replace", watching)
    store.set_current("v2")
    assert seen == ["v1"] and store.current_version() == "v2"

    def crash(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.set_current("v1")
    assert store.current_version() == "v2"  # a crash mid-switch keeps the old link


def test_version_names_sort_by_creation_within_one_second():
    """``prune`` and ``versions()`` take the newest by name: bundles made in the same second
    (fast trainings) must still sort in creation order, whatever their random suffixes."""
    from datetime import UTC, datetime, timedelta

    from recsys.index.store import new_version_name

    start = datetime(2026, 11, 27, 17, 22, 14, tzinfo=UTC)
    names = [new_version_name(start + timedelta(microseconds=250 * i)) for i in range(200)]
    assert sorted(names) == names and len(set(names)) == 200
