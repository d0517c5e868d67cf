"""README "Upgrading" takes a backup before ``db upgrade``: the new code's ``backup`` must
accept the older schema it is about to migrate (the replaced release may have no ``backup``),
and the restored copy upgrades like the original."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import text

from recsys.db import migrate
from recsys.db.session import make_engine

BEFORE_0006 = "0005"  # the last revision of the release before songs.available


def _old_database(db_url: str) -> None:
    """``db_url`` at the older release's schema, with one song it imported."""
    migrate.downgrade(db_url, BEFORE_0006)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO songs (source, external_id, title, artist, created_at) "
                          "VALUES ('yes_big', '25', 'Beyoncé', 'Halo', CURRENT_TIMESTAMP)"))
    engine.dispose()


def test_backup_accepts_the_schema_it_is_about_to_upgrade(db_url, make_app, tmp_path):
    _old_database(db_url)
    runner = make_app(db_url).test_cli_runner()
    result = runner.invoke(args=["backup", str(tmp_path / "before-upgrade")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "before-upgrade" / "backup.json").read_text())
    assert report["schema_revision"] == BEFORE_0006 and report["counts"]["songs"] == 1
    if db_url.startswith("sqlite"):  # the copy restores and upgrades like the original
        restored = tmp_path / "restored.db"
        shutil.copy(tmp_path / "before-upgrade" / "recsys.db", restored)
        migrate.upgrade(f"sqlite:///{restored}")
        engine = make_engine(f"sqlite:///{restored}")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT available, search_key FROM songs")).one()
        engine.dispose()
        assert row.available and "beyonce" in row.search_key


def test_backup_still_refuses_an_empty_or_unknown_schema(db_url, make_app, tmp_path):
    migrate.downgrade(db_url, "base")
    runner = make_app(db_url).test_cli_runner()
    result = runner.invoke(args=["backup", str(tmp_path / "b1")])
    assert result.exit_code == 1 and "db upgrade" in result.output
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                          "(version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("DELETE FROM alembic_version"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    engine.dispose()
    result = runner.invoke(args=["backup", str(tmp_path / "b2")])
    assert result.exit_code == 1 and "newer than this code knows" in result.output
    assert not (tmp_path / "b2" / "backup.json").exists()
