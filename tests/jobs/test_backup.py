"""``backup``: a consistent copy of the database and the bundles, and the restore the README
describes (a drill on SQLite and PostgreSQL: back up, change, lose everything, restore)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import func, select, text

from recsys.db.models import ModelEvent, Playlist, PlaylistItem, Song
from recsys.db.session import make_engine, session_scope
from recsys.index.registry import promote, promotion_stack
from recsys.index.store import ModelStore
from recsys.jobs.backup import BackupError, backup, read_report
from recsys.jobs.nightly import job_lock
from recsys.jobs.training import train_and_bundle
from recsys.recommend.model import ServingModel
from tests.jobs.test_cli import QUICK
from tests.pgserver import find_pg_bin


def _counts(engine) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(t))
                     for t in (Song, Playlist, PlaylistItem, ModelEvent))


def _trained(engine, store, settings) -> str:
    version = train_and_bundle(engine, store, settings, backend="exact").version
    promote(engine, store, version, actor="test")
    return version


def _restore_database(url: str, backup_dir, pg_server) -> str:
    """Restore as the README says, into a new database: its URL."""
    if url.startswith("sqlite"):
        target = backup_dir.parent / f"restored-{uuid.uuid4().hex[:6]}.db"
        shutil.copy(backup_dir / "recsys.db", target)
        return f"sqlite:///{target}"
    name = f"restored_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    restored = pg_server.url(name)
    conninfo = restored.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([find_pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "--dbname",
                    conninfo, str(backup_dir / "recsys.dump")], check=True)
    return restored


def test_backup_and_restore_drill(sample_engine, db_url, store, quick_settings, tmp_path,
                                  request):
    first = _trained(sample_engine, store, quick_settings)
    before = _counts(sample_engine)
    report = backup(sample_engine, store, tmp_path / "backup")
    saved = read_report(tmp_path / "backup")
    assert saved["current_model"] == report.current_model == first
    assert saved["models"] == [first] and saved["schema_revision"] == report.schema_revision
    assert saved["counts"]["songs"] == before[0] and saved["counts"]["model_versions"] == 1
    assert not (tmp_path / "backup" / "models" / "retrain.lock").exists()  # data only

    second = _trained(sample_engine, store, quick_settings)  # life goes on after the backup
    assert second != first and store.current_version() == second
    shutil.rmtree(store.root)  # ... until the disk is lost

    pg = request.getfixturevalue("pg_server") if db_url.startswith("postgresql") else None
    restored_url = _restore_database(db_url, tmp_path / "backup", pg)
    restored_store = ModelStore(tmp_path / "restored-models")
    shutil.copytree(tmp_path / "backup" / "models", restored_store.root, symlinks=True)
    engine = make_engine(restored_url)
    try:
        assert _counts(engine) == before  # the catalog and the history as they were
        assert restored_store.current_version() == first  # the link moved with the copy
        assert promotion_stack(engine) == [first]
        model = ServingModel.open(restored_store.path(first))  # checksums verified
        assert len(model) > 0
        third = _trained(engine, restored_store, quick_settings)  # and the pipeline goes on
        assert promotion_stack(engine) == [first, third]
    finally:
        engine.dispose()


def test_backup_waits_for_the_nightly_job_and_leaves_nothing_on_failure(
        small_db, store, tmp_path):
    store.root.mkdir(parents=True)
    with job_lock(store.root / "retrain.lock"), pytest.raises(
            BackupError, match="another job holds .* nothing was backed up"):
        backup(small_db, store, tmp_path / "b1", wait_s=1.2)
    assert not (tmp_path / "b1").exists()
    (tmp_path / "b2").mkdir()
    (tmp_path / "b2" / "old.txt").write_text("x")
    with pytest.raises(BackupError, match="not an empty directory"):
        backup(small_db, store, tmp_path / "b2")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "b4").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BackupError, match="is a symbolic link"):
        backup(small_db, store, tmp_path / "b4")
    assert (tmp_path / "elsewhere").stat().st_mode & 0o777 != 0o700  # left as it was
    umask = os.umask(0o022)
    os.umask(umask)
    report = backup(small_db, store, tmp_path / "b3")  # no model yet: the database alone
    assert report.current_model is None and report.models == []
    assert (tmp_path / "b3" / "recsys.db").stat().st_size > 0
    # owner only: the dump holds the catalog, the run history and the dashboard's sessions
    assert (tmp_path / "b3").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "b3" / "recsys.db").stat().st_mode & 0o077 == 0
    assert os.umask(umask) == umask  # the process's umask is restored


def test_backup_command_and_restore_as_documented(loaded, runner, tmp_path):
    from recsys import create_app
    from recsys.config import TestConfig

    assert runner.invoke(args=["train", *QUICK, "--backend", "exact", "--promote"]
                         ).exit_code == 0
    result = runner.invoke(args=["backup", str(tmp_path / "nightly-backup")])
    assert result.exit_code == 0, result.output
    assert "backup in " in result.output and "1 model bundle(s), current " in result.output
    again = runner.invoke(args=["backup", str(tmp_path / "nightly-backup")])
    assert again.exit_code == 1 and "not an empty directory" in again.output
    # restore: the database file and the models directory copied back (symlinks kept)
    (tmp_path / "restore").mkdir()
    shutil.copy(tmp_path / "nightly-backup" / "recsys.db", tmp_path / "restore" / "recsys.db")
    shutil.copytree(tmp_path / "nightly-backup" / "models", tmp_path / "restore" / "models",
                    symlinks=True)
    app = create_app(TestConfig(DATABASE_URL=f"sqlite:///{tmp_path / 'restore' / 'recsys.db'}",
                                VAR_DIR=str(tmp_path / "restore"),
                                MODEL_DIR=str(tmp_path / "restore" / "models")))
    ready = app.test_client().get("/api/ready").get_json()
    assert ready["status"] == "ready" and ready["model_version"] == read_report(
        tmp_path / "nightly-backup")["current_model"]
    verify = app.test_cli_runner().invoke(args=["models", "--verify"])
    current = read_report(tmp_path / "nightly-backup")["current_model"]
    assert verify.exit_code == 0 and f"* {current}" in verify.output, verify.output
    assert "verified 1 bundle(s): all intact" in verify.output
