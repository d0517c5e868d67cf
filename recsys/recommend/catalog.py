"""Catalog look-ups in the database for what a model bundle does not know (cold start).

Every method is one batched query, never one query per item.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session, aliased

from recsys.db.models import UNAVAILABLE_SQL, PlaylistItem, Song

#: Co-occurrence fallback: count at most this many (the newest) playlists holding each seed.
MAX_SEED_PLAYLISTS = 500


class Catalog(Protocol):
    """What the recommendation service asks of the catalog."""

    def songs(self, ids: Collection[int]) -> dict[int, dict[str, Any]]: ...

    def songs_by_external(self, source: str,
                          external_ids: Collection[str]) -> dict[str, dict[str, Any]]: ...

    def cooccurring(self, ids: Collection[int], limit: int,
                    exclude: Collection[int] = ()) -> list[tuple[int, int]]: ...

    def same_artist(self, artists: Collection[str], limit: int,
                    exclude: Collection[int] = (),
                    sources: Collection[str] = ()) -> list[int]: ...


class SqlCatalog:
    """:class:`Catalog` backed by the SQL database.

    ``session`` may be a zero-argument callable returning the session: it is then called on
    first use only, so requests answered from the model alone never create one.

    One is made per request: songs found by :meth:`songs_by_external` are kept for its
    :meth:`songs`, so a cold-start seed named by its external id costs one query, not two.
    """

    def __init__(self, session: Session | Callable[[], Session]) -> None:
        self._session = session
        self._known: dict[int, dict[str, Any]] = {}

    @property
    def session(self) -> Session:
        if not isinstance(self._session, Session):
            self._session = self._session()
        return self._session

    def songs(self, ids: Collection[int]) -> dict[int, dict[str, Any]]:
        """Metadata of the given song ids that exist."""
        out = {i: self._known[i] for i in ids if i in self._known}
        rest = [i for i in ids if i not in out]
        if rest:
            rows = self.session.scalars(select(Song).where(Song.id.in_(rest)))
            out.update((song.id, song.to_dict()) for song in rows)
        return out

    def songs_by_external(self, source: str,
                          external_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """Metadata of the songs of ``source`` with the given external ids that exist, by
        external id (one query on the ``(source, external_id)`` unique index)."""
        if not external_ids:
            return {}
        rows = self.session.scalars(select(Song).where(
            Song.source == source, Song.external_id.in_(list(dict.fromkeys(external_ids)))))
        found = {song.external_id: song.to_dict() for song in rows}
        self._known.update((song["id"], song) for song in found.values())
        return found

    def cooccurring(self, ids: Collection[int], limit: int,
                    exclude: Collection[int] = ()) -> list[tuple[int, int]]:
        """Available songs sharing playlists with ``ids``: ``(song_id, n_playlists)``, most
        first.

        Only the newest ``MAX_SEED_PLAYLISTS`` playlists holding each seed are counted, so a
        popular new song costs one bounded query (a song in 3,000 playlists took 0.1-0.2 s
        per seed on PostgreSQL before the cap).
        """
        if not ids:
            return []
        other = aliased(PlaylistItem)
        banned = list({*ids, *exclude})
        pairs = (
            select(PlaylistItem.song_id, PlaylistItem.playlist_id)
            .where(PlaylistItem.song_id.in_(list(ids)))
            .distinct()
            .subquery()
        )
        newest = func.row_number().over(partition_by=pairs.c.song_id,
                                        order_by=pairs.c.playlist_id.desc())
        ranked = select(pairs.c.playlist_id, newest.label("rank")).subquery()
        playlists = select(ranked.c.playlist_id).where(ranked.c.rank <= MAX_SEED_PLAYLISTS)
        n = func.count(func.distinct(other.playlist_id)).label("n")
        query = (
            select(other.song_id, n)
            .join(Song, Song.id == other.song_id)
            .where(other.playlist_id.in_(playlists),
                   other.song_id.not_in(banned), Song.available)
            .group_by(other.song_id)
            .order_by(n.desc(), other.song_id)
            .limit(limit)
        )
        return [(int(s), int(c)) for s, c in self.session.execute(query)]

    def same_artist(self, artists: Collection[str], limit: int,
                    exclude: Collection[int] = (),
                    sources: Collection[str] = ()) -> list[int]:
        """Ids of available songs by any of ``artists``, ignoring case (empty names are
        ignored), of ``sources`` only when given (each source is its own catalog).

        Exact names always match; other spellings match by the database's ``lower()``, which
        on SQLite folds ASCII letters only.
        """
        names = [a for a in artists if a]
        if not names:
            return []
        lowered = sorted({a.lower() for a in names})
        conditions = [or_(Song.artist.in_(names), func.lower(Song.artist).in_(lowered)),
                      Song.available]
        if sources:  # `|| ''` keeps it a filter: SQLite (no statistics) would otherwise
            # search the (source, external_id) index and read every song of the source
            # (0.42 s at 250,000 songs) instead of the artist indexes (docs/benchmarks.md §17)
            conditions.append((Song.source + "").in_(sorted(sources)))
        query = select(Song.id).where(*conditions).order_by(Song.id).limit(limit + len(exclude))
        found = [int(i) for i in self.session.scalars(query) if int(i) not in set(exclude)]
        return found[:limit]


def hidden_song_ids(engine: Engine, timeout_ms: int = 5000) -> frozenset[int]:
    """Ids of the songs never to recommend (``songs.available`` false): one read of a partial
    index holding only them. On PostgreSQL the statement gives up after ``timeout_ms`` (e.g.
    behind an import's lock on the table; ``0``: no limit)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql" and timeout_ms > 0:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        return frozenset(conn.exec_driver_sql(UNAVAILABLE_SQL).scalars())


def seed_artists(songs: Sequence[dict[str, Any]]) -> list[str]:
    """Distinct artists of the seed songs, in order."""
    return list(dict.fromkeys(s.get("artist", "") for s in songs if s.get("artist")))
