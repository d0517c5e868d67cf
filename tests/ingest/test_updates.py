"""Re-sent songs and playlists (on SQLite and PostgreSQL): an import fills in a song's empty
title or artist (never overwriting or blanking one); with ``update`` the file's titles,
artists, playlist items and names replace the stored ones of the rows it names, in the
import's one transaction, idempotently, leaving rows it does not name and hidden flags alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from recsys.api.queries import search_songs
from recsys.db.search_key import song_search_key
from recsys.ingest import IngestError, bulkload, import_csv, import_jsonl, updates, writer
from recsys.jobs.data import load_playlists

HEADER = "playlist_id,position,song_id,title,artist,tags,playlist_name\n"
BASE = HEADER + (
    "road-trip,0,s1,Highway Song,The Drivers,rock,Road trip\n"
    "road-trip,1,s2,Engines,,rock,Road trip\n"      # no artist yet
    "road-trip,2,s3,,Blue Horizon,,Road trip\n"     # no title yet
    "lazy,0,s4,Slow Coffee,Mellow Trio,jazz,\n"
    "lazy,1,s5,Cafe,Mellow Trio,,\n"
    "solo,0,s6,Only Song,Single Act,,Solo\n"
)


def _csv(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _songs(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, title, artist, available, search_key "
                                 "FROM songs ORDER BY id"))
        return {ext: (title, artist, bool(available), key)
                for ext, title, artist, available, key in rows}


def _playlists(engine) -> dict[str, tuple]:
    """external id -> (database id, name, [(position, song external id), ...])."""
    with engine.connect() as conn:
        heads = conn.execute(text("SELECT id, external_id, name FROM playlists")).all()
        items = conn.execute(text(
            "SELECT i.playlist_id, i.position, s.external_id FROM playlist_items i "
            "JOIN songs s ON s.id = i.song_id ORDER BY i.playlist_id, i.position")).all()
    out = {ext: (pid, name, []) for pid, ext, name in heads}
    by_id = {pid: ext for pid, ext, _name in heads}
    for pid, position, song in items:
        out[by_id[pid]][2].append((position, song))
    return out


def _state(engine) -> tuple:
    """Everything an import may change, import_runs aside."""
    with engine.connect() as conn:
        tags = conn.execute(text("SELECT s.external_id, t.name FROM song_tags st JOIN songs s "
                                 "ON s.id = st.song_id JOIN tags t ON t.id = st.tag_id "
                                 "ORDER BY 1, 2")).all()
    return _songs(engine), _playlists(engine), [tuple(t) for t in tags]


def _found(engine, q: str) -> list[str]:
    with Session(engine) as session:
        return [s["external_id"] for s in search_songs(session, q, None, None, 20, 0)[0]]


@pytest.fixture
def base(engine, tmp_path):
    result = import_csv(engine, _csv(tmp_path, "base.csv", BASE), progress=False)
    assert result.songs_added == 6 and result.playlists_added == 3
    return engine


def test_default_fills_in_empty_titles_and_artists_only(base, tmp_path):
    path = _csv(tmp_path, "fill.csv", HEADER + (
        "road-trip,0,s1,Highway Song (Remastered),,,\n"   # another title: kept
        "road-trip,1,s2,,The Drivers,,\n"                 # the missing artist: filled in
        "road-trip,2,s3,Open Sky,,,\n"                    # the missing title: filled in
        "lazy,0,s4,,,,\n"                                 # empty: never blanks a value
        "lazy,1,s5,Cafe,Mellow Trio,,\n"))
    before = _songs(base)
    result = import_csv(base, path, progress=False)
    songs = _songs(base)
    assert songs["s2"][:2] == ("Engines", "The Drivers")
    assert songs["s3"][:2] == ("Open Sky", "Blue Horizon")
    assert songs["s3"][3] == song_search_key("Open Sky", "Blue Horizon")
    assert {k: v for k, v in songs.items() if k not in ("s2", "s3")} == \
        {k: v for k, v in before.items() if k not in ("s2", "s3")}
    assert (result.songs_filled, result.songs_updated) == (2, 0)
    summary = result.summary()
    assert "2 songs' missing titles/artists filled in ('s2', 's3')" in summary
    assert ("1 song(s) already in the database have another title or artist in this file "
            "('s1'): the database keeps its values (import with --update") in summary
    assert _found(base, "open sky") == ["s3"] and _found(base, "remastered") == []
    again = import_csv(base, path, progress=False)
    assert again.songs_filled == 0 and _songs(base) == songs


def test_without_update_playlists_and_names_are_kept(base, tmp_path):
    before = _state(base)
    path = _csv(tmp_path, "edit.csv", HEADER + (
        "lazy,0,s5,,,,Lazy Sunday\n"   # other order; a missing name
        "lazy,1,s4,,,,\n"
        "solo,0,s6,,,,Alone\n"))       # another name
    result = import_csv(base, path, progress=False)
    playlists = _playlists(base)
    assert playlists["lazy"][2] == before[1]["lazy"][2]  # items kept
    assert playlists["lazy"][1] == "Lazy Sunday"  # a missing name is filled in
    assert playlists["solo"][1] == "Solo"
    assert result.playlists_replaced == 0 and result.playlists_renamed == 0
    assert result.playlists_named == 1 and result.changes() == {"playlists_named": 1}
    summary = result.summary()
    assert ("1 playlist(s) already in the database have other songs in this file ('lazy'): "
            "the database keeps its version (import with --update") in summary
    assert "1 playlist(s) already in the database have another name in this file ('solo')" \
        in summary
    assert "1 playlists' missing names filled in ('lazy')" in summary


EDITED = HEADER + (
    "road-trip,0,s3,Open Sky,,,Road trip (2024)\n"        # reordered, renamed
    "road-trip,1,s1,Highway Song (Remastered),,,\n"       # re-titled
    "road-trip,2,s7,New Arrival,Fresh Band,pop,\n"        # a new song; s2 left out
    "lazy,0,s4,Slow Coffee,Mellow Trio,,\n"               # unchanged
    "lazy,1,s5,Café,Mellow Quartet,,\n"                   # re-titled and another artist
    "new-one,0,s6,,,,\n"
)


def test_update_applies_the_file_to_the_rows_it_names(base, tmp_path):
    with base.begin() as conn:  # an operator hid s1 and s5: they stay hidden
        conn.execute(text("UPDATE songs SET available = false WHERE external_id IN "
                          "('s1', 's5')"))
    before = _playlists(base)
    result = import_csv(base, _csv(tmp_path, "edited.csv", EDITED), progress=False,
                        update=True)
    songs = _songs(base)
    assert songs["s1"] == ("Highway Song (Remastered)", "The Drivers", False,
                           song_search_key("Highway Song (Remastered)", "The Drivers"))
    assert songs["s5"] == ("Café", "Mellow Quartet", False,
                           song_search_key("Café", "Mellow Quartet"))
    assert songs["s3"][:3] == ("Open Sky", "Blue Horizon", True)  # filled in
    assert songs["s2"][:3] == ("Engines", "", True)  # not named with a title: untouched
    assert _found(base, "highway song (remastered)") == ["s1"]
    assert _found(base, "mellow quartet") == ["s5"] and _found(base, "cafe") == ["s5"]
    assert _found(base, "mellow trio") == ["s4"]
    playlists = _playlists(base)
    pid, name, items = playlists["road-trip"]
    assert pid == before["road-trip"][0] and name == "Road trip (2024)"
    assert items == [(0, "s3"), (1, "s1"), (2, "s7")]  # exactly the file's, positions 0..n-1
    assert playlists["lazy"] == before["lazy"]
    assert playlists["solo"] == before["solo"]  # not in the file: untouched
    assert playlists["new-one"][2] == [(0, "s6")]
    assert (result.songs_added, result.playlists_added, result.items_added) == (1, 1, 1)
    assert (result.songs_filled, result.songs_updated) == (1, 2)
    assert (result.playlists_replaced, result.items_replaced, result.playlists_renamed) == \
        (1, 3, 1)
    summary = result.summary()
    assert "2 songs updated (title/artist from the file: 's1', 's5')" in summary
    assert "1 playlists replaced (items from the file: 'road-trip'; 3 items written)" in summary
    assert "1 playlists renamed ('road-trip')" in summary
    assert "already in the database have" not in summary
    with base.connect() as conn:  # the run records what was added
        run = conn.execute(text("SELECT songs_added, playlists_added, items_added FROM "
                                "import_runs ORDER BY id DESC")).first()
    assert tuple(run) == (1, 1, 1)
    # training reads the new contents
    ids = {ext: sid for ext, sid in _ids(base)}
    assert [ids["s3"], ids["s1"], ids["s7"]] in load_playlists(base, part="all")


def _ids(engine):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT external_id, id FROM songs"))]


@pytest.mark.parametrize("load", [import_csv, import_jsonl])
def test_update_twice_changes_nothing_the_second_time(base, tmp_path, load):
    path = _csv(tmp_path, "edited.csv", EDITED)
    if load is import_jsonl:  # the same rows as JSON lines
        import csv
        import json
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        path = _csv(tmp_path, "edited.jsonl", "".join(
            json.dumps({**r, "position": int(r["position"])}, ensure_ascii=False) + "\n"
            for r in rows))
    load(base, path, progress=False, update=True)
    after = _state(base)
    again = load(base, path, progress=False, update=True)
    assert _state(base) == after
    assert (again.songs_added, again.playlists_added, again.items_added) == (0, 0, 0)
    assert (again.songs_filled, again.songs_updated, again.playlists_replaced,
            again.playlists_renamed) == (0, 0, 0, 0)
    assert "updated" not in again.summary() and "replaced" not in again.summary()


def test_playlists_grow_shrink_and_swap_songs(base, tmp_path):
    path = _csv(tmp_path, "lengths.csv", HEADER + (
        "road-trip,0,s1,,,,\n"                        # 3 items -> 1
        "lazy,0,s4,,,,\nlazy,1,s5,,,,\nlazy,2,s4,,,,\nlazy,3,s6,,,,\n"   # 2 -> 4
        "solo,0,s2,,,,\n"))                           # same length, another song
    result = import_csv(base, path, progress=False, update=True)
    playlists = _playlists(base)
    assert playlists["road-trip"][2] == [(0, "s1")]
    assert playlists["lazy"][2] == [(0, "s4"), (1, "s5"), (2, "s4"), (3, "s6")]
    assert playlists["solo"][2] == [(0, "s2")]
    assert result.playlists_replaced == 3 and result.items_replaced == 6
    assert result.playlists_renamed == 0  # no names in the file: names kept
    assert playlists["road-trip"][1] == "Road trip" and playlists["solo"][1] == "Solo"


@pytest.mark.parametrize("bulk", [False, True])
def test_update_in_small_chunks_and_bulk_paths(base, tmp_path, monkeypatch, bulk):
    """Chunked reads and deletes (a few ids per query), and the bulk-load paths (PostgreSQL
    drops and re-adds the foreign keys, SQLite re-builds the indexes) give the same rows."""
    monkeypatch.setattr(updates, "SQLITE_CHUNK", 2)
    monkeypatch.setattr(updates, "PG_CHUNK", 2)
    if bulk:
        monkeypatch.setattr(bulkload, "MIN_ROWS", 1)
        monkeypatch.setattr(bulkload, "MIN_FRACTION", 0.0)
        monkeypatch.setattr(bulkload, "SQLITE_MIN_ROWS", 1)
    rows = [f"p{n},{i},s{(n + i) % 6 + 1},T{(n + i) % 6 + 1}x,,,\n"
            for n in range(5) for i in range(3)]
    import_csv(base, _csv(tmp_path, "more.csv", HEADER + "".join(rows)), progress=False)
    rows = [f"p{n},{i},s{(n * 2 + i) % 6 + 1},,Z,,\n" for n in range(5) for i in range(2)]
    result = import_csv(base, _csv(tmp_path, "edit.csv", HEADER + "".join(rows)),
                        progress=False, update=True)
    playlists = _playlists(base)
    for n in range(5):
        assert playlists[f"p{n}"][2] == [(i, f"s{(n * 2 + i) % 6 + 1}") for i in range(2)]
    assert result.playlists_replaced == 5
    assert (result.songs_updated, result.songs_filled) == (5, 1)  # s2 had no artist
    assert {artist for _t, artist, _a, _k in _songs(base).values()} == {"Z"}
    assert playlists["solo"][2] == [(0, "s6")]


def test_a_bad_row_later_in_the_file_changes_nothing(base, tmp_path):
    before = _state(base)
    path = _csv(tmp_path, "bad.csv", EDITED + "late,0,s1,,,,\nlate,2,s2,,,,\n")
    with pytest.raises(IngestError, match="bad.csv:9: position gap"):
        import_csv(base, path, progress=False, update=True)
    assert _state(base) == before


def test_a_crash_mid_write_rolls_the_updates_back(base, tmp_path, monkeypatch):
    """The songs are updated and the old items deleted before the items are written: a
    failure there leaves every row as it was."""
    before = _state(base)
    real = writer.bulk_insert_runs

    def dies(conn, table, *args, **kwargs):
        if table == "playlist_items":
            raise OSError("connection lost mid-import")
        return real(conn, table, *args, **kwargs)

    monkeypatch.setattr(writer, "bulk_insert_runs", dies)
    with pytest.raises(OSError, match="mid-import"):
        import_csv(base, _csv(tmp_path, "edited.csv", EDITED), progress=False, update=True)
    assert _state(base) == before
    monkeypatch.setattr(writer, "bulk_insert_runs", real)
    result = import_csv(base, tmp_path / "edited.csv", progress=False, update=True)
    assert result.songs_updated == 2 and result.playlists_replaced == 1


OTHER_SQL = ("SELECT s.external_id, s.title, s.artist, p.external_id, p.name, i.position "
             "FROM songs s JOIN playlist_items i ON i.song_id = s.id "
             "JOIN playlists p ON p.id = i.playlist_id WHERE s.source = 'other' ORDER BY 4, 6")


def test_other_sources_are_never_touched(base, tmp_path):
    """Rows are matched by (source, external id): the same ids in another source stay."""
    import_csv(base, _csv(tmp_path, "other.csv", BASE), "other", progress=False)
    with base.connect() as conn:
        other = conn.execute(text(OTHER_SQL)).all()
    result = import_csv(base, _csv(tmp_path, "edited.csv", EDITED), progress=False,
                        update=True)
    assert result.songs_updated == 2 and result.playlists_replaced == 1
    with base.connect() as conn:
        assert conn.execute(text(OTHER_SQL)).all() == other


def _tags(engine) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for song, tag in _state(engine)[2]:
        out.setdefault(song, []).append(tag)
    return out


RETAGGED = HEADER + (
    "road-trip,0,s1,,,pop|driving,\n"   # rock -> pop, driving
    "road-trip,1,s2,,,rock,\n"          # the same tag: nothing to do
    "road-trip,2,s3,,,,\n"              # no tags in the file: keeps its own (none)
    "lazy,0,s4,,,,\n"                   # keeps jazz
    "lazy,1,s5,,,chill,\n"              # had none: gains chill
)


def test_tags_are_added_without_update(base, tmp_path):
    result = import_csv(base, _csv(tmp_path, "tags.csv", RETAGGED), progress=False)
    assert _tags(base) == {"s1": ["driving", "pop", "rock"], "s2": ["rock"], "s4": ["jazz"],
                           "s5": ["chill"]}
    assert result.song_tags_removed == 0 and "tags replaced" not in result.summary()


def test_update_gives_a_song_exactly_the_file_s_tags(base, tmp_path):
    path = _csv(tmp_path, "tags.csv", RETAGGED)
    result = import_csv(base, path, progress=False, update=True)
    assert _tags(base) == {"s1": ["driving", "pop"], "s2": ["rock"], "s4": ["jazz"],
                           "s5": ["chill"]}
    assert (result.song_tags_added, result.song_tags_removed) == (3, 1)
    assert "1 songs' tags replaced by the file's ('s1'; 1 tag links removed)" \
        in result.summary()
    assert result.changes()["song_tags_removed"] == 1 and result.changes()["songs_retagged"] == 1
    again = import_csv(base, path, progress=False, update=True)
    assert (again.song_tags_added, again.song_tags_removed) == (0, 0)
    assert _tags(base)["s1"] == ["driving", "pop"]
