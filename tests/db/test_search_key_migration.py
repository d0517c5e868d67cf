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
