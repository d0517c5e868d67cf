"""Dialect-specific fast row insertion for the importers, and plain-tuple reads.

SQLite: DB-API ``executemany`` on an iterator, or ``INSERT ... SELECT`` over ``json_each`` for
one-column and run-shaped loads (the per-row work then happens in SQLite's C loop);
PostgreSQL: ``COPY``; any other driver: SQLAlchemy Core ``insert()`` executemany. Errors are
raised as SQLAlchemy's ``DBAPIError`` so callers handle one exception family.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, count, islice, repeat
from typing import Any

from sqlalchemy import Connection, column, insert
from sqlalchemy import table as table_clause
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

#: Rows per batch when a progress bar is shown (the bar advances per batch).
BATCH_ROWS = 50_000


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
