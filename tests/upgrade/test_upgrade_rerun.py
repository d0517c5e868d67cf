"""A ``db upgrade`` that failed or was stopped inside a step runs again. On SQLite, Alembic
runs the DDL outside a transaction: 0006's column and index, and 0008's column, outlived a
step whose revision was never recorded, and the next run failed ("duplicate column name")."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from recsys.db import migrate
from recsys.db.session import make_engine


def test_sqlite_upgrade_failed_inside_0006_runs_again(sqlite_url):
    migrate.downgrade(sqlite_url, "0005")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO import_runs (source, kind, path, started_at, "
                          "songs_added, playlists_added, items_added) "
                          "VALUES ('yes_big', 'yes', '/x', CURRENT_TIMESTAMP, 1, 0, 0)"))
        conn.execute(text("INSERT INTO songs (source, external_id, title, artist, created_at) "
                          "VALUES ('yes_big', '1', 'MG_DELETED', '', CURRENT_TIMESTAMP), "
                          "('yes_big', '2', 'Halo', 'Beyoncé', CURRENT_TIMESTAMP)"))
        # the placeholder UPDATE fails, as a stop (Ctrl-C, a full disk) right there would
        conn.execute(text("CREATE TRIGGER stop BEFORE UPDATE ON songs "
                          "BEGIN SELECT RAISE(ABORT, 'stopped'); END"))
    try:
        migrate.upgrade(sqlite_url)
    except Exception as exc:  # noqa: BLE001 - the stop itself
        assert "stopped" in str(exc)
    else:
        raise AssertionError("the trigger did not stop 0006")
    assert migrate.revision_of(sqlite_url) == "0005"
    assert "available" in {c["name"] for c in inspect(engine).get_columns("songs")}
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER stop"))

    migrate.upgrade(sqlite_url)  # failed with "duplicate column name: available"

    assert migrate.revision_of(sqlite_url) == migrate.head()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, available FROM songs "
                                 "ORDER BY external_id")).all()
        indexes = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                    "AND name = 'ix_songs_unavailable'")).scalars().all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("1", 0), ("2", 1)]  # the placeholder is hidden
    assert indexes == ["ix_songs_unavailable"]


def _stop_recording(conn, revision: str) -> None:
    """A trigger that fails the update of ``alembic_version`` to ``revision``: the step's
    work is done, its revision not recorded (a stop right before the commit)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"CREATE TRIGGER stop BEFORE UPDATE ON alembic_version "
                          f"WHEN NEW.version_num = '{revision}' "
                          "BEGIN SELECT RAISE(ABORT, 'stopped'); END"))
        return
    conn.execute(text(f"CREATE FUNCTION stop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                      f"IF NEW.version_num = '{revision}' THEN RAISE EXCEPTION 'stopped'; "
                      "END IF; RETURN NEW; END $$"))
    conn.execute(text("CREATE TRIGGER stop BEFORE UPDATE ON alembic_version "
                      "FOR EACH ROW EXECUTE FUNCTION stop()"))


@pytest.mark.parametrize("revision", ["0006", "0007", "0008"])
def test_upgrade_stopped_before_recording_a_step_runs_again(db_url, revision):
    migrate.downgrade(db_url, "0005")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO songs (source, external_id, title, artist, created_at) "
                          "VALUES ('s', '1', 'Halo', 'Beyoncé', CURRENT_TIMESTAMP)"))
        _stop_recording(conn, revision)
    with pytest.raises(Exception, match="stopped"):
        migrate.upgrade(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER stop" if engine.dialect.name == "sqlite"
                          else "DROP TRIGGER stop ON alembic_version"))
    migrate.upgrade(db_url)
    assert migrate.revision_of(db_url) == migrate.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT available, search_key FROM songs")).one() == (
            True, "halo\x1fbeyonce")
    engine.dispose()
