"""Write a validated :class:`ParsedCatalog` in ONE transaction, idempotently.

Songs and playlists are keyed by ``(source, external_id)``: importing the same file twice
adds nothing and a file with new playlists adds only those. Rows already present only get
their missing title, artist or name filled in, or with ``update`` the file's values and
items (:mod:`recsys.ingest.updates`, same transaction). Existing ids are looked up in bulk
(one query per table), new rows are bulk-inserted
(:mod:`recsys.ingest.fastinsert`: SQLite ``executemany`` or ``INSERT ... SELECT`` over
``json_each`` of many playlists at once; PostgreSQL ``COPY``), then their ids are read back
in bulk. The cyclic garbage collector is paused while writing. After the commit, PostgreSQL's
statistics of the tables a large import changed are refreshed (:mod:`recsys.ingest.analyze`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from itertools import chain

from sqlalchemy import Connection, Engine, insert
from tqdm import tqdm

from recsys.db.base import utcnow
from recsys.db.models import ImportRun, Tag
from recsys.db.search_key import song_search_key
from recsys.ingest.analyze import refresh_statistics, written_rows
from recsys.ingest.bulkload import bulk_load
from recsys.ingest.fastinsert import bulk_insert, bulk_insert_column, bulk_insert_runs, raw_rows
from recsys.ingest.gcpause import gc_paused
from recsys.ingest.model import ImportResult, ParsedCatalog, printable
from recsys.ingest.snapshot import (
    MAX_DELETE,
    Deletions,
    delete_playlists,
    plan_deletions,
    record_deletions,
)
from recsys.ingest.updates import (
    Changes,
    apply_song_changes,
    delete_replaced_items,
    example,
    execute_many,
    plan_playlists,
    plan_songs,
    record,
)

log = logging.getLogger("recsys.ingest")

_tags = Tag.__table__
_runs = ImportRun.__table__
#: Columns of a new song row (``available`` explicitly: a placeholder is written false;
#: ``search_key`` computed here, as the bulk paths bypass the model's column default).
SONG_COLUMNS = ("source", "external_id", "title", "artist", "available", "search_key")


def recorded_path(path: str | None) -> str | None:
    """What ``import_runs.path`` keeps of the path read: a descriptor's name (``/dev/stdin``,
    ``/dev/fd/63`` of a shell's ``<(gen)``) means nothing afterwards, so it becomes the file
    it was opened on (``< file.csv``), or ``(pipe) /dev/fd/63``. Other paths are kept as
    given (a named FIFO too); messages keep naming the path as given."""
    if path is None:
        return None
    given = os.path.abspath(path)
    if given != "/dev/stdin" and not given.startswith(("/dev/fd/", "/proc/")):
        return path
    real = os.path.realpath(given)
    if not real.startswith("/proc/") and os.path.isfile(real):
        return printable(real)
    return f"(pipe) {path}"


def make_progress(total: int, desc: str, enabled: bool, unit: str = "row") -> tqdm:
    """A tqdm bar on stderr, shown only when ``enabled`` and stderr is a terminal."""
    disable = not enabled or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                disable=disable, leave=False)


def _id_map(conn: Connection, table: str, source: str) -> dict[str, int]:
    rows = raw_rows(conn, f"SELECT external_id, id FROM {table} WHERE source = ?", (source,))
    return dict(rows)


def _write_tags(conn: Connection, catalog: ParsedCatalog, song_ids: dict[str, int],
                had_songs: bool, result: ImportResult, update: bool) -> None:
    """Add the file's song-tag links; with ``update``, a song the file gives tags loses the
    stored tags the file does not list (a song without tags in the file keeps its own)."""
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
        if existing and update:
            _remove_stale_tags(conn, runs, existing, song_ids, result)
        if existing:
            runs = [(sid, new) for sid, tids in runs
                    if (new := [t for t in tids if (sid, t) not in existing])]
    n_links = sum(len(tids) for _sid, tids in runs)
    with bulk_load(conn, "song_tags", n_links):
        bulk_insert_runs(conn, "song_tags", ("song_id", "tag_id"), runs, None)
    result.song_tags_added = n_links


def _remove_stale_tags(conn: Connection, runs: list[tuple[int, list[int]]],
                       existing: set[tuple[int, int]], song_ids: dict[str, int],
                       result: ImportResult) -> None:
    """Delete the stored links of the songs in ``runs`` to tags their ``runs`` lack."""
    listed = {sid: set(tids) for sid, tids in runs}
    stale = sorted((sid, t) for sid, t in existing if sid in listed and t not in listed[sid])
    if not stale:
        return
    execute_many(conn, "DELETE FROM song_tags WHERE song_id = ? AND tag_id = ?", stale)
    external = {sid: ext for ext, sid in song_ids.items()}
    retagged = sorted({external[sid] for sid, _t in stale})
    result.songs_retagged, result.song_tags_removed = len(retagged), len(stale)
    result.notes.append(f"{len(retagged):,} songs' tags replaced by the file's "
                        f"({example(retagged)}; {len(stale):,} tag links removed)")


class _RollbackDryRunError(Exception):
    """Ends a dry run's transaction."""


