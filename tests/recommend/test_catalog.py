"""SqlCatalog: the database look-ups of the cold-start fallback, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from recsys.db.models import Playlist, PlaylistItem, Song
from recsys.recommend.catalog import SqlCatalog

ARTISTS = ["Chris And Conrad", "CHRIS AND CONRAD", "chris and conrad", "Chris & Conrad",
           "Other", "", "Chris And Conrad"]
PLAYLISTS = [[1, 2, 3], [1, 2, 5], [2, 4], [1, 6]]


@pytest.fixture
def session(engine):
    with Session(engine) as s:
        s.add_all(Song(id=i, source="t", external_id=str(i), title=f"s{i}", artist=a)
                  for i, a in enumerate(ARTISTS, start=1))
        for p, songs in enumerate(PLAYLISTS, start=1):
            s.add(Playlist(id=p, source="t", external_id=str(p)))
            s.flush()
            s.add_all(PlaylistItem(playlist_id=p, position=j, song_id=song)
                      for j, song in enumerate(songs))
        s.commit()
        yield s


def test_same_artist_ignores_case(session):
    catalog = SqlCatalog(session)
    assert catalog.same_artist(["chris and CONRAD"], limit=10) == [1, 2, 3, 7]
    assert catalog.same_artist(["Chris And Conrad"], limit=10, exclude={1}) == [2, 3, 7]
    assert catalog.same_artist(["Chris And Conrad"], limit=2) == [1, 2]
    assert catalog.same_artist(["Chris & Conrad", "other"], limit=10) == [4, 5]
    assert catalog.same_artist(["", "Nobody"], limit=10) == []


def test_same_artist_stays_in_the_given_sources(session):
    session.add(Song(id=50, source="elsewhere", external_id="50", title="s50",
                     artist="Chris And Conrad"))
    session.commit()
    catalog = SqlCatalog(session)
    assert catalog.same_artist(["Chris And Conrad"], limit=10) == [1, 2, 3, 7, 50]
    assert catalog.same_artist(["Chris And Conrad"], limit=10, sources={"t"}) == [1, 2, 3, 7]
    assert catalog.same_artist(["Chris And Conrad"], limit=10, sources={"elsewhere"}) == [50]


def test_same_artist_exact_non_ascii_name_always_matches(session):
    session.add(Song(id=20, source="t", external_id="20", title="x", artist="Édith Piaf"))
    session.commit()
    assert SqlCatalog(session).same_artist(["Édith Piaf"], limit=5) == [20]


def test_cooccurring_counts_playlists_and_excludes(session):
    catalog = SqlCatalog(session)
    # song 1 shares playlists 1, 2, 4 with: 2 (twice), 3, 5, 6 (once each)
    assert catalog.cooccurring([1], limit=10) == [(2, 2), (3, 1), (5, 1), (6, 1)]
    assert catalog.cooccurring([1], limit=2, exclude={2}) == [(3, 1), (5, 1)]
    # several seeds: playlists holding any of them, seeds themselves never returned
    assert catalog.cooccurring([1, 4], limit=10) == [(2, 3), (3, 1), (5, 1), (6, 1)]
    assert catalog.cooccurring([], limit=10) == []


def test_cooccurring_counts_only_the_newest_seed_playlists(session, monkeypatch):
    from recsys.recommend import catalog as catalog_mod

    monkeypatch.setattr(catalog_mod, "MAX_SEED_PLAYLISTS", 1)
    # song 1's newest playlist is 4 ([1, 6]); song 2's is 3 ([2, 4])
    assert SqlCatalog(session).cooccurring([1], limit=10) == [(6, 1)]
    # per seed: song 1's playlist 4 and song 2's playlist 3 ([2, 4]; 2 is a seed)
    assert SqlCatalog(session).cooccurring([1, 2], limit=10) == [(4, 1), (6, 1)]
    monkeypatch.setattr(catalog_mod, "MAX_SEED_PLAYLISTS", 2)
    assert SqlCatalog(session).cooccurring([2], limit=10) == [(1, 1), (4, 1), (5, 1)]


def test_songs_returns_only_existing(session):
    found = SqlCatalog(session).songs([2, 99])
    assert list(found) == [2] and found[2]["artist"] == "CHRIS AND CONRAD"


def test_session_factory_is_called_lazily(session):
    calls = []

    def factory():
        calls.append(1)
        return session

    catalog = SqlCatalog(factory)
    assert calls == []
    assert catalog.songs([]) == {} and calls == []
    catalog.songs([1])
    catalog.songs([2])
    assert calls == [1]


def test_case_insensitive_lookup_uses_the_expression_index(session):
    """The plan of the fallback's ``lower(artist)`` search is an index search, not a scan."""
    query = "SELECT id FROM songs WHERE lower(artist) IN ('other')"
    if session.bind.dialect.name == "sqlite":
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {query}")).all()
    else:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = session.execute(text(f"EXPLAIN {query}")).all()
    assert "ix_songs_artist_lower" in " ".join(str(row) for row in plan)
