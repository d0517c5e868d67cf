"""Write a validated :class:`ParsedCatalog` in ONE transaction, idempotently.

Songs and playlists are keyed by ``(source, external_id)``: rows already present are left
alone, so importing the same file twice adds nothing and a file with new playlists adds only
those. Existing ids are looked up in bulk (one query per table), new rows are bulk-inserted
(SQLite: DB-API ``executemany``, and for the big link tables ``INSERT ... SELECT`` over
``json_each`` of many playlists at once; PostgreSQL: ``COPY``), then their ids are read back
in bulk. The cyclic garbage collector is paused while writing.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, count, islice, repeat
from typing import Any

from sqlalchemy import Connection, Engine, column, insert
from sqlalchemy import table as table_clause
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from recsys.db.base import utcnow
from recsys.db.models import ImportRun, Tag
from recsys.ingest.bulkload import bulk_load
from recsys.ingest.gcpause import gc_paused
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
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple],
    bar: tqdm | None,
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) with the fastest path of the dialect.

    ``rows`` may be any iterable; on SQLite and PostgreSQL it is consumed lazily, so a
    generator of tuples (e.g. from ``zip``) never materialises the rows in a list.
    """
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table} ({cols}) FROM STDIN"
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for batch in _batches(rows, bar):
                    for row in batch:
                        copy.write_row(row)
        except conn.dialect.dbapi.Error as exc:  # as SQLAlchemy would raise it
            raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
        finally:
            cursor.close()
        return
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
    if conn.dialect.paramstyle == "qmark":  # SQLite: DB-API executemany on an iterator
        cursor = conn.connection.cursor()
        try:
            for batch in _batches(rows, bar):
                cursor.executemany(sql, batch)
        except conn.dialect.dbapi.Error as exc:  # same exception classes as SQLAlchemy's
            raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
        finally:
            cursor.close()
        return
    target = table_clause(table, *[column(c) for c in columns])
    for batch in _batches(rows, bar):  # any other driver: Core insert() executemany
        params = [dict(zip(columns, r, strict=True)) for r in batch]
        if params:
            conn.execute(insert(target), params)


def bulk_insert_column(
    conn: Connection, table: str, fixed: Mapping[str, Any], column: str,
    values: Sequence[str], bar: tqdm | None,
) -> None:
    """Insert one row per string in ``values`` (in order) into ``column``, the ``fixed``
    columns having the same value in every row.

    On SQLite that is ONE ``INSERT ... SELECT`` over ``json_each()`` of the values (~2x
    cheaper than ``executemany``), unless a value contains NUL (SQLite's JSON text would end
    there); elsewhere, :func:`bulk_insert`.
    """
    columns = (*fixed, column)
    if conn.dialect.name == "sqlite" and values and _sqlite_has_json(conn):
        doc = json.dumps(list(values), ensure_ascii=False)
        if "\\u0000" not in doc:
            select = ", ".join(["?"] * len(fixed) + ["value"])
            sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM json_each(?)"
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql, (*fixed.values(), doc))
            except conn.dialect.dbapi.Error as exc:  # same exception classes as SQLAlchemy's
                raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
            finally:
                cursor.close()
            if bar is not None:
                bar.update(len(values))
            return
    const = tuple(fixed.values())
    bulk_insert(conn, table, columns, (const + (v,) for v in values), bar)


def bulk_insert_runs(
    conn: Connection, table: str, columns: Sequence[str],
    runs: Iterable[tuple[int, Sequence[Any]]], bar: tqdm | None,
    value_ids: Mapping[Any, int] | None = None,
) -> None:
    """Insert rows given as runs that share their first column.

    Each run ``(key, values)`` stands for the rows ``(key, v[i])`` (two columns) or
    ``(key, i, v[i])`` (three columns: the second is the 0-based index, e.g. a position),
    where ``v[i]`` is ``value_ids[values[i]]`` if ``value_ids`` is given, else ``values[i]``;
    either way an integer id, and so are the keys.

    On SQLite, up to ``RUNS_PER_STATEMENT`` runs with increasing keys go in ONE
    ``INSERT ... SELECT`` over two nested ``json_each()`` (a JSON array of the runs' value
    arrays, the key being the first key plus the outer index; short key gaps are padded with
    empty arrays), so the per-row work happens in SQLite's C loop instead of in
    ``executemany``'s per-row parameter binding: ~2-3x cheaper per row, in the runs' order
    (primary-key order for our tables). Elsewhere the runs are expanded into rows for
    :func:`bulk_insert`.
    """
    if len(columns) not in (2, 3):
        raise ValueError("runs have 2 columns (key, value) or 3 (key, index, value)")
    if conn.dialect.name != "sqlite" or not _sqlite_has_json(conn):
        if value_ids is not None:
            runs = ((key, map(value_ids.__getitem__, values)) for key, values in runs)
        if len(columns) == 3:
            rows = chain.from_iterable(zip(repeat(k), count(), vals) for k, vals in runs)
        else:
            rows = chain.from_iterable(zip(repeat(k), vals) for k, vals in runs)
        bulk_insert(conn, table, columns, rows, bar)
        return
    text = _IdText(value_ids).__getitem__  # the id's decimal text, computed once per value
    select = "?1 + r.key, v.key, v.value" if len(columns) == 3 else "?1 + r.key, v.value"
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
           "FROM json_each(?2) AS r, json_each(r.value) AS v")
    cursor = conn.connection.cursor()
    try:
        for batch in _batches(runs, bar, weight=lambda run: len(run[1])):
            cursor.executemany(sql, _run_chunks(batch, text))
    except conn.dialect.dbapi.Error as exc:  # same exception classes as SQLAlchemy's
        raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
    finally:
        cursor.close()


