"""Read the catalog back for training: playlists in batches and a snapshot of the counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, func, select

from recsys.db.models import ImportRun, Playlist, PlaylistItem, Song, Tag
from recsys.ingest.fastinsert import raw_rows


def iter_playlist_batches(
    engine: Engine, batch_size: int = 5000, source: str | None = None
) -> Iterator[list[list[int]]]:
    """Stream playlists as lists of song DB ids (ordered by position), by playlist id.

    Keyset pagination: each batch is ONE query over the next ``batch_size`` playlists
    (``id > last id``), so the table is never loaded whole and new rows appended during the
    scan are simply picked up at the end. Playlists without items are skipped, so a batch
    may hold fewer than ``batch_size`` lists (a batch is never empty).

    Args:
        engine: database engine.
        batch_size: playlists per query.
        source: only playlists of this source (all sources when None).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    where = "WHERE id > ?"
    if source is not None:
        # SQLite: "+source" keeps the planner on the primary key (a range scan in id order)
        # instead of the (source, external_id) index, which would re-sort the whole source
        # for every batch.
        where += " AND +source = ?" if engine.dialect.name == "sqlite" else " AND source = ?"
    sql = (
        "SELECT p.id, pi.song_id FROM "
        f"(SELECT id FROM playlists {where} ORDER BY id LIMIT ?) p "
        "LEFT JOIN playlist_items pi ON pi.playlist_id = p.id "
        "ORDER BY p.id, pi.position"
    )
    last = 0
    while True:
        params = (last, source, batch_size) if source is not None else (last, batch_size)
        with engine.connect() as conn:
            rows = raw_rows(conn, sql, params)
        if not rows:
            return
        batch: list[list[int]] = []
        current_id = None
        for pid, song_id in rows:
            if pid != current_id:
                current_id = pid
                batch.append([])
            if song_id is not None:
                batch[-1].append(song_id)
        last = rows[-1][0]
        batch = [songs for songs in batch if songs]
        if batch:
            yield batch


def catalog_snapshot(engine: Engine) -> dict[str, Any]:
    """Counts describing the catalog (for ``training_runs.data_snapshot``).

    Returns:
        ``songs``, ``playlists``, ``items``, ``tags`` (ints), ``sources`` (source name ->
        ``{"songs": n, "playlists": n}``), ``max_song_id``, ``max_playlist_id`` and
        ``last_import_run_id`` (int or None when the table is empty).
    """
    with engine.connect() as conn:
        songs, max_song = conn.execute(select(func.count(), func.max(Song.id))).one()
        playlists, max_pl = conn.execute(select(func.count(), func.max(Playlist.id))).one()
        items = conn.execute(select(func.count()).select_from(PlaylistItem)).scalar_one()
        tags = conn.execute(select(func.count()).select_from(Tag)).scalar_one()
        last_run = conn.execute(select(func.max(ImportRun.id))).scalar_one()
        sources: dict[str, dict[str, int]] = {}
        for name, count in conn.execute(
            select(Song.source, func.count()).group_by(Song.source)
        ):
            sources.setdefault(name, {"songs": 0, "playlists": 0})["songs"] = count
        for name, count in conn.execute(
            select(Playlist.source, func.count()).group_by(Playlist.source)
        ):
            sources.setdefault(name, {"songs": 0, "playlists": 0})["playlists"] = count
    return {
        "songs": songs,
        "playlists": playlists,
        "items": items,
        "tags": tags,
        "sources": dict(sorted(sources.items())),
        "max_song_id": max_song,
        "max_playlist_id": max_pl,
        "last_import_run_id": last_run,
    }