def write_catalog(engine: Engine, catalog: ParsedCatalog, *, progress: bool = True,
                  update: bool = False, snapshot: bool = False,
                  max_delete: float = MAX_DELETE, dry_run: bool = False) -> ImportResult:
    """Write ``catalog`` in one transaction and record an ``import_runs`` row (what was
    added; what was changed goes into the logged summary). ``update``: the file's titles,
    artists, playlist items and names replace the stored ones (:mod:`recsys.ingest.updates`).
    ``snapshot``: ``update``, and the source's stored playlists the file does not name are
    deleted, at most ``max_delete`` of them (:mod:`recsys.ingest.snapshot`). ``dry_run``:
    everything is done, counted and then rolled back (the summary says so).

    Returns:
        The counts of what was added, what was already present and what was changed.
    """
    t0 = time.perf_counter()
    result = ImportResult(kind=catalog.kind, source=catalog.source, path=catalog.path,
                          notes=list(catalog.notes))
    with engine.connect() as conn, gc_paused():
        sqlite = _sqlite_import_settings(conn)
        try:
            with conn.begin():
                _write(conn, catalog, result, progress, t0, update or snapshot,
                       max_delete if snapshot else None)
                if dry_run:
                    raise _RollbackDryRunError
        except _RollbackDryRunError:
            result.dry_run, result.run_id = True, None
        finally:
            if sqlite is not None:
                conn.rollback()
                for name, value in sqlite.items():
                    conn.exec_driver_sql(f"PRAGMA {name}={value}")
                conn.commit()
    result.duration_s = time.perf_counter() - t0
    # the callers (import, sample, retrain) print the summary: log it to the file only
    log.info("%s", result.summary(), extra={"printed": True})
    if not result.dry_run:  # committed: after a large import, fresh estimates
        refresh_statistics(engine, result.source, written_rows(result))
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


#: PostgreSQL advisory lock key of imports: one at a time (two imports adding the same new tag
#: would otherwise collide on its unique name). SQLite has a single writer anyway.
IMPORT_LOCK_KEY = 0x70327620_696D7074  # "p2v impt"


def one_import_at_a_time(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        return
    key = {"k": IMPORT_LOCK_KEY}
    if not conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%(k)s)", key).scalar():
        log.info("another import is running; waiting for it to finish")
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", key)


def _note_other_sources(conn: Connection, source: str, result: ImportResult) -> None:
    """A new source beside existing ones is a second catalog: songs are never matched across
    sources, so re-importing a subset under another name duplicates it. Say so."""
    others = raw_rows(conn, "SELECT source, COUNT(*) FROM songs WHERE source <> ? "
                      "GROUP BY source ORDER BY source", (source,))
    if not others:
        return
    held = ", ".join(f"{name!r} ({count:,} songs)" for name, count in others)
    note = (f"new source {source!r} beside {held}: songs are not matched across sources "
            "(to add to an existing source, import with its name as --source)")
    result.notes.append(note)
    log.warning("%s", note)


