"""What the dashboard pages show, read from the database and the model store.

Every function issues a fixed number of queries (or one per chunk of ids), never one per row.
Song details reuse the API's query (:mod:`recsys.api.queries`); the dashboard's song search
is its own: every word in the title or the artist (ignoring case and accents, like the API's),
so ``storm gold electric ghosts`` finds "Storm Gold" by Electric Ghosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, false, func, select, text
from sqlalchemy.orm import Session

from recsys.api.queries import matches, song_detail
from recsys.db.counts import Count, count_per_value, count_table
from recsys.db.models import (
    ID_MAX,
    ImportRun,
    ModelEvent,
    Playlist,
    PlaylistItem,
    Song,
    SongTag,
    Tag,
    TrainingRun,
    song_sources,
)
from recsys.db.search_key import fold
from recsys.index.bundle import BundleError
from recsys.index.registry import list_models
from recsys.index.store import ModelStore

__all__ = [
    "data_counts", "latest_imports", "model_events", "model_rows", "search_songs",
    "song_detail", "song_playlist_count", "top_tags", "training_run", "training_runs",
]

#: Hidden songs, written like the partial index's predicate so that both databases use it.
HIDDEN = text("NOT songs.available")
MAX_WORDS = 8  # words of a search that are matched (each is one more condition)
CHUNK = 900  # ids per IN (...) list, below every database's parameter limit


def _count(session: Session, entity) -> int:
    return int(session.scalar(select(func.count()).select_from(entity)) or 0)


def data_counts(session: Session) -> dict[str, Any]:
    """Totals of every catalog table, hidden songs, and songs / playlists per source; on
    PostgreSQL, large tables and sources are estimated (:mod:`recsys.db.counts`): the names
    of the estimated figures are in ``approximate`` (and in each source's row)."""
    songs = count_per_value(session, Song.source)
    playlists = count_per_value(session, Playlist.source)
    per_source, approximate = [], set()
    for source in sorted(songs.keys() | playlists.keys()):
        row = {"songs": songs.get(source, Count(0)), "playlists": playlists.get(source, Count(0))}
        inexact = sorted(name for name, count in row.items() if not count.exact)
        approximate.update(inexact)
        per_source.append({"source": source, **{k: c.n for k, c in row.items()},
                           "approximate": inexact})
    tables = {"items": count_table(session, PlaylistItem), "tags": count_table(session, Tag),
              "song_tags": count_table(session, SongTag)}
    approximate.update(name for name, count in tables.items() if not count.exact)
    return {
        "songs": sum(c.n for c in songs.values()),
        "hidden": int(session.scalar(select(func.count()).select_from(Song).where(HIDDEN)) or 0),
        "playlists": sum(c.n for c in playlists.values()),
        **{name: count.n for name, count in tables.items()},
        "per_source": per_source,
        "approximate": sorted(approximate),
    }


def search_words(q: str | None) -> list[str]:
    """The folded words of a search (:func:`recsys.db.search_key.fold`: lower case, no
    accents; at most ``MAX_WORDS``); words without a letter or digit (a dash between title
    and artist) are dropped unless nothing else is left."""
    words = fold(q).split()
    kept = [w for w in words if any(c.isalnum() for c in w)] or words
    return kept[:MAX_WORDS]


def search_songs(session: Session, q: str | None, limit: int, offset: int,
                 hidden_only: bool = False) -> tuple[list[dict[str, Any]], int]:
    """One page of songs (ordered by id) whose title or artist contains every word of ``q``
    (ignoring case and accents, ``%`` and ``_`` literal), with ``available``, and the total
    count."""
    conditions = [HIDDEN] if hidden_only else []
    words = search_words(q)
    conditions += [matches(word) for word in words]
    if q and q.strip() and not words:  # only combining accents: nothing to look for
        conditions.append(false())
    total = session.scalar(select(func.count()).select_from(Song).where(*conditions)) or 0
    rows = session.scalars(
        select(Song).where(*conditions).order_by(Song.id).limit(limit).offset(offset))
    return [{**song.to_dict(), "available": song.available} for song in rows], int(total)


def songs_by_id(session: Session, q: str | None) -> list[dict[str, Any]]:
    """Songs whose catalog id or external id (of any source) is ``q`` exactly: operators get
    asked about a song by an app's own id. Only a single token is looked up (ids hold no
    spaces); the external id is searched in the unique ``(source, external_id)`` index once
    per source (:func:`~recsys.db.models.song_sources`), never by reading every song."""
    token = (q or "").strip()
    if not token or len(token) > 128 or any(c.isspace() for c in token):
        return []
    sources = list(session.scalars(song_sources()))  # a few: listed, so that every planner
    rows = list(session.scalars(select(Song).where(  # searches (source, external_id)
        Song.source.in_(sources), Song.external_id == token).order_by(Song.id).limit(20)))
    if token.isascii() and token.isdigit() and 1 <= int(token) <= ID_MAX:
        by_id = session.get(Song, int(token))  # a second query: an OR would read the index
        if by_id is not None and by_id not in rows:  # of (source, external_id) whole
            rows = sorted([*rows, by_id], key=lambda song: song.id)[:20]
    return [{**song.to_dict(), "available": song.available} for song in rows]


def latest_imports(session: Session, limit: int = 10) -> list[ImportRun]:
    """The most recent imports, newest first."""
    return list(session.scalars(
        select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc()).limit(limit)))


