"""The real Yes.com data (``yes_dir``): exact counts, idempotence, hand-checked rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from recsys.db.session import make_engine
from recsys.ingest import import_yes
from recsys.ingest.yes import parse_yes_dir
from tests.ingest.conftest import counts

pytestmark = pytest.mark.slow


def _scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_yes_big_counts_and_idempotent(engine, yes_dir):
    """On SQLite and PostgreSQL: a dry run counts everything and leaves every table empty
    (the bulk paths included), then exact counts, and a second import changes nothing."""
    preview = import_yes(engine, yes_dir / "yes_big", "yes_big", progress=False, dry_run=True)
    assert set(counts(engine).values()) == {0}
    result = import_yes(engine, yes_dir / "yes_big", "yes_big", progress=False)
    assert [(preview.songs_added, preview.items_added, preview.tags_added,
             preview.song_tags_added)] == [(result.songs_added, result.items_added,
                                            result.tags_added, result.song_tags_added)]
    assert (result.songs_added, result.playlists_added, result.items_added) == (
        9_775, 14_559, 153_293)
    c = counts(engine)
    assert (c["songs"], c["playlists"], c["playlist_items"]) == (9_775, 14_559, 153_293)
    # SOURCE.md: 2,415 of the 9,775 songs are '#' (no tag); all others are linked
    assert _scalar(engine, "SELECT COUNT(DISTINCT song_id) FROM song_tags") == 9_775 - 2_415
    assert _scalar(engine, "SELECT COUNT(*) FROM songs WHERE title LIKE '%\\/%' ESCAPE '!' "
                   "OR artist LIKE '%\\/%' ESCAPE '!'") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM songs WHERE title LIKE '%/%' "
                   "OR artist LIKE '%/%'") >= 708
    again = import_yes(engine, yes_dir / "yes_big", "yes_big", progress=False)
    assert (again.songs_added, again.playlists_added, again.items_added) == (0, 0, 0)
    assert again.song_tags_added == 0 and again.tags_added == 0
    assert counts(engine) == {**c, "import_runs": 2}


def test_yes_small_counts_and_rows(sqlite_url, yes_dir):
    engine = make_engine(sqlite_url)
    import_yes(engine, yes_dir / "yes_small", "yes_small", progress=False)
    c = counts(engine)
    assert (c["songs"], c["playlists"], c["playlist_items"]) == (3_168, 41_480, 175_911)
    assert _scalar(engine, "SELECT COUNT(DISTINCT song_id) FROM song_tags") == 3_168 - 564
    with engine.connect() as conn:
        first = conn.execute(text(
            "SELECT s.external_id FROM playlist_items i JOIN playlists p ON p.id = i.playlist_id "
            "JOIN songs s ON s.id = i.song_id WHERE p.source = 'yes_small' "
            "AND p.external_id = :e ORDER BY i.position"), {"e": "0"}).scalars().all()
        second = conn.execute(text(
            "SELECT s.external_id FROM playlist_items i JOIN playlists p ON p.id = i.playlist_id "
            "JOIN songs s ON s.id = i.song_id WHERE p.external_id = '1' ORDER BY i.position"
        )).scalars().all()
        song0 = conn.execute(text(
            "SELECT title, artist FROM songs WHERE external_id = '0'")).one()
        singles = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT playlist_id FROM playlist_items "
            "GROUP BY playlist_id HAVING COUNT(*) = 1) t")).scalar_one()
    assert first == [str(i) for i in range(9)]  # line 3 of train.txt: "0 1 2 3 4 5 6 7 8 "
    assert second == ["9", "10", "11"]
    assert tuple(song0) == ("Gucci Time (w/ Swizz Beatz)", "Gucci Mane")
    assert singles == 16_726  # SOURCE.md: single-song playlists
    import_yes(engine, yes_dir / "yes_small", "yes_small", progress=False)
    assert counts(engine) == {**c, "import_runs": 2}
    engine.dispose()


def test_yes_complete_has_songs_and_tags_only(yes_dir):
    catalog = parse_yes_dir(yes_dir / "yes_complete", "yes_complete")
    assert len(catalog.songs) == 75_262 and catalog.playlists == []
    assert sum(1 for s in catalog.songs.values() if not s.tags) == 31_569
    assert catalog.songs["0"].title == "Gucci Time (w/ Swizz Beatz)"  # "0 \t" quirk
    assert "no train.txt" in catalog.notes[0]
