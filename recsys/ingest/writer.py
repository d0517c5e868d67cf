"""Write a validated :class:`ParsedCatalog` in ONE transaction, idempotently.

Songs and playlists are keyed by ``(source, external_id)``: rows already present are left
alone, so importing the same file twice adds nothing and a file with new playlists adds only
those. Existing ids are looked up in bulk (one query per table), new rows are bulk-inserted
(SQLite: DB-API ``executemany``; PostgreSQL: ``COPY``), then their ids are read back in bulk.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from itertools import count, repeat

from sqlalchemy import Connection, Engine, column, insert
from sqlalchemy import table as table_clause
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from recsys.db.base import utcnow
from recsys.db.models import ImportRun, Tag
from recsys.ingest.bulkload import bulk_load
from recsys.ingest.model import ImportResult, ParsedCatalog

log = logging.getLogger("recsys.ingest")

BATCH_ROWS = 50_000
_tags = Tag.__table__
_runs = ImportRun.__table__


def make_progress(total: int, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar on stderr, shown only when ``enabled`` and stderr is a terminal."""
    disable = not enabled or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="row", unit_scale=True, file=sys.stderr,
                disable=disable, leave=False)


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple], bar: tqdm | None
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) with the fastest path of the dialect."""
    if not rows:
        return
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table} ({cols}) FROM STDIN"
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for start in range(0, len(rows), BATCH_ROWS):
                    for row in rows[start : start + BATCH_ROWS]:
                        copy.write_row(row)
                    if bar is not None:
                        bar.update(min(BATCH_ROWS, len(rows) - start))
        except conn.dialect.dbapi.Error as exc:  # as SQLAlchemy would raise it
            raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
        finally:
            cursor.close()
        return
    qmark = conn.dialect.paramstyle == "qmark"
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
    target = table_clause(table, *[column(c) for c in columns])
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        if qmark:  # SQLite: plain DB-API executemany, no per-row Core processing
            conn.exec_driver_sql(sql, batch)
        else:  # any other driver: Core insert() executemany
            conn.execute(insert(target), [dict(zip(columns, r, strict=True)) for r in batch])
        if bar is not None:
            bar.update(len(batch))


def raw_rows(conn: Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """Run ``sql`` (``?`` placeholders) on the DB-API cursor: plain tuples, no Row objects."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    except conn.dialect.dbapi.Error as exc:  # same exception classes as SQLAlchemy's execute
        raise DBAPIError.instance(sql, params, exc, conn.dialect.dbapi.Error) from exc
    finally:
        cursor.close()


def _id_map(conn: Connection, table: str, source: str) -> dict[str, int]:
    rows = raw_rows(conn, f"SELECT external_id, id FROM {table} WHERE source = ?", (source,))
    return dict(rows)


def _write_tags(conn: Connection, catalog: ParsedCatalog, song_ids: dict[str, int],
                had_songs: bool, result: ImportResult) -> None:
    names = sorted({t for s in catalog.songs.values() for t in s.tags})
    if not names:
        return
    tag_ids = dict(raw_rows(conn, "SELECT name, id FROM tags"))
    missing = [n for n in names if n not in tag_ids]
    if missing:
        conn.execute(insert(_tags), [{"name": n} for n in missing])
        tag_ids = dict(raw_rows(conn, "SELECT name, id FROM tags"))
        result.tags_added = len(missing)
    existing: set[tuple[int, int]] = set()
    if had_songs:
        sql = ("SELECT st.song_id, st.tag_id FROM song_tags st "
               "JOIN songs s ON s.id = st.song_id WHERE s.source = ?")
        existing = set(raw_rows(conn, sql, (catalog.source,)))
    links = [(song_ids[ext], tag_ids[name]) for ext, song in catalog.songs.items()
             for name in song.tags]
    if existing:
        links = [pair for pair in links if pair not in existing]
    with bulk_load(conn, "song_tags", len(links)):
        bulk_insert(conn, "song_tags", ("song_id", "tag_id"), links, None)
    result.song_tags_added = len(links)


def write_catalog(engine: Engine, catalog: ParsedCatalog, *, progress: bool = True
                  ) -> ImportResult:
    """Write ``catalog`` in one transaction and record an ``import_runs`` row.

    Returns:
        The counts of what was added and what was already present.
    """
    t0 = time.perf_counter()
    result = ImportResult(kind=catalog.kind, source=catalog.source, path=catalog.path,
                          notes=list(catalog.notes))
    with engine.connect() as conn:
        fk_off = _sqlite_fk_off(conn)
        try:
            with conn.begin():
                _write(conn, catalog, result, progress, t0)
        finally:
            if fk_off:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    result.duration_s = time.perf_counter() - t0
    log.info("%s", result.summary())
    return result


def _sqlite_fk_off(conn: Connection) -> bool:
    """On SQLite, skip per-row foreign-key checks: every id written was just read back.

    The pragma only takes effect outside a transaction, so it runs before ``BEGIN``.
    """
    if conn.dialect.name != "sqlite":
        return False
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()  # ends SQLAlchemy's autobegun transaction (no SQL transaction was open)
    return True


def _write(conn: Connection, catalog: ParsedCatalog, result: ImportResult, progress: bool,
           t0: float) -> None:
    started = utcnow()
    source = catalog.source
    song_ids = _id_map(conn, "songs", source)
    had_songs = bool(song_ids)
    new_songs = [s for ext, s in catalog.songs.items() if ext not in song_ids]
    pl_ids = _id_map(conn, "playlists", source)
    new_pls = [p for p in catalog.playlists if p.external_id not in pl_ids]
    n_items = sum(len(p.songs) for p in new_pls)
    result.songs_existing = len(catalog.songs) - len(new_songs)
    result.playlists_existing = len(catalog.playlists) - len(new_pls)
    with make_progress(len(new_songs) + len(new_pls) + n_items, f"import {source}",
                       progress) as bar:
        rows = [(source, s.external_id, s.title, s.artist) for s in new_songs]
        bulk_insert(conn, "songs", ("source", "external_id", "title", "artist"), rows, bar)
        if new_songs:
            song_ids = _id_map(conn, "songs", source)
        _write_tags(conn, catalog, song_ids, had_songs, result)
        rows = [(source, p.external_id, p.name) for p in new_pls]
        bulk_insert(conn, "playlists", ("source", "external_id", "name"), rows, bar)
        if new_pls:
            pl_ids = _id_map(conn, "playlists", source)
        items: list[tuple[int, int, int]] = []
        db_id = song_ids.__getitem__
        for pl in new_pls:
            items += zip(repeat(pl_ids[pl.external_id]), count(), map(db_id, pl.songs))
        with bulk_load(conn, "playlist_items", len(items)):
            bulk_insert(conn, "playlist_items", ("playlist_id", "position", "song_id"), items,
                        bar)
    result.songs_added = len(new_songs)
    result.playlists_added = len(new_pls)
    result.items_added = len(items)
    result.duration_s = time.perf_counter() - t0
    run = insert(_runs).values(
        kind=catalog.kind, source=source, path=catalog.path, started_at=started,
        finished_at=utcnow(), songs_added=result.songs_added,
        playlists_added=result.playlists_added, items_added=result.items_added,
        duration_s=result.duration_s,
    ).returning(_runs.c.id)
    result.run_id = conn.execute(run).scalar_one()
