"""Bulk-load helpers: check foreign keys / build secondary indexes once per load, not per row.

PostgreSQL checks a foreign key with a trigger per inserted row, which caps ``COPY`` into
``playlist_items`` at ~15-20k rows/s. For big loads we drop the table's foreign keys inside
the import transaction and add them back (same definitions, read from ``pg_constraint``)
before commit: adding validates all rows with one join, and if anything fails the rollback
restores the constraints. Dropping a foreign key locks both the table and the tables it
references (ACCESS EXCLUSIVE), so readers of them wait until the import commits (seconds per
100k rows). The locks are taken first, referenced tables before the table (the order in
which requests read them: a song, then its playlists), each attempt waiting at most
``LOCK_WAIT_MS`` so that readers never queue for long behind a waiting import; if readers
keep the tables busy, the load keeps its per-row checks instead. Small loads always do.

On SQLite (foreign keys are not checked during imports, see ``writer``), a load at least as
big as the table drops the table's secondary indexes and re-creates them from their stored
SQL after the load: sorting once is ~25% cheaper than inserting into a random-order index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

log = logging.getLogger("recsys.ingest")

#: Suspend foreign keys only for loads of at least this many rows...
MIN_ROWS = 20_000
#: ...and at least this fraction of the rows already in the table (validation re-reads them).
MIN_FRACTION = 0.05
#: PostgreSQL: longest wait for the tables' exclusive locks, per attempt, and the pauses
#: between attempts (then per-row checks).
LOCK_WAIT_MS = 1000
LOCK_RETRY_PAUSES_S = (0.5, 1.0, 2.0)
#: The order in which requests read the tables (a song, its tags, its playlists); locks are
#: taken in this order, then the loaded table's, so no reader holds one the import waits for
#: while waiting for one the import holds.
LOCK_ORDER = {"songs": 0, "tags": 1, "playlists": 2}
#: SQLite: build secondary indexes after the load for loads of at least this many rows (and
#: at least the table's size): sorting once beats inserting in random key order.
SQLITE_MIN_ROWS = 5_000


def _estimated_rows(conn: Connection, table: str) -> int:
    sql = "SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)"
    return max(0, int(conn.exec_driver_sql(sql.replace(":t", "%(t)s"), {"t": table}).scalar()))


@contextmanager
def foreign_keys_checked_once(conn: Connection, table: str, new_rows: int) -> Iterator[bool]:
    """Within the current transaction, drop ``table``'s foreign keys and re-add them on exit.

    Does nothing (yields False) on other databases or for small loads.
    """
    if conn.dialect.name != "postgresql" or new_rows < MIN_ROWS:
        yield False
        return
    if new_rows < MIN_FRACTION * _estimated_rows(conn, table):
        yield False
        return
    sql = (
        "SELECT conname, pg_get_constraintdef(oid), confrelid::regclass::text "
        "FROM pg_constraint WHERE conrelid = CAST(%(t)s AS regclass) AND contype = 'f' "
        "ORDER BY conname"
    )
    constraints = conn.exec_driver_sql(sql, {"t": table}).all()
    order = sorted({referenced for _, _, referenced in constraints},
                   key=lambda name: (LOCK_ORDER.get(name, len(LOCK_ORDER)), name))
    if constraints and not _lock_exclusively(conn, [*order, table]):
        log.warning("%s: tables busy with readers; loading %d rows with per-row foreign-key "
                    "checks (slower)", table, new_rows)
        yield False
        return
    for name, _definition, _referenced in constraints:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield True
    for name, definition, _referenced in constraints:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    log.debug("%s: %d foreign keys validated once for %d rows", table, len(constraints),
              new_rows)


def _lock_exclusively(conn: Connection, tables: list[str]) -> bool:
    """Take ACCESS EXCLUSIVE locks on ``tables`` in order, with bounded waits; False if every
    attempt timed out (nothing is then held)."""
    for pause in (*LOCK_RETRY_PAUSES_S, None):
        try:
            with conn.begin_nested():  # a timed-out attempt releases what it took
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(LOCK_WAIT_MS)}")
                conn.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
            return True
        except OperationalError as exc:
            # lock_not_available (our timeout), deadlock_detected (a reader in another order)
            if getattr(exc.orig, "sqlstate", None) not in ("55P03", "40P01"):
                raise
            if pause is None:
                return False
            log.info("waiting for readers of %s to lock them for the load", ", ".join(tables))
            time.sleep(pause)
    return False


def _sqlite_has_rows(conn: Connection, table: str, rows: int) -> bool:
    """Whether ``table`` has at least ``rows`` rows, counting at most that many.

    Works for WITHOUT ROWID tables too (no ``MAX(rowid)``); costs O(``rows``), i.e. at most
    as much as reading back the rows about to be loaded.
    """
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT ?)"
    return conn.exec_driver_sql(sql, (rows,)).scalar() >= rows


@contextmanager
def sqlite_indexes_built_once(conn: Connection, table: str, new_rows: int) -> Iterator[bool]:
    """Within the current transaction, drop ``table``'s secondary indexes, re-create on exit.

    Only on SQLite, for loads of at least ``SQLITE_MIN_ROWS`` rows (or ``MIN_ROWS`` if smaller)
    and at least the table's size.
    """
    if conn.dialect.name != "sqlite" or new_rows < min(MIN_ROWS, SQLITE_MIN_ROWS):
        yield False
        return
    if _sqlite_has_rows(conn, table, new_rows + 1):
        yield False
        return
    sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? " \
          "AND sql IS NOT NULL ORDER BY name"
    indexes = conn.exec_driver_sql(sql, (table,)).all()
    for name, _sql in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield True
    for _name, create in indexes:
        conn.exec_driver_sql(create)


@contextmanager
def bulk_load(conn: Connection, table: str, new_rows: int) -> Iterator[None]:
    """The fastest safe way to load ``new_rows`` rows into ``table`` on this database."""
    with foreign_keys_checked_once(conn, table, new_rows), \
            sqlite_indexes_built_once(conn, table, new_rows):
        yield
