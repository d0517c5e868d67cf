"""Fresh planner statistics after an import that changed much of a table (PostgreSQL).

The planner's per-value estimates (:func:`recsys.db.counts.where_estimate`, the overview's
songs and playlists per source) come from the statistics of the last ``ANALYZE``: a source
imported since then is estimated at about one row, and the sources already there at their old
share of the grown table (a source doubling the table shows the others at twice their rows).
Autovacuum analyses a table once changes reach 10% of its rows, after up to a minute, and
never for a smaller share: a new source of 2M items in a 24M-item table (8%) would be counted
exactly on every overview view while the others stay overestimated. So after its commit an
import analyses each table it wrote at least :data:`ANALYZE_FRACTION` of, or
:data:`ANALYZE_ROWS` rows into (0.02-0.4 s per table, a sample of 30,000 rows whatever the
table's size; docs/benchmarks.md, "Planner statistics after an import"). ``playlists delete``
does the same after deleting many playlists (the estimates of the table's rows would keep the
deleted ones until a vacuum).

It runs outside the import's transaction, in its own: a failure (or a lock not granted within
:data:`LOCK_TIMEOUT_MS`) is logged, never raised: the import is committed, and autovacuum
refreshes the statistics later. SQLite keeps no statistics unless asked (``ANALYZE``), its
planner's choices were made without them, and its counts are exact: nothing to do there.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, text

from recsys.ingest.model import ImportResult

log = logging.getLogger("recsys.ingest")

#: Analyse a table when an import wrote at least this fraction of the rows it had at its last
#: ``ANALYZE`` (autovacuum's default scale factor: it would do the same, only later)...
ANALYZE_FRACTION = 0.1
#: ...or at least this many rows, whatever its size (autovacuum would wait for 10%).
ANALYZE_ROWS = 100_000
#: Longest wait for the table's lock (a manual ``VACUUM`` holding it): then skipped.
LOCK_TIMEOUT_MS = 5_000


def written_rows(result: ImportResult) -> dict[str, int]:
    """Rows an import inserted or deleted, per table (updates in place move no estimate)."""
    return {
        "songs": result.songs_added,
        "playlists": result.playlists_added + result.playlists_deleted,
        # replaced playlists: their old items deleted, as many new ones written (about)
        "playlist_items": result.items_added + 2 * result.items_replaced + result.items_deleted,
        "song_tags": result.song_tags_added + result.song_tags_removed,
        "tags": result.tags_added,
    }


def _rows_at_last_analyze(conn, table: str) -> float:
    value = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                         {"t": table}).scalar()
    return max(float(value if value is not None else 0), 0.0)  # -1: never analysed


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _analyze(conn, table: str, source: str) -> float | None:
    """``ANALYZE table`` in a transaction of its own (lock wait bounded); its seconds, or
    None when it failed (logged)."""
    started = time.perf_counter()
    try:
        with conn.begin():
            conn.execute(text(f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT_MS)}"))
            conn.execute(text(f"ANALYZE {table}"))
    except Exception as exc:  # the import is committed: statistics are only a refresh
        log.warning("ANALYZE %s after importing %s failed (the import is committed; "
                    "autovacuum refreshes the statistics later): %s", table, source,
                    _first_line(exc))
        return None
    return time.perf_counter() - started


def refresh_statistics(engine: Engine, source: str, written: dict[str, int]
                       ) -> dict[str, float]:
    """``ANALYZE`` the tables a committed import (or deletion) of ``source`` changed much of,
    given the rows ``written`` into each (PostgreSQL only); returns the seconds each took.
    Never raises."""
    written = {t: n for t, n in written.items() if n > 0}
    if engine.dialect.name != "postgresql" or not written:
        return {}
    took: dict[str, float] = {}
    try:
        with engine.connect() as conn:
            for table, n in written.items():
                with conn.begin():
                    due = n >= min(ANALYZE_ROWS,
                                   ANALYZE_FRACTION * _rows_at_last_analyze(conn, table))
                if due:
                    took[table] = _analyze(conn, table, source)
    except Exception as exc:  # no connection: the import is committed all the same
        log.warning("refreshing the planner statistics after importing %s failed (the import "
                    "is committed; autovacuum refreshes them later): %s", source,
                    _first_line(exc))
    took = {t: s for t, s in took.items() if s is not None}
    if took:
        log.info("planner statistics refreshed after importing %s: %s", source,
                 ", ".join(f"{t} {s:.2f} s" for t, s in took.items()))
    return took
