"""One model store belongs to one database (README walkthrough): a second database pointed at
the same store (``DATABASE_URL`` changed, ``RECSYS_VAR_DIR`` not) must not put its models
into production there, whose servers would answer song ids of another catalog."""

from __future__ import annotations

import json
import shutil

import pytest

from recsys.db import migrate
from recsys.index.owner import INSTALLATION_KEY, OWNER_FILE
from recsys.index.store import ModelStore

QUICK = ["--set", "epochs=5", "--set", "vector_size=8", "--set", "workers=1",
         "--backend", "exact"]


def _cli(app, *args: str, ok: bool = True):
    result = app.test_cli_runner().invoke(args=list(args))
    assert (result.exit_code == 0) == ok, result.output
    return result


def _database(make_app, url: str, seed: int, tmp_path, **overrides):
    """An app on ``url`` with sample playlists; every app shares tmp_path/var/models."""
    app = make_app(url, **overrides)
    config = tmp_path / "train.yaml"
    config.write_text("window: 3\nnegative: 5\nseed: 2\n")
    app.config["TRAIN_CONFIG"] = str(config)
    _cli(app, "sample", "--playlists", "300", "--seed", str(seed), "--no-progress")
    return app


def _fresh_url(tmp_path, name: str) -> str:
    """A database migrated from scratch: an installation id of its own (the test template's
    copies share one, as restored backups do)."""
    url = f"sqlite:///{tmp_path / name}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def first(make_app, sqlite_url, tmp_path):
    """The production database, with its model promoted into the shared store."""
    app = _database(make_app, sqlite_url, 4, tmp_path)
    _cli(app, "train", *QUICK, "--promote")
    return app


@pytest.fixture
def second(make_app, tmp_path):
    """Another database (another catalog) with the same var dir, hence the same store."""
    from tests.admin.conftest import PASSWORD, USER

    return _database(make_app, _fresh_url(tmp_path, "second.db"), 9, tmp_path,
                     ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)


def test_second_database_cannot_train_promote_or_prune_in_the_first_ones_store(first, second):
    store = ModelStore(first.config["MODEL_DIR"])
    assert store.owner() is not None  # bound by the first database's training
    (production,) = store.versions()
    owner = (store.root / OWNER_FILE).read_text()

    result = _cli(second, "train", *QUICK, "--promote", ok=False)
    assert f"the model store {store.root} belongs to another database" in result.output
    for advice in ("RECSYS_VAR_DIR", "RECSYS_MODEL_DIR", "models adopt-store --yes"):
        assert advice in result.output
    assert store.versions() == [production] and store.current_version() == production
    for args in (["promote", production], ["rollback"], ["models", "prune", "--keep", "1"],
                 ["retrain", *QUICK]):
        result = _cli(second, *args, ok=False)
        assert "belongs to another database" in result.output, args
        assert "Traceback" not in result.output
    assert store.versions() == [production] and store.current_version() == production
    assert (store.root / OWNER_FILE).read_text() == owner
    with second.app_context():  # nothing reached the second database but the refused night
        from sqlalchemy import func, select

        from recsys.db.models import ModelEvent, ModelVersion, TrainingRun
        from recsys.extensions import db

        with db.engine.connect() as conn:
            for table in (ModelVersion, ModelEvent):
                assert conn.scalar(select(func.count()).select_from(table)) == 0, table
            (run,) = conn.execute(select(TrainingRun.status, TrainingRun.error,
                                         TrainingRun.data_snapshot)).all()
        assert run.status == "failed" and run.data_snapshot == {"stage": "store"}
        assert run.error.startswith("nightly job refused, nothing imported or trained")
        assert "belongs to another database" in run.error
    # the first database goes on as before, and its manifests name it
    _cli(first, "train", *QUICK, "--promote")
    newest = store.current_version()
    assert newest != production
    manifest = store.open(newest, verify=False).manifest
    assert manifest[INSTALLATION_KEY] == json.loads(owner)[INSTALLATION_KEY]


