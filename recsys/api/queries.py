"""Catalog queries of the songs endpoints (portable between SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from recsys.db.models import Song, SongTag, Tag, song_sources
from recsys.db.search_key import fold


def matches(needle: str) -> ColumnElement[bool]:
    """Songs whose title or artist contains ``needle``, already folded by
    :func:`recsys.db.search_key.fold` (so ignoring case and accents), ``%``/``_`` literal.

    A plain ``search_key LIKE '%needle%'`` (migration 0007): SQLite runs it in C for any
    needle, PostgreSQL serves it from the trigram index on ``search_key`` when it has one.
    A folded needle never holds the key's separator, so it cannot match across the end of
    the title into the artist.
    """
    return Song.search_key.contains(needle, autoescape=True)


def search_songs(session: Session, q: str | None, source: str | None,
                 external_id: str | None, limit: int, offset: int
                 ) -> tuple[list[dict[str, Any]], int]:
    """One page of songs matching the filters (ordered by id) and the total count.

    ``q`` is a substring of the title or the artist, ignoring case and accents ("beyonce"
    finds "Beyoncé"; :mod:`recsys.db.search_key`) and runs of whitespace; ``%`` and ``_``
    match literally. A ``q`` of only spaces filters nothing; one that folds to nothing (only
    combining accents) matches nothing.
    """
    conditions = []
    if q and q.strip():
        needle = fold(q)
        conditions.append(matches(needle) if needle else false())
    if source is not None:
        conditions.append(Song.source == source)
    if external_id is not None:
        conditions.append(Song.external_id == external_id)
        if source is None:  # searched in the (source, external_id) index once per source,
            sources = list(session.scalars(song_sources()))  # not by reading every song
            conditions.append(Song.source.in_(sources))
    total = session.scalar(select(func.count()).select_from(Song).where(*conditions)) or 0
    rows = session.scalars(
        select(Song).where(*conditions).order_by(Song.id).limit(limit).offset(offset))
    return [song.to_dict() for song in rows], int(total)


def song_detail(session: Session, song_id: int) -> dict[str, Any] | None:
    """A song with its tags (sorted) and ``available`` (false: never recommended), or None
    when the id is unknown."""
    song = session.get(Song, song_id)
    if song is None:
        return None
    tags = session.scalars(
        select(Tag.name).join(SongTag, SongTag.tag_id == Tag.id)
        .where(SongTag.song_id == song_id).order_by(Tag.name))
    return {**song.to_dict(), "tags": list(tags), "available": song.available}
