"""Migration 0007: ``songs.search_key`` backfilled on upgrade, removed on downgrade, on SQLite
and PostgreSQL (with its trigram index replacing 0005's)."""

from __future__ import annotations

import importlib.util
import logging

import pytest
from sqlalchemy import inspect, text

from recsys.db import migrate
from recsys.db.search_key import song_search_key
from recsys.db.session import make_engine

SONGS = [  # (id, title, artist): ids below 1 too (the backfill pages by id from the lowest)
    (-3, "Halo", "Beyoncé"),
    (0, "Dr. Feelgood", "Mötley Crüe"),
    (1, "Hoppípolla", "Sigur Rós"),
    (2, "Eple", "Røyksopp"),
    (3, "", ""),
    (7, "東京事変", "椎名林檎"),
]
INSERT = "INSERT INTO songs (id, source, external_id, title, artist) VALUES " \
         "(:id, 's', :ext, :title, :artist)"


def _migration():
    path = migrate.MIGRATIONS_DIR / "versions" / "0007_songs_search_key.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _at_0006_with(url: str, rows) -> None:
    migrate.downgrade(url, "0006")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(INSERT), [{"id": i, "ext": str(i), "title": t, "artist": a}
                                    for i, t, a in rows])
    engine.dispose()


def _keys(url: str) -> dict[int, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, search_key FROM songs")).all())
    engine.dispose()
    return keys


def _indexes(url: str) -> set[str]:
    """Index names of ``songs`` (expression indexes too: SQLite cannot reflect them) and its
    columns as ``column:NAME``."""
    engine = make_engine(url)
    sql = ("SELECT indexname FROM pg_indexes WHERE tablename = 'songs'"
           if engine.dialect.name == "postgresql" else
           "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'songs'")
    with engine.connect() as conn:
        names = set(conn.execute(text(sql)).scalars())
    columns = {c["name"] for c in inspect(engine).get_columns("songs")}
    engine.dispose()
    return names | {f"column:{c}" for c in columns}


def test_upgrade_backfills_every_song_and_the_search_finds_them(db_url, caplog):
    _at_0006_with(db_url, SONGS)
    with caplog.at_level(logging.INFO, logger="alembic.runtime.migration"):
        migrate.upgrade(db_url)
    assert _keys(db_url) == {i: song_search_key(t, a) for i, t, a in SONGS}
    assert "songs.search_key: 6 songs in" in caplog.text
    from sqlalchemy.orm import Session

    from recsys.api.queries import search_songs

    engine = make_engine(db_url)
    with Session(engine) as session:
        found = {q: [s["id"] for s in search_songs(session, q, None, None, 10, 0)[0]]
                 for q in ("beyonce", "MOTLEY CRUE", "sigur ros", "royksopp", "事変")}
    engine.dispose()
    assert found == {"beyonce": [-3], "MOTLEY CRUE": [0], "sigur ros": [1], "royksopp": [2],
                     "事変": [7]}


def test_many_songs_go_in_several_batches(db_url, caplog):
    """25,000 songs: three batches of the real migration, every key written."""
    rows = [(i, f"Café {i}", f"Artist ø{i % 7}") for i in range(1, 25_001)]
    _at_0006_with(db_url, rows)
    with caplog.at_level(logging.INFO, logger="alembic.runtime.migration"):
        migrate.upgrade(db_url)
    assert _keys(db_url) == {i: song_search_key(t, a) for i, t, a in rows}
    assert _keys(db_url)[24_999] == "cafe 24999\x1fartist o2"
    assert "computing the keys of 25000 songs" in caplog.text


def test_backfill_pages_by_id_and_resumes_where_it_stopped(sqlite_url):
    """Small batches cross every id boundary; only empty keys (never a computed one: it
    holds the separator) are computed, so an interrupted upgrade can simply run again."""
    migration = _migration()
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text(INSERT), [{"id": i, "ext": str(i), "title": t, "artist": a}
                                    for i, t, a in SONGS])
        conn.execute(text("UPDATE songs SET search_key = ''"))
        conn.execute(text("UPDATE songs SET search_key = 'kept' WHERE id = 1"))
        assert migration.backfill(conn, batch=2) == 5
        assert migration.backfill(conn, batch=2) == 0
    engine.dispose()
    keys = _keys(sqlite_url)
    assert keys[1] == "kept"
    assert keys == {i: "kept" if i == 1 else song_search_key(t, a) for i, t, a in SONGS}