#: SQLite: runs per INSERT statement, and the largest key gap padded with empty runs.
RUNS_PER_STATEMENT = 1024
MAX_KEY_GAP = 16


def _run_chunks(runs: Iterable[tuple[int, Iterable[Any]]], text: Callable[[Any], str]
                ) -> Iterator[tuple[int, str]]:
    """``(first_key, '[[v,v...],[v...],...]')`` per chunk of runs with increasing keys."""
    parts: list[str] = []
    first = prev = 0
    for key, values in runs:
        if type(key) is not int:  # noqa: E721 - bool and other int-likes are not ids
            raise TypeError(f"run keys must be integer ids, got {key!r}")
        if parts and (not 0 < key - prev <= MAX_KEY_GAP or len(parts) >= RUNS_PER_STATEMENT):
            yield first, "[" + ",".join(parts) + "]"
            parts = []
        if parts:
            parts += repeat("[]", key - prev - 1)
        else:
            first = key
        parts.append("[" + ",".join(map(text, values)) + "]")
        prev = key
    if parts:
        yield first, "[" + ",".join(parts) + "]"


class _IdText(dict):
    """``str(ids[value])`` (or ``str(value)`` without ``ids``), computed once per value.

    A dict subclass whose misses compute the text, so hits are plain C dict lookups when
    used through ``map``.
    """

    def __init__(self, ids: Mapping[Any, int] | None) -> None:
        super().__init__()
        self._ids = ids

    def __missing__(self, value: Any) -> str:
        db_id = value if self._ids is None else self._ids[value]
        if type(db_id) is not int:  # noqa: E721 - bool and other int-likes are not ids
            raise TypeError(f"run values must be integer ids, got {db_id!r}")
        text = self[value] = str(db_id)
        return text


def _sqlite_has_json(conn: Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in by default since 3.38)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute("SELECT COUNT(*) FROM json_each('[0]')")
        return cursor.fetchone()[0] == 1
    except conn.dialect.dbapi.Error:
        return False
    finally:
        cursor.close()


