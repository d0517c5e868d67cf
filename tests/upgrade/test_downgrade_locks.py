"""Rolling back to the previous release: ``db downgrade 0005`` on PostgreSQL while its
servers still read ``songs``. 0007's downgrade rebuilds 0005's trigram indexes; built in the
transaction that had dropped ``search_key`` (ACCESS EXCLUSIVE until commit), they kept every
song look-up and import waiting for the whole build (24 s at 1,000,000 songs)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, text

from recsys.db import migrate
from recsys.db.session import make_engine

TRIGRAM = ("ix_songs_title_trgm", "ix_songs_artist_trgm")
POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _songs(url: str, n: int = 50) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO songs (source, external_id, title, artist, search_key) "
                          "VALUES ('s', :x, :t, 'Sigur Rós', 'k')"),
                     [{"x": str(i), "t": f"Song {i}"} for i in range(n)])
    engine.dispose()


def _probe(url: str) -> list[tuple[str, str]]:
    """Run ``db downgrade 0005``; at each statement that builds one of 0005's indexes, read
    and write ``songs`` from another session (``lock_timeout`` 300 ms): what each found."""
    probe = make_engine(url, isolation_level="AUTOCOMMIT")
    seen: list[tuple[str, str]] = []

    def before(_conn, _cursor, statement, *_args) -> None:
        if "CREATE INDEX" not in statement or not any(n in statement for n in TRIGRAM):
            return
        with probe.connect() as conn:
            conn.execute(text("SET lock_timeout = '300ms'"))
            try:
                conn.execute(text("SELECT title FROM songs WHERE id = "
                                  "(SELECT min(id) FROM songs)")).scalar()
                conn.execute(text("INSERT INTO songs (source, external_id, title, artist) "
                                  "VALUES ('probe', :x, '', '')"), {"x": str(len(seen))})
                seen.append((statement.split(" ON ")[0], "answered"))
            except Exception as exc:  # noqa: BLE001 - the lock timeout is the finding
                seen.append((statement.split(" ON ")[0], type(exc).__name__))

    event.listen(Engine, "before_cursor_execute", before)
    try:
        migrate.downgrade(url, "0005")
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        probe.dispose()
    return seen


def _trigram_indexes(url: str) -> dict[str, bool]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relname LIKE 'ix_songs_%_trgm'")).all()
    engine.dispose()
    return dict(rows)


@POSTGRES
def test_downgrade_rebuilds_0005_indexes_without_blocking_songs(db_url):
    pg_url = db_url
    _songs(pg_url)
    seen = _probe(pg_url)
    assert len(seen) == 2, seen
    assert all(found == "answered" for _, found in seen), seen
    assert all("CONCURRENTLY" in statement for statement, _ in seen)
    assert migrate.revision_of(pg_url) == "0005"
    assert _trigram_indexes(pg_url) == dict.fromkeys(TRIGRAM, True)
    migrate.upgrade(pg_url)  # and forward again
    assert _trigram_indexes(pg_url) == {"ix_songs_search_key_trgm": True}


@POSTGRES
def test_interrupted_downgrade_runs_again(db_url, caplog):
    """Killed while building an index concurrently (left INVALID) after 0008's downgrade had
    committed: the next ``db downgrade 0005`` drops it and builds it again."""
    pg_url = db_url
    _songs(pg_url)
    migrate.downgrade(pg_url, "0007")
    engine = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE INDEX ix_songs_title_trgm ON songs "
                          "USING gin (lower(title) gin_trgm_ops)"))
        conn.execute(text("UPDATE pg_index SET indisvalid = false "
                          "WHERE indexrelid = 'ix_songs_title_trgm'::regclass"))
    engine.dispose()
    migrate.downgrade(pg_url, "0005")
    assert "ix_songs_title_trgm: dropping the invalid index" in caplog.text
    assert _trigram_indexes(pg_url) == dict.fromkeys(TRIGRAM, True)
