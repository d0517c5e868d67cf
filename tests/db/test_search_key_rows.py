"""``songs.search_key`` follows the title and artist written through the model, on SQLite and
PostgreSQL: ORM and Core inserts (the column default), ORM changes (at flush)."""

from __future__ import annotations

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from recsys.api.queries import search_songs
from recsys.db.models import Song
from recsys.db.search_key import song_search_key


def _keys(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, search_key FROM songs")).all())


def _found(session: Session, q: str) -> list[int]:
    return [s["id"] for s in search_songs(session, q, None, None, 20, 0)[0]]


def test_orm_and_core_inserts_compute_the_key(engine):
    with Session(engine) as session, session.begin():
        session.add(Song(id=1, source="s", external_id="1", title="Halo", artist="Beyoncé"))
        session.add(Song(id=2, source="s", external_id="2", title="Jóga"))  # artist default
    with engine.begin() as conn:
        conn.execute(insert(Song.__table__), [
            {"id": 3, "source": "s", "external_id": "3", "title": "Eple",
             "artist": "Røyksopp"},
            {"id": 4, "source": "s", "external_id": "4", "title": "Straße", "artist": ""}])
        conn.execute(insert(Song.__table__).values(id=5, source="s", external_id="5",
                                                   artist="Sigur Rós"))  # title default
    assert _keys(engine) == {1: song_search_key("Halo", "Beyoncé"), 2: "joga\x1f",
                             3: "eple\x1froyksopp", 4: "strasse\x1f", 5: "\x1fsigur ros"}


def test_changing_a_title_or_artist_through_the_orm_updates_the_key(engine):
    with Session(engine) as session, session.begin():
        session.add(Song(id=1, source="s", external_id="1", title="Halo", artist="Beyonce"))
    with Session(engine) as session:
        song = session.get(Song, 1)
        song.title = "Crazy in Love"
        session.commit()
        assert _found(session, "crazy") == [1] and _found(session, "halo") == []
        session.get(Song, 1).artist = "Beyoncé feat. Jay-Z"
        session.commit()
        assert _found(session, "beyonce feat") == [1]
    assert _keys(engine) == {1: "crazy in love\x1fbeyonce feat. jay-z"}


def test_other_changes_leave_the_key_alone(engine):
    """Hiding a song (``available``) issues no key update: the listener only looks at the
    title and the artist."""
    with Session(engine) as session, session.begin():
        session.add(Song(id=1, source="s", external_id="1", title="Halo", artist="Beyoncé"))
    with engine.begin() as conn:  # a stale key shows whether a later flush rewrites it
        conn.execute(text("UPDATE songs SET search_key = 'stale' WHERE id = 1"))
    with Session(engine) as session, session.begin():
        session.get(Song, 1).available = False
    assert _keys(engine) == {1: "stale"}
    with Session(engine) as session, session.begin():
        song = session.scalars(select(Song)).one()
        song.title = song.title  # set, but not changed
    assert _keys(engine) == {1: "stale"}