def _batches(rows: Iterable, bar: tqdm | None, weight=None) -> Iterator[Iterable]:
    """``rows`` whole when no progress bar is shown, else lists of ``BATCH_ROWS`` items.

    The bar advances by the batch's length, or by the sum of ``weight(item)`` if given.
    """
    if bar is None or bar.disable:
        yield rows
        return
    rows = iter(rows)
    size = BATCH_ROWS if weight is None else max(1, BATCH_ROWS // 20)
    while batch := list(islice(rows, size)):
        yield batch
        bar.update(len(batch) if weight is None else sum(map(weight, batch)))


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
    songs = catalog.songs
    names = sorted(set().union(*(s.tags for s in songs.values())))
    if not names:
        return
    tag_ids = dict(raw_rows(conn, "SELECT name, id FROM tags"))
    missing = [n for n in names if n not in tag_ids]
    if missing:
        conn.execute(insert(_tags), [{"name": n} for n in missing])
        tag_ids = dict(raw_rows(conn, "SELECT name, id FROM tags"))
        result.tags_added = len(missing)
    tag_id = tag_ids.__getitem__
    # runs (song_id, [tag_id...]) in primary-key order: songs by id, tag ids sorted
    runs = sorted((song_ids[ext], sorted(map(tag_id, song.tags)))
                  for ext, song in songs.items() if song.tags)
    if had_songs:
        sql = ("SELECT st.song_id, st.tag_id FROM song_tags st "
               "JOIN songs s ON s.id = st.song_id WHERE s.source = ?")
        existing = set(raw_rows(conn, sql, (catalog.source,)))
        if existing:
            runs = [(sid, new) for sid, tids in runs
                    if (new := [t for t in tids if (sid, t) not in existing])]
    n_links = sum(len(tids) for _sid, tids in runs)
    with bulk_load(conn, "song_tags", n_links):
        bulk_insert_runs(conn, "song_tags", ("song_id", "tag_id"), runs, None)
    result.song_tags_added = n_links


def write_catalog(engine: Engine, catalog: ParsedCatalog, *, progress: bool = True
                  ) -> ImportResult:
    """Write ``catalog`` in one transaction and record an ``import_runs`` row.

    Returns:
        The counts of what was added and what was already present.
    """
    t0 = time.perf_counter()
    result = ImportResult(kind=catalog.kind, source=catalog.source, path=catalog.path,
                          notes=list(catalog.notes))
    with engine.connect() as conn, gc_paused():
        sqlite = _sqlite_import_settings(conn)
        try:
            with conn.begin():
                _write(conn, catalog, result, progress, t0)
        finally:
            if sqlite is not None:
                conn.rollback()
                for name, value in sqlite.items():
                    conn.exec_driver_sql(f"PRAGMA {name}={value}")
                conn.commit()
    result.duration_s = time.perf_counter() - t0
    log.info("%s", result.summary())
    return result


#: SQLite settings of the import connection, restored after the import (the connection goes
#: back to the pool): no per-row foreign-key checks (every id written was just read back)
#: and a 64 MiB page cache, so the whole load stays in memory until commit (the default
#: 2 MiB spills dirty pages to the WAL mid-transaction and the index builds read them back:
#: ~10% more CPU on yes_big). ``temp_store=MEMORY`` was measured too: slower index builds.
SQLITE_IMPORT_PRAGMAS = {"foreign_keys": "OFF", "cache_size": "-65536"}


def _sqlite_import_settings(conn: Connection) -> dict[str, object] | None:
    """On SQLite, apply ``SQLITE_IMPORT_PRAGMAS``; return the previous values (else None).

    ``foreign_keys`` only takes effect outside a transaction, so this runs before ``BEGIN``.
    """
    if conn.dialect.name != "sqlite":
        return None
    previous = {}
    for name, value in SQLITE_IMPORT_PRAGMAS.items():
        previous[name] = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
        conn.exec_driver_sql(f"PRAGMA {name}={value}")
    conn.commit()  # ends SQLAlchemy's autobegun transaction (no SQL transaction was open)
    return previous


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
        rows = ((source, s.external_id, s.title, s.artist) for s in new_songs)
        with bulk_load(conn, "songs", len(new_songs)):
            bulk_insert(conn, "songs", ("source", "external_id", "title", "artist"), rows,
                        bar)
        if new_songs:
            song_ids = _id_map(conn, "songs", source)
        _write_tags(conn, catalog, song_ids, had_songs, result)
        if any(p.name is not None for p in new_pls):
            rows = ((source, p.external_id, p.name) for p in new_pls)
            bulk_insert(conn, "playlists", ("source", "external_id", "name"), rows, bar)
        else:  # no names (Yes.com): binding None costs sqlite3 an adapter lookup per row
            bulk_insert_column(conn, "playlists", {"source": source}, "external_id",
                               [p.external_id for p in new_pls], bar)
        if new_pls:
            pl_ids = _id_map(conn, "playlists", source)
        # one run per playlist: (playlist_id, song external ids), position = index; in
        # primary-key order since new playlists get increasing ids in file order
        runs = ((pl_ids[pl.external_id], pl.songs) for pl in new_pls)
        with bulk_load(conn, "playlist_items", n_items):
            bulk_insert_runs(conn, "playlist_items", ("playlist_id", "position", "song_id"),
                             runs, bar, value_ids=song_ids)
    result.songs_added = len(new_songs)
    result.playlists_added = len(new_pls)
    result.items_added = n_items
    result.duration_s = time.perf_counter() - t0
    run = insert(_runs).values(
        kind=catalog.kind, source=source, path=catalog.path, started_at=started,
        finished_at=utcnow(), songs_added=result.songs_added,
        playlists_added=result.playlists_added, items_added=result.items_added,
        duration_s=result.duration_s,
    ).returning(_runs.c.id)
    result.run_id = conn.execute(run).scalar_one()
