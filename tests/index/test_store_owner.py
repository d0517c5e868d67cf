"""The model store's owner record (``owner.json``) and the registry's refusals, without
training (planted bundles)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import text

from recsys.db.models import TrainingRun
from recsys.db.session import session_scope
from recsys.index.bundle import BundleError
from recsys.index.owner import INSTALLATION_KEY, OWNER_FILE, StoreOwnedError
from recsys.index.registry import bind_store, promote, prune, register
from recsys.index.store import ModelStore


def _bundle(store: ModelStore, version: str, **manifest) -> str:
    writer = store.writer(version)
    writer.add_array("song_ids", np.arange(3, dtype=np.int64))
    writer.commit(manifest)
    return version


def _installation(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT installation_id FROM installation"))


def test_first_writer_binds_an_unbound_store_and_its_manifests_name_it(sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    _bundle(store, "legacy")  # older code: no owner, no id in the manifest
    assert store.owner() is None
    mine = bind_store(sqlite_engine, store)
    assert mine == _installation(sqlite_engine) and store.owner() == mine
    doc = json.loads((store.root / OWNER_FILE).read_text())
    assert doc[INSTALLATION_KEY] == mine and doc["bound_at"].endswith("Z")
    _bundle(store, "v2")
    assert store.open("v2", verify=False).manifest[INSTALLATION_KEY] == mine
    assert INSTALLATION_KEY not in store.open("legacy", verify=False).manifest
    promote(sqlite_engine, store, "legacy")  # still valid
    promote(sqlite_engine, store, "v2")
    assert store.current_version() == "v2"
    assert not list(store.root.glob(".owner-*"))  # the temporary file is gone


def test_another_databases_store_refuses_everything_and_writes_nothing(sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    (store.root).mkdir()
    (store.root / OWNER_FILE).write_text(json.dumps({INSTALLATION_KEY: "someone-else"}))
    _bundle(store, "theirs")
    store.set_current("theirs")
    listing = sorted(p.name for p in store.root.rglob("*"))
    for call in (lambda: bind_store(sqlite_engine, store),
                 lambda: register(sqlite_engine, store, "theirs"),
                 lambda: promote(sqlite_engine, store, "theirs"),
                 lambda: prune(sqlite_engine, store, 1)):
        with pytest.raises(StoreOwnedError) as caught:
            call()
        assert "belongs to another database (installation someone-else" in str(caught.value)
        assert str(store.root) in str(caught.value)
        assert str(store.root) not in store.without_paths(caught.value)
    listed_after = sorted(p.name for p in store.root.rglob("*") if "lock" not in p.name)
    assert listed_after == [n for n in listing if "lock" not in n]
    assert store.current_version() == "theirs"


def test_a_commit_checks_the_owner_again(sqlite_engine, tmp_path):
    """Adopted by another database while a job trained: its bundle is not committed."""
    store = ModelStore(tmp_path / "models")
    bind_store(sqlite_engine, store)
    ModelStore(store.root).adopt("the-new-owner")
    with pytest.raises(StoreOwnedError):
        _bundle(store, "late")
    assert store.versions() == []


def test_unreadable_owner_record_is_a_clear_error_that_adopting_repairs(sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    store.root.mkdir()
    (store.root / OWNER_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="cannot read the model store's owner"):
        bind_store(sqlite_engine, store)
    assert store.adopt(_installation(sqlite_engine)) is None
    bind_store(sqlite_engine, store)


def test_a_bundle_whose_training_run_is_not_in_the_database_is_refused_clearly(
        sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    _bundle(store, "stray", training_run_id=4242)  # no id: older code, another database
    with pytest.raises(BundleError, match="its training run 4242 is not in this database"):
        promote(sqlite_engine, store, "stray")
    assert store.current_version() is None
    with session_scope(sqlite_engine) as session:
        session.add(TrainingRun(id=4242, status="succeeded"))
    promote(sqlite_engine, store, "stray")
    assert store.current_version() == "stray"


def test_a_dry_run_prune_leaves_an_unbound_store_unbound(sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    for version in ("old", "older", "new"):
        _bundle(store, version)  # older code: no owner record
    assert prune(sqlite_engine, store, 1, dry_run=True) == ["old", "older"]
    assert store.owner() is None and not (store.root / OWNER_FILE).exists()
    assert store.versions() == ["old", "older", "new"]
    assert prune(sqlite_engine, store, 1) == ["old", "older"]  # the real one binds it
    assert store.owner() == _installation(sqlite_engine)


def test_a_dry_run_prune_of_another_databases_store_is_refused(sqlite_engine, tmp_path):
    store = ModelStore(tmp_path / "models")
    store.root.mkdir()
    (store.root / OWNER_FILE).write_text(json.dumps({INSTALLATION_KEY: "someone-else"}))
    _bundle(store, "theirs")
    with pytest.raises(StoreOwnedError):
        prune(sqlite_engine, store, 1, dry_run=True)
