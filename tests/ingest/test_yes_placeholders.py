"""Yes.com placeholder songs are imported unavailable (``songs.available``), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from recsys.ingest import import_yes
from recsys.ingest.yes import is_placeholder, parse_song_hash
from tests.ingest.conftest import FIXTURES, counts

PLACEHOLDERS = FIXTURES / "yes_placeholders"


@pytest.mark.parametrize(("title", "artist", "expected"), [
    ("MG_DELETED", "-", True), ("MG_DELETED", "Someone", True), ("-", "-", True),
    ("", "", True), ("-", "", True), ("", "-", True),
    ("", "Boney James", False), ("-", "Band", False), ("Song", "-", False),
    ("Song", "", False), ("mg_deleted", "-", False), ("Song", "Band", False),
])
def test_what_is_a_placeholder(title, artist, expected):
    assert is_placeholder(title, artist) is expected


def test_import_marks_placeholders_unavailable(engine):
    result = import_yes(engine, PLACEHOLDERS, "ph", progress=False)
    assert (result.songs_added, result.playlists_added, result.items_added) == (8, 12, 40)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT external_id, title, artist, available FROM songs ORDER BY id")).all()
        hidden = conn.execute(text("SELECT s.external_id FROM songs s WHERE NOT s.available "
                                   "ORDER BY s.id")).scalars().all()
        played = conn.execute(text(
            "SELECT COUNT(*) FROM playlist_items i JOIN songs s ON s.id = i.song_id "
            "WHERE NOT s.available")).scalar_one()
    assert [bool(r.available) for r in rows] == [True, True, False, False, True, False, True,
                                                  True]
    assert hidden == ["2", "3", "5"]  # MG_DELETED, "-"/"-", ""/""; "" by Band C stays
    assert rows[6].title == "" and rows[6].artist == "Band C"
    assert played == 15  # their plays are kept: 8 + 7 (training signal)
    again = import_yes(engine, PLACEHOLDERS, "ph", progress=False)  # idempotent
    assert again.songs_added == 0 and counts(engine)["songs"] == 8


def test_new_songs_default_to_available(engine, fixtures):
    from recsys.ingest import import_csv

    import_csv(engine, fixtures / "playlists.csv", "custom", progress=False)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM songs WHERE NOT available")
                            ).scalar_one() == 0


@pytest.mark.slow
def test_real_yes_big_placeholders(yes_dir):
    songs = parse_song_hash(yes_dir / "yes_big" / "song_hash.txt")
    hidden = {int(s.external_id): (s.title, s.artist) for s in songs if not s.available}
    assert len(songs) == 9775 and len(hidden) == 36
    assert hidden[9633] == ("MG_DELETED", "-")
    assert sum(v == ("-", "-") for v in hidden.values()) == 35