def test_adopt_store_moves_the_store_to_a_recreated_database(first, second):
    store = ModelStore(first.config["MODEL_DIR"])
    (production,) = store.versions()
    _cli(first, "train", *QUICK)  # a bundle of the old catalog, never promoted
    (unpromoted,) = set(store.versions()) - {production}
    before = store.owner()

    refused = _cli(second, "models", "adopt-store", ok=False)  # not a terminal: needs --yes
    assert "add --yes" in refused.output and store.owner() == before
    adopted = _cli(second, "models", "adopt-store", "--yes")
    assert f"belongs to installation {before}" in adopted.output
    assert "now belongs to this database" in adopted.output
    assert f"the current model {production} was trained from the previous owner" in (
        adopted.output)
    assert store.owner() != before and store.current_version() == production
    again = _cli(second, "models", "adopt-store", "--yes")
    assert "already belongs to this database" in again.output

    # the old owner is refused now; the old owner's model is not the new catalog's
    assert "belongs to another database" in _cli(first, "rollback", ok=False).output
    foreign = _cli(second, "promote", unpromoted, ok=False)
    assert f"model {unpromoted} is not registered in this database" in foreign.output
    assert "trained from another database" in foreign.output
    assert "FOREIGN KEY" not in foreign.output
    _cli(second, "train", *QUICK, "--promote")
    assert store.current_version() != production
    assert "belongs to another database" in _cli(first, "train", *QUICK, ok=False).output


def test_restored_copy_of_the_database_keeps_its_store(first, make_app, tmp_path):
    store = ModelStore(first.config["MODEL_DIR"])
    (production,) = store.versions()
    _cli(first, "backup", str(tmp_path / "backup"))
    restored = tmp_path / "restored.db"
    shutil.copy(tmp_path / "backup" / "recsys.db", restored)
    app = make_app(f"sqlite:///{restored}")
    app.config["TRAIN_CONFIG"] = first.config["TRAIN_CONFIG"]
    _cli(app, "train", *QUICK, "--promote")
    assert store.current_version() not in (None, production)
    _cli(app, "rollback")
    assert store.current_version() == production


def test_an_unbound_store_of_older_code_is_bound_by_its_first_writer(first):
    store = ModelStore(first.config["MODEL_DIR"])
    (older,) = store.versions()
    mine = store.owner()
    (store.root / OWNER_FILE).unlink()  # as older code left it: no owner, manifests without id
    manifest_path = store.versions_dir / older / "manifest.json"
    doc = json.loads(manifest_path.read_text())
    del doc[INSTALLATION_KEY]
    manifest_path.write_text(json.dumps(doc))

    _cli(first, "train", *QUICK, "--promote")
    assert store.owner() == mine and store.current_version() != older
    _cli(first, "rollback")  # a bundle without the id stays valid
    assert store.current_version() == older


def test_dashboard_promotion_in_another_databases_store_is_refused(first, second):
    from tests.admin.conftest import login, submit_form

    store = ModelStore(first.config["MODEL_DIR"])
    (production,) = store.versions()
    client = second.test_client()
    login(client)
    resp = submit_form(client, f"/admin/models/{production}/promote")
    assert resp.status_code == 302
    html = client.get("/admin/models").get_data(as_text=True)
    assert "refused: the model store belongs to another database" in html
    assert str(store.root) not in html  # pages never show the server's directories
    assert store.current_version() == production


def test_a_store_shared_before_binding_is_refused_to_the_database_that_did_not_promote(
        first, second):
    """Two databases that shared a store under older code (no owner.json): the one whose
    model is not current must not bind it and switch production."""
    store = ModelStore(first.config["MODEL_DIR"])
    (production,) = store.versions()
    (store.root / OWNER_FILE).unlink()
    result = _cli(second, "train", *QUICK, "--promote", ok=False)
    assert f"its current model {production} is not registered in this database" in (
        result.output)
    assert "models adopt-store --yes" in result.output
    assert store.owner() is None and store.versions() == [production]
    _cli(first, "train", *QUICK)  # the database that promoted it binds it
    assert store.owner() is not None and store.current_version() == production