def model_events(session: Session, limit: int = 50) -> list[ModelEvent]:
    """Promotions and rollbacks, newest first."""
    return list(session.scalars(select(ModelEvent).order_by(ModelEvent.id.desc()).limit(limit)))


def training_runs(session: Session, limit: int, offset: int) -> tuple[list[TrainingRun], int]:
    """One page of training runs (newest first) and their total number."""
    total = _count(session, TrainingRun)
    rows = session.scalars(select(TrainingRun).order_by(
        TrainingRun.started_at.desc(), TrainingRun.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def latest_training_run(session: Session) -> TrainingRun | None:
    """The most recent training run (any status), or None."""
    return session.scalars(select(TrainingRun).order_by(
        TrainingRun.started_at.desc(), TrainingRun.id.desc()).limit(1)).first()


def training_run(session: Session, run_id: int) -> TrainingRun | None:
    """One training run, or None."""
    return session.get(TrainingRun, run_id)


def song_playlist_count(session: Session, song_id: int) -> int:
    """In how many playlists a song appears."""
    query = select(func.count(func.distinct(PlaylistItem.playlist_id))).where(
        PlaylistItem.song_id == song_id)
    return int(session.scalar(query) or 0)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


def top_tags(session: Session, song_ids: Sequence[int]) -> dict[int, str]:
    """Per song, its tag that is most common in the whole catalog (songs without tags: absent).

    One query for the tag frequencies, then one per chunk of ``CHUNK`` song ids.
    """
    if not song_ids:
        return {}
    freq = {tid: (int(n), name) for tid, name, n in session.execute(
        select(Tag.id, Tag.name, func.count(SongTag.song_id))
        .join(SongTag, SongTag.tag_id == Tag.id).group_by(Tag.id, Tag.name))}
    best: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(list(song_ids)):
        pairs = session.execute(
            select(SongTag.song_id, SongTag.tag_id).where(SongTag.song_id.in_(chunk)))
        for song_id, tag_id in pairs:
            n, name = freq.get(tag_id, (0, ""))
            seen = best.get(song_id)
            # the most frequent tag wins; ties go to the alphabetically first name
            if seen is None or n > seen[0] or (n == seen[0] and name < seen[1]):
                best[song_id] = (n, name)
    return {song_id: name for song_id, (_, name) in best.items()}


def model_rows(engine: Engine, store: ModelStore) -> list[dict[str, Any]]:
    """Every committed version (newest first) with metrics, data snapshot and index params.

    Index parameters and measured recall come from each bundle's manifest (files are not
    verified here; promotion verifies them).
    """
    rows = list_models(engine, store)
    for row in rows:
        if row.get("error"):
            continue
        try:
            manifest = store.open(row["version"], verify=False).manifest
        except BundleError as exc:
            row["error"] = str(exc)
            continue
        row["indexes"] = manifest.get("indexes", {})
        row["lists"] = manifest.get("neighbours") or {}
        row["n_songs"] = manifest.get("n_songs")
        row["dim"] = manifest.get("dim")
        row["training_run_id"] = manifest.get("training_run_id")
    return rows