def _write(conn: Connection, catalog: ParsedCatalog, result: ImportResult, progress: bool,
           t0: float, update: bool, max_delete: float | None) -> None:
    """The import's writes; ``max_delete`` is None unless it is a snapshot."""
    one_import_at_a_time(conn)
    started = utcnow()
    source = catalog.source
    song_ids = _id_map(conn, "songs", source)
    had_songs = bool(song_ids)
    if not had_songs and catalog.songs:
        _note_other_sources(conn, source, result)
    new_songs = [s for ext, s in catalog.songs.items() if ext not in song_ids]
    pl_ids = _id_map(conn, "playlists", source)
    deletions = Deletions() if max_delete is None else plan_deletions(
        conn, catalog, pl_ids, max_delete)
    new_pls = [p for p in catalog.playlists if p.external_id not in pl_ids]
    changes = Changes(update)
    if len(new_songs) < len(catalog.songs):  # the file names rows already present
        plan_songs(conn, catalog, song_ids, changes)
    if len(new_pls) < len(catalog.playlists):
        plan_playlists(conn, catalog, song_ids, pl_ids, changes)
    n_items = sum(len(p.songs) for p in new_pls)
    result.songs_existing = len(catalog.songs) - len(new_songs)
    result.playlists_existing = len(catalog.playlists) - len(new_pls)
    with make_progress(len(new_songs) + len(new_pls) + n_items + changes.replaced_items,
                       f"import {source}", progress) as bar:
        rows = ((source, s.external_id, s.title, s.artist, s.available,
                 song_search_key(s.title, s.artist)) for s in new_songs)
        with bulk_load(conn, "songs", len(new_songs)):
            bulk_insert(conn, "songs", SONG_COLUMNS, rows, bar)
        if new_songs:
            song_ids = _id_map(conn, "songs", source)
        apply_song_changes(conn, changes)
        _write_tags(conn, catalog, song_ids, had_songs, result, update)
        if any(p.name is not None for p in new_pls):
            rows = ((source, p.external_id, p.name) for p in new_pls)
            bulk_insert(conn, "playlists", ("source", "external_id", "name"), rows, bar)
        else:  # no names (Yes.com): binding None costs sqlite3 an adapter lookup per row
            bulk_insert_column(conn, "playlists", {"source": source}, "external_id",
                               [p.external_id for p in new_pls], bar)
        if new_pls:
            pl_ids = _id_map(conn, "playlists", source)
        # one run per playlist: (playlist_id, song external ids), position = index; in
        # primary-key order since new playlists get increasing ids in file order, after the
        # replaced ones (older ids), whose old items go first
        delete_replaced_items(conn, changes)
        delete_playlists(conn, deletions)
        runs = chain(sorted((pid, pl.songs) for pid, pl in changes.replaced),
                     ((pl_ids[pl.external_id], pl.songs) for pl in new_pls))
        with bulk_load(conn, "playlist_items", n_items + changes.replaced_items):
            bulk_insert_runs(conn, "playlist_items", ("playlist_id", "position", "song_id"),
                             runs, bar, value_ids=song_ids)
    record(changes, result, catalog.path or catalog.kind)
    record_deletions(deletions, result)
    result.songs_added = len(new_songs)
    result.playlists_added = len(new_pls)
    result.items_added = n_items
    result.duration_s = time.perf_counter() - t0
    run = insert(_runs).values(
        kind=catalog.kind, source=source, path=recorded_path(catalog.path), started_at=started,
        finished_at=utcnow(), songs_added=result.songs_added,
        playlists_added=result.playlists_added, items_added=result.items_added,
        duration_s=result.duration_s, changes=result.changes(),
    ).returning(_runs.c.id)
    result.run_id = conn.execute(run).scalar_one()
