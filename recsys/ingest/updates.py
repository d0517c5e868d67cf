"""What an import changes in rows already in the database (its source's songs and playlists).

Rows are keyed by ``(source, external_id)``; a file may name rows imported before:

- **By default** an import only fills in what is missing: a song's empty title or artist, a
  playlist's missing name, from the file's non-empty values. It never overwrites a non-empty
  value and never blanks one. What the file would change beyond that is reported (notes, and
  the log) and left as it is.
- **With** ``update`` the file is authoritative for what it contains: the songs it names get
  its non-empty title and artist where they differ (``search_key`` recomputed, ``available``
  untouched: hidden songs stay hidden), the playlists it re-sends with other songs or another
  order get their items replaced by the file's (positions ``0..n-1``), and a playlist it names
  otherwise is renamed. Rows the file does not mention are untouched (a ``snapshot`` import
  also deletes the source's playlists it does not name: :mod:`recsys.ingest.snapshot`).
  Tags are added by the writer; with ``update`` a song the file gives tags loses its others.

Everything runs inside the import's transaction, after its lock (``writer``): the stored
values are read there, so a concurrent import cannot slip between the comparison and the
write, and a failure rolls the updates back with the rest. Re-importing the same file changes
nothing the second time.

Stored rows are read only for the rows the file names (``id IN`` chunks on SQLite, one
``= ANY(array)`` per 50,000 on PostgreSQL). Updates are one ``executemany`` (PostgreSQL:
psycopg's pipelined ``executemany``; docs/benchmarks.md §9 compares it with a temporary table
and ``UPDATE ... FROM``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from recsys.db.search_key import song_search_key
from recsys.ingest.fastinsert import raw_rows
from recsys.ingest.model import ImportResult, ParsedCatalog, PlaylistRecord

log = logging.getLogger("recsys.ingest")

#: Ids per ``IN (...)`` query on SQLite (below every SQLite's variable limit), and per
#: ``= ANY(array)`` query on PostgreSQL.
SQLITE_CHUNK = 500
PG_CHUNK = 50_000


@dataclass
class Changes:
    """The changes an import makes to existing rows (and those it leaves, without update)."""

    update: bool
    #: ``(title, artist, search_key, id)`` of the songs to update
    song_rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    songs_filled: list[str] = field(default_factory=list)
    songs_updated: list[str] = field(default_factory=list)
    songs_ignored: list[str] = field(default_factory=list)
    #: ``(name, id)`` of the playlists to rename
    name_rows: list[tuple[str, int]] = field(default_factory=list)
    names_filled: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    names_ignored: list[str] = field(default_factory=list)
    #: ``(playlist id, record)`` of the playlists whose items are replaced
    replaced: list[tuple[int, PlaylistRecord]] = field(default_factory=list)
    items_ignored: list[str] = field(default_factory=list)

    @property
    def replaced_items(self) -> int:
        return sum(len(p.songs) for _pid, p in self.replaced)


def id_chunks(conn: Connection, sql: str, ids: Sequence[int]) -> Iterator[tuple[str, tuple]]:
    """``(statement, parameters)`` of ``sql`` per chunk of ``ids``, its ``{ids}`` placeholder
    made ``IN (?, ...)`` (SQLite) or ``= ANY(?)`` (PostgreSQL, one array per chunk)."""
    if conn.dialect.name == "postgresql":
        for start in range(0, len(ids), PG_CHUNK):
            yield sql.format(ids="= ANY(?)"), (list(ids[start:start + PG_CHUNK]),)
        return
    for start in range(0, len(ids), SQLITE_CHUNK):
        chunk = tuple(ids[start:start + SQLITE_CHUNK])
        yield sql.format(ids=f"IN ({', '.join('?' * len(chunk))})"), chunk


def rows_for_ids(conn: Connection, sql: str, ids: Sequence[int]) -> Iterator[tuple]:
    """Rows of ``sql`` whose ``{ids}`` placeholder is ``IN (...)`` / ``= ANY(...)`` over ``ids``,
    in chunks (a query's ``ORDER BY`` applies per chunk)."""
    for statement, params in id_chunks(conn, sql, ids):
        yield from raw_rows(conn, statement, params)


def execute_many(conn: Connection, sql: str, rows: Sequence[tuple]) -> None:
    """``executemany`` of ``sql`` (``?`` placeholders) on the DB-API cursor."""
    if not rows:
        return
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, rows)
    except conn.dialect.dbapi.Error as exc:  # same exception classes as SQLAlchemy's
        raise DBAPIError.instance(sql, None, exc, conn.dialect.dbapi.Error) from exc
    finally:
        cursor.close()


def plan_songs(conn: Connection, catalog: ParsedCatalog, song_ids: dict[str, int],
               changes: Changes) -> None:
    """Compare the file's songs already in the database (those it gives a title or an artist)
    with their stored title and artist."""
    named = {song_ids[ext]: song for ext, song in catalog.songs.items()
             if ext in song_ids and (song.title or song.artist)}
    stored = {sid: (title, artist) for sid, title, artist in rows_for_ids(
        conn, "SELECT id, title, artist FROM songs WHERE id {ids}", list(named))}
    for sid, song in named.items():
        old = stored[sid]
        new, filled, updated, ignored = list(old), False, False, False
        for i, value in enumerate((song.title, song.artist)):
            if not value or value == old[i]:
                continue
            if not old[i]:
                new[i], filled = value, True
            elif changes.update:
                new[i], updated = value, True
            else:
                ignored = True
        if filled or updated:
            changes.song_rows.append((new[0], new[1], song_search_key(*new), sid))
            (changes.songs_updated if updated else changes.songs_filled).append(
                song.external_id)
        if ignored:
            changes.songs_ignored.append(song.external_id)


