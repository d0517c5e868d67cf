"""Catalog, playlist, run and model-registry tables (SQLAlchemy 2.x typed mappings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    select,
    text,
    true,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Mapper, mapped_column
from sqlalchemy.sql import Select

from recsys.db.base import Base, JSONType, TZDateTime, utcnow
from recsys.db.search_key import song_search_key

#: Largest id the integer primary keys hold (32-bit on every backend): larger ids in a URL are
#: simply unknown, never an overflow error.
ID_MAX = 2**31 - 1


def _created_at() -> Mapped[datetime]:
    return mapped_column(TZDateTime(), default=utcnow, server_default=func.now(), nullable=False)


def _search_key_of_row(context: DefaultExecutionContext) -> str:
    """Column default of ``songs.search_key``: the key of the inserted title and artist."""
    row = context.get_current_parameters()
    return song_search_key(row.get("title"), row.get("artist"))


class Song(Base):
    """A song of one source (dataset or catalog); ``external_id`` is unique per source.

    ``available`` false: the song is never recommended (a placeholder such as Yes.com's
    ``MG_DELETED``, or a takedown), though its plays still train models and it still works as
    a seed (migration 0006; ``python -m recsys songs hide|unhide``).

    ``search_key``: title and artist folded for the accent- and case-insensitive search
    (:mod:`recsys.db.search_key`, migration 0007). Every insert computes it (the column's
    default, unless given: the importers give it); an ORM change of the title or the artist
    recomputes it at flush. A Core ``UPDATE`` that changes them must set it too.
    """

    __tablename__ = "songs"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_songs_artist", "artist"),
        Index("ix_songs_title", "title"),
        # the few hidden songs, read by every server every few seconds (UNAVAILABLE_SQL)
        Index("ix_songs_unavailable", "id", postgresql_where=text("NOT available"),
              sqlite_where=text("NOT available")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    artist: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=true())
    search_key: Mapped[str] = mapped_column(Text, nullable=False, default=_search_key_of_row,
                                            server_default="")
    created_at: Mapped[datetime] = _created_at()

    def to_dict(self) -> dict[str, Any]:
        """Public JSON shape of a song."""
        return {
            "id": self.id,
            "source": self.source,
            "external_id": self.external_id,
            "title": self.title,
            "artist": self.artist,
        }


#: Ids of the songs never to recommend: matches the partial index's predicate literally, so
#: both databases read the index instead of scanning the table.
UNAVAILABLE_SQL = "SELECT id FROM songs WHERE NOT available"

def distinct_by_index(column: InstrumentedAttribute, name: str) -> Select:
    """``SELECT`` of the distinct values of ``column``, by a loose index scan: one probe of an
    index led by the column per value (a recursive CTE, on SQLite and PostgreSQL), not a read
    of every row. Only for columns with few values that lead an index (``source``)."""
    found = select(func.min(column).label("value")).cte(name, recursive=True)
    after = select(func.min(column)).where(column > found.c.value).scalar_subquery()
    found = found.union_all(select(after).where(found.c.value.is_not(None)))
    return select(found.c.value).where(found.c.value.is_not(None))


def song_sources() -> Select:
    """``SELECT`` of the distinct ``songs.source`` values (:func:`distinct_by_index`, on the
    ``(source, external_id)`` index). ``source IN (song_sources()) AND external_id = X`` is a
    search of that index per source where ``external_id = X`` alone reads the whole table."""
    return distinct_by_index(Song.source, "song_sources")


# The cold-start fallback matches artists regardless of case (migration 0004).
Index("ix_songs_artist_lower", func.lower(Song.artist))


@event.listens_for(Song, "before_update")
def _refresh_search_key(_mapper: Mapper, _conn: object, song: Song) -> None:
    """A title or artist changed through the ORM gets its new key in the same UPDATE."""
    attrs = inspect(song).attrs
    if attrs.title.history.has_changes() or attrs.artist.history.has_changes():
        song.search_key = song_search_key(song.title, song.artist)


class Tag(Base):
    """A free-text tag (genre, mood...), shared by all sources."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)


class SongTag(Base):
    """Association of songs and tags."""

    __tablename__ = "song_tags"
    __table_args__ = (Index("ix_song_tags_tag_id", "tag_id"), {"sqlite_with_rowid": False})

    song_id: Mapped[int] = mapped_column(
        ForeignKey("songs.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Playlist(Base):
    """A playlist of one source; ``external_id`` is unique per source."""

    __tablename__ = "playlists"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(128), nullable=False)
    name: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = _created_at()


class PlaylistItem(Base):
    """One song at one position of a playlist; order is kept by ``position``."""

    __tablename__ = "playlist_items"
    __table_args__ = (
        Index("ix_playlist_items_song_id", "song_id"),
        {"sqlite_with_rowid": False},
    )

    playlist_id: Mapped[int] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    song_id: Mapped[int] = mapped_column(ForeignKey("songs.id"), nullable=False)


class ImportRun(Base):
    """One import (file or sample) with what it added, and in ``changes`` what it changed in
    rows already present (non-zero counts of ``songs_filled``, ``songs_updated``,
    ``playlists_replaced``, ``items_replaced``, ``playlists_renamed``; migration 0008; since
    then also ``playlists_named``, ``songs_retagged``, ``song_tags_removed``, ``playlists_deleted``,
    ``items_deleted``)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    path: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    songs_added: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    playlists_added: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    items_added: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    duration_s: Mapped[float | None] = mapped_column()
    changes: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict,
                                          server_default=text("'{}'"))


class TrainingRun(Base):
    """One training run: settings, data snapshot, speed and metrics."""

    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    started_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    settings: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    data_snapshot: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    duration_s: Mapped[float | None] = mapped_column()
    words_per_sec: Mapped[float | None] = mapped_column()
    metrics: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    """A model bundle known to the registry."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = _created_at()
    training_run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id"))
    metrics: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    manifest: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)


class ModelEvent(Base):
    """History of promotions and rollbacks of the ``current`` model."""

    __tablename__ = "model_events"
    __table_args__ = (Index("ix_model_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    previous_version: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)
    actor: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class AdminSession(Base):
    """A dashboard login. The cookie carries a random token, the table its SHA-256, so logout
    and expiry end the session on every worker and a leaked table grants no session."""

    __tablename__ = "admin_sessions"
    __table_args__ = (Index("ix_admin_sessions_created_at", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), nullable=False)
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)


class LoginFailure(Base):
    """A failed dashboard login, counted per client address across every worker."""

    __tablename__ = "admin_login_failures"
    __table_args__ = (Index("ix_admin_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, nullable=False)


class Installation(Base):
    """The database's identity (one row, made by migration 0009): a random id that binds a
    model store to this database (:meth:`recsys.index.store.ModelStore.bind`)."""

    __tablename__ = "installation"
    __table_args__ = (CheckConstraint("singleton = 1", name="one_row"),)

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False,
                                           server_default=text("1"))
    installation_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = _created_at()
