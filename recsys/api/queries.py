"""Catalog queries of the songs endpoints (portable between SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from recsys.db.models import Song, SongTag, Tag


def search_songs(session: Session, q: str | None, source: str | None,
                 external_id: str | None, limit: int, offset: int
                 ) -> tuple[list[dict[str, Any]], int]:
    """One page of songs matching the filters (ordered by id) and the total count.

    ``q`` is a case-insensitive substring of the title or the artist. ``lower()`` folds
    ASCII on SQLite and every letter on PostgreSQL; ``%`` and ``_`` in ``q`` match literally.
    """
    conditions = []
    if q:
        needle = q.lower()
        conditions.append(or_(
            func.lower(Song.title).contains(needle, autoescape=True),
            func.lower(Song.artist).contains(needle, autoescape=True),
        ))
    if source is not None:
        conditions.append(Song.source == source)
    if external_id is not None:
        conditions.append(Song.external_id == external_id)
    total = session.scalar(select(func.count()).select_from(Song).where(*conditions)) or 0
    rows = session.scalars(
        select(Song).where(*conditions).order_by(Song.id).limit(limit).offset(offset))
    return [song.to_dict() for song in rows], int(total)


def song_detail(session: Session, song_id: int) -> dict[str, Any] | None:
    """A song with its tags (sorted), or None when the id is unknown."""
    song = session.get(Song, song_id)
    if song is None:
        return None
    tags = session.scalars(
        select(Tag.name).join(SongTag, SongTag.tag_id == Tag.id)
        .where(SongTag.song_id == song_id).order_by(Tag.name))
    return {**song.to_dict(), "tags": list(tags)}