def plan_playlists(conn: Connection, catalog: ParsedCatalog, song_ids: dict[str, int],
                   pl_ids: dict[str, int], changes: Changes) -> None:
    """Compare the playlists the file re-sends with their stored items (song ids in position
    order) and names. ``song_ids`` may lack the file's new songs: a playlist holding one
    differs anyway."""
    resent = [(pl_ids[p.external_id], p) for p in catalog.playlists if p.external_id in pl_ids]
    if not resent:
        return
    stored: dict[int, list[int]] = {}
    for pid, sid in rows_for_ids(
            conn, "SELECT playlist_id, song_id FROM playlist_items WHERE playlist_id {ids} "
            "ORDER BY playlist_id, position", [pid for pid, _p in resent]):
        stored.setdefault(pid, []).append(sid)
    lookup = song_ids.get
    for pid, playlist in resent:
        if list(map(lookup, playlist.songs)) != stored.get(pid, []):
            if changes.update:
                changes.replaced.append((pid, playlist))
            else:
                changes.items_ignored.append(playlist.external_id)
    named = {pid: p for pid, p in resent if p.name}
    names = dict(rows_for_ids(conn, "SELECT id, name FROM playlists WHERE id {ids}",
                              list(named)))
    for pid, playlist in named.items():
        old = names[pid]
        if playlist.name == old:
            continue
        if not old or changes.update:
            changes.name_rows.append((playlist.name, pid))
            (changes.renamed if old else changes.names_filled).append(playlist.external_id)
        else:
            changes.names_ignored.append(playlist.external_id)


def apply_song_changes(conn: Connection, changes: Changes) -> None:
    """Write the new titles, artists and search keys, and the new playlist names."""
    execute_many(conn, "UPDATE songs SET title = ?, artist = ?, search_key = ? WHERE id = ?",
                 changes.song_rows)
    execute_many(conn, "UPDATE playlists SET name = ? WHERE id = ?", changes.name_rows)


def delete_by_ids(conn: Connection, table: str, column: str, ids: Sequence[int]) -> None:
    """``DELETE FROM table WHERE column IN ids``, in chunks."""
    for statement, params in id_chunks(conn, f"DELETE FROM {table} WHERE {column} {{ids}}", ids):
        execute_many(conn, statement, [params])


def delete_replaced_items(conn: Connection, changes: Changes) -> None:
    """Delete the items of the playlists about to be re-written from the file."""
    delete_by_ids(conn, "playlist_items", "playlist_id", [pid for pid, _p in changes.replaced])


def example(ids: list[str]) -> str:
    return ", ".join(map(repr, ids[:3])) + (", ..." if len(ids) > 3 else "")


def record(changes: Changes, result: ImportResult, where: str) -> None:
    """Counts and notes of ``changes`` on ``result``; what was left as it is is also logged
    as a warning (the printed summary carries it)."""
    c = changes
    result.songs_filled, result.songs_updated = len(c.songs_filled), len(c.songs_updated)
    result.playlists_replaced, result.items_replaced = len(c.replaced), c.replaced_items
    result.playlists_named, result.playlists_renamed = len(c.names_filled), len(c.renamed)
    done = []
    if c.songs_filled:
        done.append(f"{len(c.songs_filled):,} songs' missing titles/artists filled in "
                    f"({example(c.songs_filled)})")
    if c.names_filled:
        done.append(f"{len(c.names_filled):,} playlists' missing names filled in "
                    f"({example(c.names_filled)})")
    if c.songs_updated:
        done.append(f"{len(c.songs_updated):,} songs updated (title/artist from the file: "
                    f"{example(c.songs_updated)})")
    if c.replaced:
        pids = [p.external_id for _pid, p in c.replaced]
        done.append(f"{len(pids):,} playlists replaced (items from the file: {example(pids)}; "
                    f"{c.replaced_items:,} items written)")
    if c.renamed:
        done.append(f"{len(c.renamed):,} playlists renamed ({example(c.renamed)})")
    result.notes.extend(done)
    kept = []
    if c.songs_ignored:
        kept.append(f"{len(c.songs_ignored):,} song(s) already in the database have another "
                    f"title or artist in this file ({example(c.songs_ignored)}): the database "
                    "keeps its values (import with --update to apply the file's)")
    if c.items_ignored:
        kept.append(f"{len(c.items_ignored):,} playlist(s) already in the database have other "
                    f"songs in this file ({example(c.items_ignored)}): the database keeps its "
                    "version (import with --update to replace their items with the file's)")
    if c.names_ignored:
        kept.append(f"{len(c.names_ignored):,} playlist(s) already in the database have another "
                    f"name in this file ({example(c.names_ignored)}): the database keeps its "
                    "names (import with --update to apply the file's)")
    for note in kept:  # the summary line printed on stdout carries it: log it to the file
        log.warning("%s: %s", where, note, extra={"printed": True})
    result.notes.extend(kept)