def test_downgrade_and_upgrade_round_trip(db_url):
    _at_0006_with(db_url, SONGS)
    migrate.upgrade(db_url)
    postgres = db_url.startswith("postgresql")
    after = _indexes(db_url)
    assert "column:search_key" in after
    if postgres:
        assert "ix_songs_search_key_trgm" in after
        assert not after & {"ix_songs_title_trgm", "ix_songs_artist_trgm"}
    migrate.downgrade(db_url, "0006")
    before = _indexes(db_url)
    assert "column:search_key" not in before and "ix_songs_search_key_trgm" not in before
    assert "ix_songs_artist_lower" in before
    if postgres:  # 0005's indexes are back (pg_trgm is installed)
        assert {"ix_songs_title_trgm", "ix_songs_artist_trgm"} <= before
    migrate.upgrade(db_url)
    assert _indexes(db_url) == after
    assert _keys(db_url) == {i: song_search_key(t, a) for i, t, a in SONGS}


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_downgrade_to_0005_and_back(db_url):
    """The whole chain through 0005's indexes and back: no index left twice or missing."""
    migrate.downgrade(db_url, "0004")
    assert not _indexes(db_url) & {"ix_songs_title_trgm", "ix_songs_search_key_trgm"}
    migrate.upgrade(db_url)
    names = _indexes(db_url)
    assert "ix_songs_search_key_trgm" in names and "ix_songs_title_trgm" not in names


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_readers_of_songs_are_not_blocked_during_the_backfill(db_url, monkeypatch):
    """The column is added and committed first, then the keys go in batches, each committed
    on its own: a server's song look-up (``lock_timeout`` 500 ms) answers mid-backfill."""
    import threading
    import time

    from recsys.db import search_key

    rows = [(i, f"Café {i}", "Sigur Rós") for i in range(1, 41)]
    _at_0006_with(db_url, rows)
    started, fold, calls = threading.Event(), search_key.song_search_key, []

    def slow_key(title, artist):  # 40 songs in batches of 5, 0.05 s a song: 2 s of backfill
        calls.append(title)
        if len(calls) == 11:  # the third batch: two written
            started.set()
        time.sleep(0.05)
        return fold(title, artist)

    monkeypatch.setattr(search_key, "BATCH", 5)
    monkeypatch.setattr(search_key, "song_search_key", slow_key)
    errors = []

    def upgrade():
        try:
            migrate.upgrade(db_url)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    worker = threading.Thread(target=upgrade)
    worker.start()
    try:
        assert started.wait(30), "the backfill did not reach its third batch"
        engine = make_engine(db_url)
        with engine.connect() as conn:
            conn.execute(text("SET lock_timeout = '500ms'"))
            t0 = time.monotonic()
            title = conn.execute(text("SELECT title FROM songs WHERE id = 7")).scalar()
            waited = time.monotonic() - t0
            filled = conn.execute(text(
                "SELECT COUNT(*) FROM songs WHERE search_key <> ''")).scalar()
            conn.rollback()  # no transaction left open (CREATE INDEX CONCURRENTLY waits for it)
        engine.dispose()
        assert title == "Café 7" and waited < 0.5
        assert 10 <= filled < len(rows), "the batches are committed one by one"
        assert worker.is_alive(), "the backfill was still in progress"
    finally:
        worker.join(60)
    assert not errors
    assert _keys(db_url) == {i: fold(t, a) for i, t, a in rows}
    assert migrate.revision_of(db_url) == migrate.head()


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_upgrade_interrupted_after_the_column_runs_again(db_url, caplog):
    """Killed after the column's commit, mid-backfill and while building the index
    concurrently (which leaves an INVALID index): the next upgrade drops that index, fills in
    the keys still empty and builds the index."""
    _at_0006_with(db_url, SONGS)
    engine = make_engine(db_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ALTER TABLE songs ADD COLUMN search_key text NOT NULL DEFAULT ''"))
        conn.execute(text("DROP INDEX ix_songs_title_trgm"))
        conn.execute(text("UPDATE songs SET search_key = :k WHERE id = -3"),
                     {"k": song_search_key("Halo", "Beyoncé")})
        with pytest.raises(Exception, match="could not create unique index"):
            conn.execute(text("CREATE UNIQUE INDEX CONCURRENTLY ix_songs_search_key_trgm "
                              "ON songs (search_key)"))  # '' twice: left INVALID
        assert conn.execute(text("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                                 "'ix_songs_search_key_trgm'::regclass")).scalar() is False
    with caplog.at_level(logging.INFO, logger="alembic.runtime.migration"):
        migrate.upgrade(db_url)
    assert "songs.search_key: 5 songs in" in caplog.text
    assert "dropping the invalid index" in caplog.text
    with engine.connect() as conn:
        index = conn.execute(text(
            "SELECT i.indisvalid, am.amname FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE c.relname = 'ix_songs_search_key_trgm'")).all()
    engine.dispose()
    assert index == [(True, "gin")]
    assert _keys(db_url) == {i: song_search_key(t, a) for i, t, a in SONGS}
    assert not _indexes(db_url) & {"ix_songs_title_trgm", "ix_songs_artist_trgm"}
